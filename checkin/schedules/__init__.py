"""Meeting schedules and reminder plans: what is due to be sent, and when.

The public face of this part (other parts import only these names):
occurrences / next_meeting read meetings; set_schedule, cancel_occurrence, move_occurrence,
get_plan, set_plan, get_templates, set_templates write them (a group's texts too); plan_sends is
the pure planner; preview lists what it will send.

Names resolve lazily: checkin.models imports this package's models while it is itself being
imported, and the service layer needs checkin.models complete.
"""

from importlib import import_module

_EXPORTS = {
    "Occurrence": "recurrence",
    "Plan": "plan",
    "PlanError": "plan",
    "load_config": "plan",
    "PlannedSend": "planning",
    "plan_sends": "planning",
    "cancel_occurrence": "service",
    "find_occurrence": "service",
    "get_plan": "service",
    "get_schedule": "service",
    "move_occurrence": "service",
    "next_meeting": "service",
    "occurrences": "service",
    "preview": "service",
    "night_sends": "service",
    "set_plan": "service",
    "set_schedule": "service",
    "get_templates": "service",
    "stored_text_problems": "service",
    "set_templates": "service",
    "group_config": "service",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f"checkin.schedules.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'checkin.schedules' has no attribute {name!r}")

"""Meeting schedules and reminder plans: what is due to be sent, and when.

The public face of this part (other parts import only these names):
occurrences / next_meeting read meetings; set_schedule, cancel_occurrence, move_occurrence,
get_plan, set_plan write them; plan_sends is the pure planner; preview lists what it will send.
"""

from checkin.schedules.occurrences import Occurrence
from checkin.schedules.plan import Plan, PlanError, load_config
from checkin.schedules.planning import PlannedSend, plan_sends
from checkin.schedules.service import (
    cancel_occurrence, find_occurrence, get_plan, get_schedule, move_occurrence, next_meeting, occurrences, preview,
    set_plan, set_schedule,
)

__all__ = [
    "Occurrence", "Plan", "PlanError", "PlannedSend", "cancel_occurrence", "find_occurrence", "get_plan", "get_schedule",
    "load_config", "move_occurrence", "next_meeting", "occurrences", "plan_sends", "preview", "set_plan", "set_schedule",
]

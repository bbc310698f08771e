"""The planner's texts as the plan page shows them, with SMS length from the server's own counter."""

from __future__ import annotations

from checkin import schedules
from checkin.templates import segments  # noqa: F401  (the page's JS counter mirrors this function)

# Which texts each kind of send uses, in the order the page lists them.
LABELS = {
    "reminder": "Meeting reminder",
    "cancelled": "Meeting cancelled",
    "moved": "Meeting moved",
    "prompt": "Check-in prompt",
    "nudge": "Nudge (prompt not answered)",
    "where_address": "Where: address (fills {where})",
    "where_dial_in": "Where: dial-in (fills {where})",
}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def template_sets() -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """[(language, language name, [(key, label, text)])] from config/plan.toml."""
    config = schedules.load_config()
    return [(lang, LANGUAGE_NAMES.get(lang, lang), [(key, LABELS.get(key, key), table[key]) for key in LABELS if key in table])
            for lang, table in config.templates.items()]

"""The group's texts as the plan page shows and edits them, with SMS length from the server's own counter."""

from __future__ import annotations

from dataclasses import dataclass

from checkin.schedules.plan import LANGUAGE_NAMES, TEMPLATE_FIELDS, PlanConfig, sample_values
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


@dataclass(frozen=True)
class TextField:
    name: str  # the form field: "en.reminder"
    id: str  # "en-reminder", for ids on the page
    key: str
    label: str
    text: str  # as the textarea shows it: in effect, or as typed when the form came back with an error
    default: str  # config/plan.toml's
    changed: bool  # the group's own text is in effect
    back_to_default: bool  # the "back to the default" box is ticked
    placeholders: list[str]


@dataclass(frozen=True)
class LanguageTexts:
    language: str
    name: str
    samples: dict  # what the page's counter fills placeholders with, as the server measures them
    fields: list[TextField]


def field_name(language: str, key: str) -> str:
    return f"{language}.{key}"


def text_sets(effective: PlanConfig, defaults: PlanConfig, group_name: str, form=None) -> list[LanguageTexts]:
    """Every editable text, per language, prefilled with the text in effect (or the coordinator's own
    typing from `form`, when a save was refused)."""
    reset = set(form.getlist("default")) if form is not None else set()
    out = []
    for lang, table in effective.templates.items():
        fields = []
        for key, label in LABELS.items():
            name = field_name(lang, key)
            text = form.get(name, table[key]) if form is not None else table[key]
            fields.append(
                TextField(
                    name,
                    f"{lang}-{key}",
                    key,
                    label,
                    text,
                    defaults.templates[lang][key],
                    table[key] != defaults.templates[lang][key],
                    name in reset,
                    [f"{{{p}}}" for p in sorted(TEMPLATE_FIELDS[key])],
                )
            )
        out.append(
            LanguageTexts(
                lang, LANGUAGE_NAMES.get(lang, lang), sample_values(effective, lang, group_name)[0], fields
            )
        )
    return out


def changes(form) -> dict[str, dict[str, str | None]]:
    """The form's texts for checkin.schedules.set_templates; a ticked "back to the default" box is None.
    A text the form did not send is left as it is."""
    reset = set(form.getlist("default"))
    out: dict[str, dict[str, str | None]] = {}
    for lang in LANGUAGE_NAMES:
        for key in LABELS:
            name = field_name(lang, key)
            if name in reset:
                out.setdefault(lang, {})[key] = None
            elif name in form:
                out.setdefault(lang, {})[key] = form[name]
    return out

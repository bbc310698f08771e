"""The group's texts as the plan page shows and edits them, with SMS length from the server's own counter."""

from __future__ import annotations

import re
from dataclasses import dataclass

from checkin.schedules.plan import LANGUAGE_NAMES, TEMPLATE_FIELDS, PlanConfig, sample_values
from checkin.templates import segments
from webhooks.console import words

# Which texts each kind of send uses, in the order the page lists them.
LABELS = {
    "reminder": "Meeting reminder",
    "cancelled": "Meeting cancelled",
    "moved": "Meeting moved",
    "prompt": "Check-in prompt",
    "nudge": "Nudge (prompt not answered)",
    "where_address": "Where, for a meeting at an address",
    "where_dial_in": "Where, for a meeting by phone",
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
    chips: list[tuple[str, str]]  # (placeholder as typed, its name): the buttons that insert it
    example: str  # the text as a member would read it, with the sample values that make it longest
    allowed: str  # the placeholders it may use, space-separated (the page fills only those)


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def example(text: str, samples: dict, allowed: set[str] | None = None) -> str:
    """The text with sample values, as segments.js renders it: {{ and }} as braces, a placeholder the
    text cannot use (not in `allowed`) left as typed: saving refuses it, naming it, and a filled-in
    example would show it working."""

    def fill(match: re.Match) -> str:
        whole, name = match.group(0), match.group(1)
        if whole in ("{{", "}}"):
            return whole[0]
        usable = name in samples and (allowed is None or name in allowed)
        return str(samples[name]) if usable else whole

    return _PLACEHOLDER.sub(fill, text or "")


def longest_example(text: str, sets: list[dict], allowed: set[str]) -> str:
    """The example with whichever set of sample values makes it longest, as the save check measures
    every set and the page's counter shows the longest (segments.js)."""
    filled = [example(text, values, allowed) for values in sets] or [text]
    return max(filled, key=lambda out: (segments(out)[2], segments(out)[1]))


@dataclass(frozen=True)
class LanguageTexts:
    language: str
    name: str
    samples: list[dict]  # every set the server measures with; the page's counter shows the longest
    fields: list[TextField]


# "Meeting day and time" inserts what it says: {when} alone is only "tomorrow, " (or nothing).
DAY_AND_TIME = {"en": "{when}{date} at {time}", "es": "{when}{date}, {time}"}


def chips(language: str, fields: set[str]) -> list[tuple[str, str]]:
    """The buttons under a text: (what it inserts, its name), the whole meeting day and time first."""
    out = []
    if {"when", "date", "time"} <= fields:
        out.append((DAY_AND_TIME.get(language, DAY_AND_TIME["en"]), "Meeting day and time"))
    return out + [(f"{{{p}}}", words.placeholder_name(p)) for p in sorted(fields)]


def field_name(language: str, key: str) -> str:
    return f"{language}.{key}"


def field_id(language: str, key: str) -> str:
    """The text's id on the page ("en-reminder"; its box is "t-en-reminder")."""
    return f"{language}-{key}"


def text_sets(effective: PlanConfig, defaults: PlanConfig, group_name: str, form=None) -> list[LanguageTexts]:
    """Every editable text, per language, prefilled with the text in effect (or the coordinator's own
    typing from `form`, when a save was refused)."""
    reset = set(form.getlist("default")) if form is not None else set()
    out = []
    for lang, table in effective.templates.items():
        samples = sample_values(effective, lang, group_name)
        fields = []
        for key, label in LABELS.items():
            name = field_name(lang, key)
            text = form.get(name, table[key]) if form is not None else table[key]
            fields.append(
                TextField(
                    name,
                    field_id(lang, key),
                    key,
                    label,
                    text,
                    defaults.templates[lang][key],
                    table[key] != defaults.templates[lang][key],
                    name in reset,
                    [f"{{{p}}}" for p in sorted(TEMPLATE_FIELDS[key])],
                    chips(lang, TEMPLATE_FIELDS[key]),
                    longest_example(text.strip(), samples, TEMPLATE_FIELDS[key]),
                    " ".join(sorted(TEMPLATE_FIELDS[key])),
                )
            )
        out.append(LanguageTexts(lang, LANGUAGE_NAMES.get(lang, lang), samples, fields))
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

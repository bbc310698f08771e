"""The reminder plan: defaults and texts from config/plan.toml, per-group overrides and texts, validated.

A malformed file is refused naming the file and the key, so an operator learns of a typo at
start-up rather than from a member texted at 3 a.m.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime

from checkin.errors import ValidationError
from checkin.templates import length_problem, samples_for
from config import CONFIG_DIR

DEFAULT_PATH = CONFIG_DIR / "plan.toml"
LANGUAGES = ("en", "es")
KINDS = ("reminder", "prompt", "nudge", "change")
TEMPLATE_FIELDS = {
    "reminder": {"group", "when", "date", "time", "weekday", "where"},
    "cancelled": {"group", "date", "time", "weekday"},
    "moved": {"group", "date", "time", "weekday", "new_date", "new_time", "where"},
    "prompt": {"name", "group"},
    "nudge": {"name", "group"},
    "where_address": {"address"},
    "where_dial_in": {"dial_in"},
}
# How a coordinator's error names a template: "Spanish meeting reminder: ...".
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
TEMPLATE_NAMES = {  # as the console's plan page labels them
    "reminder": "meeting reminder",
    "cancelled": "meeting cancelled",
    "moved": "meeting moved",
    "prompt": "check-in prompt",
    "nudge": "nudge",
    "where_address": "address line",
    "where_dial_in": "dial-in line",
}
# Dates and times for members: a CLDR locale (its day and month names) and CLDR patterns (Babel).
FORMAT_KEYS = ("locale", "date", "time", "today", "tomorrow")
# Optional: the date after {when} ("today, " / "tomorrow, ") where the full one would not fit, such as
# Spanish "mañana, 8 de diciembre" for "martes 8 de diciembre" (the weekday said by "mañana" already).
NEAR_DATE = "near_date"


class PlanError(ValueError):
    """A plan value is not acceptable; the message names the key."""


class TemplateTextError(PlanError, ValidationError):
    """A group's own text is not acceptable; says which one in words, and keeps which (for the form)."""

    def __init__(self, language: str, key: str, reason: str):
        super().__init__(f"{template_name(language, key)}: {reason}")
        self.language, self.key = language, key
        self.all: list[TemplateTextError] = [self]  # with parse_group_templates: every text refused


def template_name(language: str, key: str) -> str:
    return f"{LANGUAGE_NAMES.get(language, language)} {TEMPLATE_NAMES.get(key, key)}"


@dataclass(frozen=True)
class Plan:
    reminder_offsets_minutes: tuple[int, ...]
    prompt_days_after: int
    prompt_time: time
    nudge_after_hours: float
    quiet_start: time
    quiet_end: time
    prompt_stale_hours: float
    live_exchange_minutes: int
    change_notice_days: int
    # How soon a facilitator reads a member's free text in the inbox, as the automatic reply promises;
    # 0: nobody reads them (the reply gives the group's number and 988 instead).
    inbox_answer_hours: float = 24

    @property
    def offsets(self) -> tuple[timedelta, ...]:
        """Reminder offsets, largest first."""
        return tuple(timedelta(minutes=m) for m in self.reminder_offsets_minutes)

    @property
    def lookback(self) -> timedelta:
        """How far back a send can have been due and still be worth sending (the tick's window)."""
        longest = max(self.reminder_offsets_minutes, default=0) / 60
        return timedelta(hours=max(longest, self.prompt_stale_hours, self.nudge_after_hours) + 24)

    def as_config(self) -> dict:
        """The plan as config/plan.toml spells it (times as HH:MM, offsets as a list)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, time):
                out[key] = value.strftime("%H:%M")
            elif isinstance(value, tuple):
                out[key] = list(value)
        return out


PLAN_KEYS = tuple(f.name for f in fields(Plan))


def _hhmm(key: str, value) -> time:
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise PlanError(f"{key}: must be a time of day as HH:MM, e.g. 10:00")
    hours, minutes = (int(p) for p in value.strip().split(":"))
    if hours > 23 or minutes > 59:
        raise PlanError(f"{key}: must be a time of day as HH:MM, e.g. 10:00")
    return time(hours, minutes)


def _number(key: str, value, low: float, high: float, whole: bool = False):
    if isinstance(value, str):
        try:
            value = float(value) if "." in value else int(value)
        except ValueError:
            pass
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not low <= value <= high
        or (whole and value != int(value))
    ):
        kind = "a whole number" if whole else "a number"
        raise PlanError(f"{key}: must be {kind} from {low:g} to {high:g}")
    return int(value) if whole else float(value)


def _offsets(key: str, value) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
    if not isinstance(value, list):
        raise PlanError(f"{key}: must be a list of minutes before the meeting, e.g. [1440, 120]")
    offsets = [_number(key, v, 1, 60 * 24 * 14, whole=True) for v in value]
    if len(set(offsets)) != len(offsets):
        raise PlanError(f"{key}: must not repeat an offset")
    return tuple(sorted(offsets, reverse=True))


_PARSERS = {
    "reminder_offsets_minutes": _offsets,
    "prompt_days_after": lambda k, v: _number(k, v, 0, 6, whole=True),
    "prompt_time": _hhmm,
    "nudge_after_hours": lambda k, v: _number(k, v, 0, 144),
    "quiet_start": _hhmm,
    "quiet_end": _hhmm,
    "prompt_stale_hours": lambda k, v: _number(k, v, 0.5, 72),
    "live_exchange_minutes": lambda k, v: _number(k, v, 0, 120, whole=True),
    "change_notice_days": lambda k, v: _number(k, v, 1, 60, whole=True),
    "inbox_answer_hours": lambda k, v: _number(k, v, 0, 168),
}


def parse_plan(raw: dict, base: Plan | None = None, prefix: str = "") -> Plan:
    """A Plan from config-style values; keys absent from `raw` come from `base` (required if no base)."""
    if not isinstance(raw, dict):
        raise PlanError(f"{prefix.rstrip('.') or 'plan'}: must be a table")
    unknown = sorted(set(raw) - set(PLAN_KEYS))
    if unknown:
        raise PlanError(f"{prefix}{unknown[0]}: unknown key (expected one of {', '.join(PLAN_KEYS)})")
    values = {}
    for key in PLAN_KEYS:
        if key in raw:
            values[key] = _PARSERS[key](prefix + key, raw[key])
        elif base is None:
            raise PlanError(f"{prefix}{key}: is required")
    plan = replace(base, **values) if base else Plan(**values)
    if plan.quiet_start >= plan.quiet_end:
        raise PlanError(f"{prefix}quiet_end: must be later than quiet_start ({plan.quiet_start:%H:%M})")
    return plan


@dataclass(frozen=True)
class PlanConfig:
    defaults: Plan
    formats: dict[str, dict]
    templates: dict[str, dict[str, str]]

    def template(self, language: str, key: str) -> str:
        return self.templates.get(language, {}).get(key) or self.templates["en"][key]

    def format(self, language: str) -> dict:
        return self.formats.get(language) or self.formats["en"]

    def with_templates(self, overrides: dict[str, dict[str, str]] | None) -> PlanConfig:
        """This config with a group's own texts laid over the file's (the same object if it has none)."""
        if not overrides:
            return self
        return replace(
            self,
            templates={lang: {**table, **overrides.get(lang, {})} for lang, table in self.templates.items()},
        )


def _template_problem(text, allowed: set[str]) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "must be a non-empty string"
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(text)
            if name is not None
        ]
    except ValueError as exc:
        return str(exc)
    # "{time:d}" would fail only when rendered, skipping every send of the group: refuse it now.
    shaped = [(name, spec, conv) for name, spec, conv in fields if spec or conv]
    if shaped:
        name, spec, conv = shaped[0]
        return (
            f"write {{{name}}} alone, not {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
        )
    names = {name for name, _, _ in fields}
    bad = sorted(n for n in names if n not in allowed)
    if bad:
        return f"unknown placeholder {{{bad[0]}}} (allowed: {', '.join(f'{{{a}}}' for a in sorted(allowed))})"
    return None


# Every planned text says how to stop, in words the keywords honour (checkin/keywords.py): the
# fragments {where} is made of are part of another text and need not.
STOP_WORDS = {"en": ("STOP",), "es": ("BAJA", "STOP")}
STOP_EXAMPLE = {"en": "Reply STOP to stop.", "es": "BAJA para parar."}
FRAGMENTS = frozenset({"where_address", "where_dial_in"})


def stop_problem(language: str, key: str, text) -> str | None:
    """Why a group's text breaks the rule that it says how to stop, or None."""
    if key in FRAGMENTS or not isinstance(text, str):
        return None
    words = STOP_WORDS.get(language, STOP_WORDS["en"])
    if any(re.search(rf"\b{w}\b", text) for w in words):
        return None
    example = STOP_EXAMPLE.get(language, STOP_EXAMPLE["en"])
    return f"must say how to stop the texts: add “{example}”"


def text_problem(language: str, key: str, text) -> str | None:
    """Why a group's own text cannot be sent (a placeholder, no way to stop: every reason at once, so
    that fixing one does not reveal the next), or None."""
    shape = _template_problem(text, TEMPLATE_FIELDS[key])
    if not isinstance(text, str) or not text.strip():
        return shape  # an empty text: that alone
    found = [p for p in (shape, stop_problem(language, key, text)) if p]
    return "; and it ".join(found) if found else None


def _check_template(key: str, text, allowed: set[str]) -> str:
    problem = _template_problem(text, allowed)
    if problem:
        raise PlanError(f"{key}: {problem}")
    return text


def check_template_name(language, key) -> None:
    """Refuse a language or template name the plan does not have, naming what it does."""
    if language not in LANGUAGES:
        raise PlanError(f"unknown language {language!r} (expected {', '.join(LANGUAGES)})")
    if key not in TEMPLATE_FIELDS:
        raise PlanError(
            f"{LANGUAGE_NAMES[language]} texts: unknown template {key!r} (expected {', '.join(TEMPLATE_FIELDS)})"
        )


def usable_templates(raw) -> dict[str, dict[str, str]]:
    """The stored group texts the planner can send (placeholders it knows, a way to stop; see
    parse_group_templates): a text stored before a rule, or edited outside the app, that breaks one is
    left out, so its members get the file's text instead."""
    if not isinstance(raw, dict):
        return {}
    return {
        lang: {
            key: text
            for key, text in table.items()
            if key in TEMPLATE_FIELDS and text_problem(lang, key, text) is None
        }
        for lang, table in raw.items()
        if lang in LANGUAGES and isinstance(table, dict)
    }


def stored_problems(raw) -> list[TemplateTextError]:
    """Each stored group text the planner leaves out (usable_templates), with why: for the page that
    shows the texts, which marks each at its box."""
    if not isinstance(raw, dict):
        return []
    return [
        TemplateTextError(lang, key, problem)
        for lang, table in raw.items()
        if lang in LANGUAGES and isinstance(table, dict)
        for key, text in table.items()
        if key in TEMPLATE_FIELDS and (problem := text_problem(lang, key, text))
    ]


def parse_group_templates(raw: dict, config: PlanConfig, group_name: str = "") -> dict[str, dict[str, str]]:
    """A group's own texts, validated: known placeholders only, a way to stop, and at most two SMS segments once
    rendered with the start-up check's realistic values (and the group's own name, if longer).
    Raises TemplateTextError naming the language and template in words; its `all` lists every text
    that is not acceptable (the first is the error itself), so a form can mark each one at once."""
    if not isinstance(raw, dict):
        raise PlanError("templates: must be a table of languages")
    problems: dict[tuple[str, str], TemplateTextError] = {}
    for lang, table in raw.items():
        if not isinstance(table, dict):
            raise PlanError(f"templates.{lang}: must be a table of texts")
        for key, text in table.items():
            check_template_name(lang, key)
            problem = text_problem(lang, key, text)
            if problem:
                problems[lang, key] = TemplateTextError(lang, key, problem)
    # The lengths of the texts that render (one that cannot is measured as the file's, or not at all).
    renders = {
        lang: {k: t for k, t in table.items() if (lang, k) not in problems} for lang, table in raw.items()
    }
    effective = config.with_templates(renders)
    for lang, table in renders.items():
        # A new place line lengthens the texts that include it, even those left as the file has them.
        keys = set(table) | (
            {k for k, f in TEMPLATE_FIELDS.items() if "where" in f}
            if {"where_address", "where_dial_in"} & set(table)
            else set()
        )
        for key in (k for k in TEMPLATE_FIELDS if k in keys and (lang, k) not in problems):
            for samples in sample_values(effective, lang, group_name):
                problem = length_problem(effective.template(lang, key), samples)
                if problem:
                    problems[lang, key] = TemplateTextError(lang, key, problem)
                    break
    if problems:
        first, *_ = problems.values()
        first.all = list(problems.values())
        raise first
    return {lang: dict(table) for lang, table in raw.items() if table}


def sample_values(config: PlanConfig, language: str, group_name: str = "") -> list[dict]:
    """Realistic values to measure a group's text with (the start-up check's, and the group's own name
    when longer): one set per place line, since {where} is whichever applies; the longer first; for
    Spanish, the accented set too (checkin.templates.samples_for)."""
    out = []
    near = config.format(language).get(NEAR_DATE)
    for base in samples_for(language):
        group = max(base["group"], group_name, key=len)
        wheres = [
            config.template(language, "where_address").format(address=base["address"]),
            config.template(language, "where_dial_in").format(dial_in=base["dial_in"]),
        ]
        # "tomorrow, " in the language's own words, before the full date, or (with a near date) before
        # the near date, the full one then going alone: measure each way a reminder can be worded.
        tomorrow = config.format(language)["tomorrow"]
        dated = (
            [{**base, "when": ""}, {**base, "when": tomorrow, "date": _near_sample(config, language, near)}]
            if near
            else [{**base, "when": tomorrow}]
        )
        out += [
            {**values, "group": group, "where": where}
            for values in dated
            for where in sorted(wheres, key=len, reverse=True)
        ]
    return out


# The day the sample values name ("miércoles 30 de septiembre": a two-digit day, the longest month).
_SAMPLE_DAY = datetime(2026, 9, 30, 22, 30, tzinfo=UTC)


def _near_sample(config: PlanConfig, language: str, pattern: str) -> str:
    return format_datetime(_SAMPLE_DAY, pattern, tzinfo=UTC, locale=config.format(language)["locale"])


def _parse_format(lang: str, fmt) -> dict:
    """[format.<lang>]: a CLDR locale Babel knows and date/time patterns that render; named if not."""
    if not isinstance(fmt, dict):
        raise PlanError(f"format.{lang}: must be a table")
    unknown = sorted(set(fmt) - {*FORMAT_KEYS, NEAR_DATE})
    if unknown:
        raise PlanError(
            f"format.{lang}.{unknown[0]}: unknown key (expected {', '.join(FORMAT_KEYS)}, or {NEAR_DATE})"
        )
    if NEAR_DATE in fmt and (not isinstance(fmt[NEAR_DATE], str) or not fmt[NEAR_DATE].strip()):
        raise PlanError(f"format.{lang}.{NEAR_DATE}: must be a date pattern")
    for key in FORMAT_KEYS:
        if not isinstance(fmt.get(key), str) or (key not in ("today", "tomorrow") and not fmt[key].strip()):
            raise PlanError(f"format.{lang}.{key}: must be a string")
    try:
        locale = Locale.parse(fmt["locale"])
    except (ValueError, TypeError, UnknownLocaleError):
        raise PlanError(f"format.{lang}.locale: unknown locale {fmt['locale']!r} (e.g. en_US, es)") from None
    for key in ("date", "time", NEAR_DATE):
        if key not in fmt:
            continue
        try:
            format_datetime(datetime(2026, 12, 8, 18, 30, tzinfo=UTC), fmt[key], tzinfo=UTC, locale=locale)
        except (ValueError, KeyError, AttributeError) as exc:
            raise PlanError(f"format.{lang}.{key}: not a date pattern ({exc})") from None
    return dict(fmt)


def parse_config(raw: dict) -> PlanConfig:
    unknown = sorted(set(raw) - {"defaults", "format", "templates"})
    if unknown:
        raise PlanError(f"{unknown[0]}: unknown table (expected defaults, format, templates)")
    defaults = parse_plan(raw.get("defaults", {}), prefix="defaults.")
    formats, templates = {}, {}
    for lang in LANGUAGES:
        fmt = raw.get("format", {}).get(lang)
        if fmt is None:
            raise PlanError(f"format.{lang}: is required")
        formats[lang] = _parse_format(lang, fmt)
        table = raw.get("templates", {}).get(lang)
        if table is None:
            raise PlanError(f"templates.{lang}: is required")
        extra = sorted(set(table) - set(TEMPLATE_FIELDS))
        if extra:
            raise PlanError(
                f"templates.{lang}.{extra[0]}: unknown template (expected {', '.join(TEMPLATE_FIELDS)})"
            )
        templates[lang] = {}
        for key, allowed in TEMPLATE_FIELDS.items():
            if key not in table:
                raise PlanError(f"templates.{lang}.{key}: is required")
            templates[lang][key] = _check_template(f"templates.{lang}.{key}", table[key], allowed)
    return PlanConfig(defaults, formats, templates)


@lru_cache(maxsize=4)
def load_config(path: Path = DEFAULT_PATH) -> PlanConfig:
    """Read and validate the plan file. Raises PlanError naming the file and the key."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise PlanError(f"{path}: cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: not valid TOML ({exc})") from None
    try:
        return parse_config(raw)
    except PlanError as exc:
        raise PlanError(f"{path.name}: {exc}") from None

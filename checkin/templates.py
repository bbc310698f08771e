"""Message templates from config/, rendered in the member's language, and checked for SMS length.

An SMS is 160 GSM-7 characters (153 per part once split) or, as soon as one character is outside
GSM-7, 70 UCS-2 characters (67 per part). A carrier bills and may deliver each part separately, so
every template must fit two parts with realistic values, and a reminder one part where it can.
"""

from __future__ import annotations

import math
import string
import tomllib
from functools import lru_cache
from pathlib import Path

from config import CONFIG_DIR

# GSM 03.38 default alphabet, and its extension table (each of those costs an escape + the char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
MAX_SEGMENTS = 2

# Realistic values for every placeholder a template may use (here and in config/plan.toml): long-ish
# but ordinary.
_ADDRESS = "Grace Community Church, 1250 Massachusetts Ave NW, Room 204"
SAMPLE_VALUES = {
    "name": "Maximiliano",
    "score": 5,
    "day": "Wed, Dec 30",
    "time": "10:30 pm EST",
    "place": f", at {_ADDRESS}",
    "group": "Tuesday Evening Peer Support",
    "number": "+12025550123",
    "when": "tomorrow, ",
    "date": "Wed, Dec 30",
    "weekday": "Wednesday",
    "where": f", at {_ADDRESS}",
    "new_date": "Thu, Dec 31",
    "new_time": "10:30 pm",
    "address": _ADDRESS,
    "dial_in": "+12025550123",
    "within": "24 hours",
}
# A Spanish text is measured with Spanish dates and times (the longest checkin.schedules.texts writes:
# "miércoles 30 de septiembre", "10:30 p. m."), and again with accented values: one á, í, ó or ú in a
# name or a place turns the whole text into UCS-2 (70 characters a segment, 67 once split), so a
# reminder that fits with plain values can grow to three segments for Ángela Muñoz at the Iglesia
# San José (a church hall: where many groups meet, and longer than a café's name).
SAMPLE_VALUES_ES = {
    **SAMPLE_VALUES,
    "day": "miércoles 30 de septiembre",
    "time": "10:30 p. m. EST",
    "place": f", en {_ADDRESS}",
    # Spanish says "mañana, " only before the shorter date without the weekday (config/plan.toml
    # [format.es] near_date), so the longest {when}{date} is the full date alone; the planner's texts
    # are measured both ways (checkin.schedules.plan.sample_values).
    "when": "",
    "date": "miércoles 30 de septiembre",
    "weekday": "miércoles",
    "where": f", en {_ADDRESS}",
    "new_date": "miércoles 30 de septiembre",
    "new_time": "10:30 p. m.",
    "within": "24 horas",
}
_LUGAR = "Iglesia San José, Salón 3"
SAMPLE_VALUES_ACCENTED = {
    **SAMPLE_VALUES_ES,
    "name": "Ángela Muñoz",
    "place": f", en {_LUGAR}",
    "group": "Apoyo Mutuo de los Miércoles",
    "where": f", en {_LUGAR}",
    "address": _LUGAR,
}
_SAMPLES = {"es": (SAMPLE_VALUES_ES, SAMPLE_VALUES_ACCENTED)}


def samples_for(language: str) -> tuple[dict, ...]:
    """Every set of sample values a template in `language` must fit with (English's for any other)."""
    return _SAMPLES.get(language, (SAMPLE_VALUES,))


class TemplateError(Exception):
    """A template that is missing a value or too long; names the template key and language."""


@lru_cache(maxsize=4)
def load(path: Path = CONFIG_DIR / "messages.toml") -> dict[str, dict[str, str]]:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def render(key: str, language: str = "en", **values) -> str:
    table = load()
    template = table.get(language, {}).get(key) or table["en"][key]
    return template.format(**values)


def segments(text: str) -> tuple[str, int, int]:
    """(encoding, characters as the network counts them, segments) for one SMS body."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        encoding, chars = "GSM-7", sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    else:
        # UCS-2 is really UTF-16 on the wire: a character outside the BMP (an emoji) takes two units.
        encoding, chars = "UCS-2", len(text.encode("utf-16-le")) // 2
    single, part = LIMITS[encoding]
    return encoding, chars, (1 if chars <= single else math.ceil(chars / part))


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def check_table(
    table: dict[str, dict[str, str]],
    *,
    source: str = "messages.toml",
    samples: dict | None = None,
    max_segments: int = MAX_SEGMENTS,
) -> list[str]:
    """Every template rendered with realistic values, as problems: "source [lang] key: why"."""
    problems = []
    for language, templates in table.items():
        for key, template in templates.items():
            for base in samples_for(language):
                problem = length_problem(template, {**base, **(samples or {})}, max_segments)
                if problem:
                    problems.append(f"{source} [{language}] {key}: {problem}")
                    break
    return problems


def length_problem(
    template: str, samples: dict | None = None, max_segments: int = MAX_SEGMENTS
) -> str | None:
    """Why one template does not fit `max_segments` rendered with realistic values, or None if it fits."""
    samples = {**SAMPLE_VALUES, **(samples or {})}
    missing = placeholders(template) - samples.keys()
    if missing:
        return f"no sample value for {{{', '.join(sorted(missing))}}}"
    encoding, chars, count = segments(template.format(**samples))
    if count > max_segments:
        problem = f"{count} SMS segments ({chars} {encoding} characters with sample values); at most {max_segments} allowed"
        if (
            encoding == "UCS-2"
            and segments(template.format(**dict.fromkeys(placeholders(template), "")))[0] == "GSM-7"
        ):
            accented = [
                str(v)
                for k, v in samples.items()
                if k in placeholders(template) and segments(str(v))[0] == "UCS-2"
            ]
            problem += f" (the accents in {' and '.join(repr(v) for v in accented[:2])} make it UCS-2: 70 characters a segment)"
        return problem
    return None


def check_lengths(path: Path = CONFIG_DIR / "messages.toml", *, more: dict[str, dict] | None = None) -> None:
    """Start-up check: raise TemplateError naming every template (key and language) that does not fit.
    `more` adds other template tables by source name (the planner's, from config/plan.toml)."""
    problems = check_table(load(path), source=path.name)
    for source, table in (more or {}).items():
        problems += check_table(table, source=source)
    if problems:
        raise TemplateError("message templates too long or incomplete:\n  " + "\n  ".join(problems))

"""Time zones as people name them: a city ("Chicago", "new york", "São Paulo") or the IANA name
("America/Chicago"), resolved to the IANA name the service stores.

Abbreviations such as EST or CST are refused: they name no place and hide daylight saving (EST is
always UTC-5, so a group set to it would meet an hour off all summer), so the error suggests the
city form instead. A name that matches nothing gets the nearest one or two as a suggestion.
"""

from __future__ import annotations

import difflib
import unicodedata
from functools import lru_cache
from zoneinfo import available_timezones

from checkin.errors import ValidationError

REGIONS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")

# What people type for a US clock, and the city form that keeps daylight saving right. The region words
# (REGION_WORDS) are not abbreviations, and are not called so: they name a band of zones, not a place.
ABBREVIATIONS = {
    "est": "America/New_York",
    "edt": "America/New_York",
    "et": "America/New_York",
    "eastern": "America/New_York",
    "est5edt": "America/New_York",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "ct": "America/Chicago",
    "central": "America/Chicago",
    "cst6cdt": "America/Chicago",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "mt": "America/Denver",
    "mountain": "America/Denver",
    "mst7mdt": "America/Denver",
    "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "pacific": "America/Los_Angeles",
    "pst8pdt": "America/Los_Angeles",
    "akst": "America/Anchorage",
    "akdt": "America/Anchorage",
    "hst": "Pacific/Honolulu",
    "ast": "America/Puerto_Rico",
}
REGION_WORDS = frozenset({"eastern", "central", "mountain", "pacific"})


def _fold(text: str) -> str:
    """Lower case, no accents, spaces for underscores: "São_Paulo" and "sao paulo" fold alike."""
    text = unicodedata.normalize("NFKD", text.strip().replace("_", " "))
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).lower().split())


def city(zone: str) -> str:
    """'America/Argentina/Buenos_Aires' -> 'Buenos Aires'; 'UTC' stays 'UTC'."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


@lru_cache(maxsize=1)
def choices() -> tuple[tuple[str, str], ...]:
    """(IANA name, city) for the picker: the zones of places (no links such as US/Eastern or
    legacy names such as EST5EDT), by city, with UTC last."""
    zones = [z for z in available_timezones() if z.split("/", 1)[0] in REGIONS and "/" in z]
    return (*sorted(((z, city(z)) for z in zones), key=lambda zc: (zc[1], zc[0])), ("UTC", "UTC"))


def as_typed(zone: str) -> str:
    """What a person would type for `zone`, as a form shows it: its city ("New York"), or the IANA name
    for a city that names two zones (or for text that is no zone: shown as it was typed)."""
    if "/" not in zone:
        return zone
    by_name, by_city = _index()
    if by_name.get(_fold(zone)) != zone:
        return zone
    name = city(zone)  # as resolve() reads it back: a zone's own name ("Singapore") comes first
    return name if by_name.get(_fold(name), by_city.get(_fold(name))) == zone else zone


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], dict[str, str]]:
    by_name = {_fold(z): z for z in available_timezones()}
    by_city: dict[str, str] = {}
    for zone, name in choices():
        by_city.setdefault(_fold(name), zone)  # a city in two regions (rare) resolves to the first
    return by_name, by_city


def resolve(raw: str | None, what: str = "time zone") -> str:
    """The IANA name for what a person typed, or ValidationError naming a suggestion."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(f"{what}: type a city such as Chicago, or a name such as America/Chicago")
    folded = _fold(text)
    if folded in ABBREVIATIONS:
        zone = ABBREVIATIONS[folded]
        why = (
            "it names a band of time zones, not a place, and places in it differ on summer time"
            if folded in REGION_WORDS
            else "an abbreviation names no place, and may not follow summer time"
        )
        raise ValidationError(
            f"{what}: {text!r} is ambiguous ({why}); did you mean {as_typed(zone)}? Choose a time zone by its city"
        )
    by_name, by_city = _index()
    if folded in by_name:
        return by_name[folded]
    if folded in by_city:
        return by_city[folded]
    near = difflib.get_close_matches(folded, list(by_city), n=1, cutoff=0.75) or difflib.get_close_matches(
        folded, list(by_name), n=1, cutoff=0.75
    )
    if near:
        zone = by_city.get(near[0]) or by_name[near[0]]
        raise ValidationError(f"{what}: {text!r} is not a time zone we know; did you mean {as_typed(zone)}?")
    raise ValidationError(
        f"{what}: {text!r} is not a time zone we know; type the nearest large city, such as Chicago or Denver"
    )

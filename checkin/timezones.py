"""Time zones as people name them: a city ("Chicago", "new york", "São Paulo") or the IANA name
("America/Chicago"), resolved to the IANA name the service stores.

Abbreviations such as EST, CST or ACT are refused: they name no place and hide daylight saving (EST is
always UTC-5, so a group set to it would meet an hour off all summer), so the error suggests the IANA
name ("America/New_York") and its city instead. So are IANA's old aliases without a region (CET, NZ,
Japan): they are kept in the database only for old software. Such an alias typed in full ("Australia/ACT",
"US/Eastern") is stored as the zone it stands for ("Australia/Sydney"); an alias that is a place's name
("Europe/Oslo", an alias of Berlin's zone) stays that place's. A name that matches nothing gets the nearest one as a suggestion.
"""

from __future__ import annotations

import difflib
import importlib.resources
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from zoneinfo import TZPATH, available_timezones

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

# Large US cities that name no IANA zone (IANA names one city per zone), with the zone they keep. A city that
# two states share with different clocks (Portland, Birmingham, Washington the state or the capital) is
# left out: a guess there would be silently an hour or three off. "San Juan" is Puerto Rico's, not
# Argentina's San Juan, for a service whose numbers are American.
_EASTERN = (
    "atlanta", "baltimore", "boston", "brooklyn", "buffalo", "charlotte", "cincinnati", "cleveland",
    "columbus", "hartford", "jacksonville", "miami", "new york city", "newark", "nyc", "orlando",
    "philadelphia", "pittsburgh", "providence", "raleigh", "richmond", "tampa", "washington dc",
    "washington d c", "virginia beach",
)  # fmt: skip
_CENTRAL = (
    "austin", "dallas", "fort worth", "houston", "kansas city", "little rock", "madison", "memphis",
    "milwaukee", "minneapolis", "nashville", "new orleans", "oklahoma city", "omaha", "saint louis",
    "saint paul", "san antonio", "st louis", "st. louis", "st paul", "st. paul", "tulsa", "des moines",
)  # fmt: skip
_MOUNTAIN = ("albuquerque", "colorado springs", "el paso", "salt lake city")
_ARIZONA = ("mesa", "scottsdale", "tempe", "tucson")
_PACIFIC = (
    "fresno", "las vegas", "oakland", "sacramento", "san diego", "san francisco", "san jose", "seattle",
    "spokane", "tacoma",
)  # fmt: skip
US_CITIES = {
    **dict.fromkeys(_EASTERN, "America/New_York"),
    **dict.fromkeys(_CENTRAL, "America/Chicago"),
    **dict.fromkeys(_MOUNTAIN, "America/Denver"),
    **dict.fromkeys(_ARIZONA, "America/Phoenix"),
    **dict.fromkeys(_PACIFIC, "America/Los_Angeles"),
    "san juan": "America/Puerto_Rico",
    "portland or": "America/Los_Angeles",
    "portland oregon": "America/Los_Angeles",
    "portland me": "America/New_York",
    "portland maine": "America/New_York",
}
# A name two places share on different clocks: refused, naming both, rather than guessed.
TWO_PLACES = {
    "washington": "Washington, DC keeps New York time and Washington state Los Angeles time: "
    "type Washington DC, or Seattle",
    "portland": "Portland, Oregon keeps Los Angeles time and Portland, Maine New York time: "
    "type Portland OR, or Portland ME",
}
# "Chicago, IL", "Denver CO", "Phoenix, Arizona": the state after the city is read past.
_STATES = ["al", "ak", "az", "ar", "ca", "co", "ct", "de", "dc", "fl", "ga", "hi", "id", "il", "in", "ia", "ks", "ky", "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny", "nc", "nd", "oh", "ok", "or", "pa", "pr", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv", "wi", "wy", "usa", "us"] + [
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware",
    "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky",
    "louisiana", "maine", "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri",
    "montana", "nebraska", "nevada", "new hampshire", "new jersey", "new mexico", "new york",
    "north carolina", "north dakota", "ohio", "oklahoma", "oregon", "pennsylvania", "puerto rico",
    "rhode island", "south carolina", "south dakota", "tennessee", "texas", "utah", "vermont", "virginia",
    "washington", "west virginia", "wisconsin", "wyoming",
]  # fmt: skip
_STATE_AFTER = re.compile(
    rf"^(.+?)[\s,]+(?:{'|'.join(sorted(map(re.escape, _STATES), key=len, reverse=True))})$"
)


def _fold(text: str) -> str:
    """Lower case, no accents, spaces for underscores: "São_Paulo" and "sao paulo" fold alike."""
    text = unicodedata.normalize("NFKD", text.strip().replace("_", " "))
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).lower().split())


_ETC_OFFSET = re.compile(r"^Etc/GMT([+-])(\d{1,2})$")


def city(zone: str) -> str:
    """'America/Argentina/Buenos_Aires' -> 'Buenos Aires'; 'UTC' stays 'UTC'; 'Etc/GMT+5' -> 'UTC-5' (the
    POSIX sign of the Etc names is the reverse of the offset people mean)."""
    if fixed := _ETC_OFFSET.match(zone):
        return f"UTC{'-' if fixed.group(1) == '+' else '+'}{fixed.group(2)}"
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def _tzdata_text() -> str:
    """The time zone database's source (tzdata.zi: its zones and links), from the tzdata package when
    installed (icalendar requires it) or the system's copy, where zoneinfo finds the zones themselves."""
    try:
        return importlib.resources.files("tzdata").joinpath("zoneinfo/tzdata.zi").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        for base in TZPATH:
            if (path := Path(base) / "tzdata.zi").is_file():
                return path.read_text("utf-8")
    return ""


@lru_cache(maxsize=1)
def links() -> dict[str, str]:
    """IANA's aliases ("Australia/ACT", "US/Eastern", "CET") -> the zone each stands for."""
    found = {}
    for line in _tzdata_text().splitlines():
        if line.startswith("L "):
            _l, target, name = line.split()[:3]
            found[name] = target
    return found


# Old names of regions, not places: "Australia/North" is Darwin's zone only by IANA's history.
_NOT_PLACES = frozenset({"north", "south", "east", "west"})


def _abbreviated(name: str) -> bool:
    return re.fullmatch(r"[A-Z]{2,5}", name) is not None


def _names_a_place(zone: str) -> bool:
    """Whether an IANA name is a place's under its region: "Europe/Oslo" and "Asia/Calcutta" are (aliases
    of Berlin's and Kolkata's zones, yet what people there call their time), "Australia/ACT", "US/Eastern",
    "Australia/North" and "CET" are not."""
    region, _, last = zone.rpartition("/")
    return region.split("/", 1)[0] in REGIONS and not _abbreviated(last) and _fold(last) not in _NOT_PLACES


def canonical(zone: str) -> str:
    """The zone an alias that names no place stands for ("Australia/ACT" -> "Australia/Sydney", "US/Eastern"
    -> "America/New_York"); a place's name stays ("Europe/Oslo"), and so does UTC."""
    target = links().get(zone)
    if target is None or _names_a_place(zone) or zone == "UTC":
        return zone
    return "UTC" if target == "Etc/UTC" else target


@lru_cache(maxsize=1)
def choices() -> tuple[tuple[str, str], ...]:
    """(IANA name, city) for the picker: the zones of places (no aliases that name none, such as
    Australia/ACT or US/Eastern, nor legacy names such as EST5EDT), by city, with UTC last."""
    aliases = links()
    zones = [
        z
        for z in available_timezones()
        if "/" in z and (_names_a_place(z) if z in aliases else z.split("/", 1)[0] in REGIONS)
    ]
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
    if _fold(name) in US_CITIES:  # Argentina's San Juan: "San Juan" is Puerto Rico's
        return zone
    return name if by_name.get(_fold(name), by_city.get(_fold(name))) == zone else zone


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], dict[str, str]]:
    by_name = {_fold(z): z for z in available_timezones()}
    by_city: dict[str, str] = {}
    for zone, name in choices():
        by_city.setdefault(_fold(name), zone)  # a city in two regions (rare) resolves to the first
    return by_name, by_city


def _known(folded: str) -> str | None:
    """The zone a folded name is: an IANA name with its region (an alias as the zone it stands for), a
    zone's city, or a large US city that names no zone. A name without a region (CET, NZ, Japan) is an
    old alias, not a place: see _alias."""
    by_name, by_city = _index()
    if folded in US_CITIES and folded not in by_name:
        return US_CITIES[folded]
    zone = by_name.get(folded)
    if zone is not None and ("/" in zone or zone == "UTC"):
        return canonical(zone)
    return by_city.get(folded)


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, str]:
    """IANA's aliases that name no place, folded -> the zone each stands for: the abbreviations and
    regionless names ("act" for Australia/ACT, "nsw", "cet", "nz", "japan"), refused when typed alone."""
    by_city = _index()[1]
    refused: dict[str, str] = {}
    for name, target in links().items():
        key = _fold(name.rpartition("/")[2])
        if key not in by_city and key != "utc" and not _names_a_place(name):
            refused.setdefault(key, canonical(target))
    return refused


def _alias(text: str, folded: str) -> str | None:
    """Why `text` is refused when it is an abbreviation or an old alias (ACT, CET, Japan, AEST), naming
    the zone it stands for when IANA says so; None when it is neither."""
    target = _alias_index().get(folded)
    if target is None and not _abbreviated(text):
        return None
    if target is None or "/" not in target:
        return (
            f"{text!r} is an abbreviation, not a place, and may not follow summer time: type an IANA name "
            "such as America/New_York, or a city such as New York"
        )
    return (
        f"{text!r} is an abbreviation or an old alias, not a place, and may mean another zone than IANA's "
        f"alias for it: if you meant {city(target)}, type the IANA name {target} or the city. IANA names look "
        "like America/New_York"
    )


# "GMT+5", "UTC-03:00", "+05": a fixed offset names no place and never follows summer time, and people
# mean the opposite sign of tz's Etc/GMT+5 (five hours BEHIND Greenwich), so none is guessed. The IANA
# names Etc/GMT+5 etc., typed in full, are taken as written and shown as "UTC-5" (city()).
_OFFSET = re.compile(r"^(?:gmt|utc|z)?\s*[+-]\s*\d{1,2}(?::?\d{2})?$")
_SHOWN = 60  # what a message echoes of the typed text


def resolve(raw: str | None, what: str = "time zone") -> str:
    """The IANA name for what a person typed, or ValidationError naming a suggestion."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(f"{what}: type a city such as Chicago, or a name such as America/Chicago")
    folded = _fold(text)
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 1] + "…"  # echoed below; no zone name is this long
    if _OFFSET.match(folded.replace(" ", "")):
        raise ValidationError(
            f"{what}: {text!r} is a fixed offset from UTC, which names no place and never follows summer "
            "time; type the nearest large city, such as Chicago, or an IANA name such as America/Chicago"
        )
    if folded in ABBREVIATIONS:
        zone = ABBREVIATIONS[folded]
        why = (
            "it names a band of time zones, not a place, and places in it differ on summer time"
            if folded in REGION_WORDS
            else "an abbreviation names no place, and may not follow summer time"
        )
        raise ValidationError(
            f"{what}: {text!r} is ambiguous ({why}); did you mean {as_typed(zone)} ({zone})? Type an IANA "
            "name such as America/New_York, or a city such as New York"
        )
    plain = " ".join(folded.replace(",", " ").split())
    found = _known(folded) or _known(plain)
    if found is None and (state := _STATE_AFTER.match(plain)):
        found = _known(state.group(1))  # "Chicago, IL" is Chicago
    if found is not None:
        return found
    if plain in TWO_PLACES:
        raise ValidationError(f"{what}: {text!r} is two places: {TWO_PLACES[plain]}")
    if (why := _alias(text, folded)) is not None:
        raise ValidationError(f"{what}: {why}")
    by_name, by_city = _index()
    near = difflib.get_close_matches(folded, [*by_city, *US_CITIES], n=1, cutoff=0.75) or (
        difflib.get_close_matches(folded, list(by_name), n=1, cutoff=0.75)
    )
    if near:
        said = (
            near[0].title().replace(" Dc", " DC").replace(" Or", " OR").replace(" Me", " ME")
            if near[0] in US_CITIES
            else as_typed(by_city.get(near[0]) or by_name[near[0]])
        )
        raise ValidationError(f"{what}: {text!r} is not a time zone we know; did you mean {said}?")
    raise ValidationError(
        f"{what}: {text!r} is not a time zone we know; type the nearest large city, such as Chicago or Denver"
    )

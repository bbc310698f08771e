"""The escalation policy (config/escalation.toml), validated when loaded.

A malformed file is refused with the file and the key that is wrong, so an operator
never learns about a typo from a crisis that paged nobody.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from config import CONFIG_DIR

DEFAULT_PATH = CONFIG_DIR / "escalation.toml"
TIERS = ("primary", "backup", "coordinator")
PAGED = ("crisis", "urgent")
CHANNELS = ("sms", "voice")


class PolicyError(ValueError):
    """The policy file is malformed; the message names the key."""


@dataclass(frozen=True)
class LevelPolicy:
    levels: tuple[str, ...]
    timeout_minutes: float
    repeats: int
    channels: tuple[str, ...]


@dataclass(frozen=True)
class GroupPolicy:
    crisis: LevelPolicy
    urgent: LevelPolicy
    realert_after_ack_minutes: float
    digest_hour: int

    def for_level(self, level: str) -> LevelPolicy:
        return self.crisis if level == "crisis" else self.urgent


@dataclass(frozen=True)
class Policy:
    default: GroupPolicy
    groups: dict[str, GroupPolicy]

    def for_group(self, group_name: str | None) -> GroupPolicy:
        return self.groups.get(group_name or "", self.default)


def _level(raw, key: str, base: LevelPolicy | None) -> LevelPolicy:
    if not isinstance(raw, dict):
        raise PolicyError(f"{key}: must be a table")
    unknown = set(raw) - {"levels", "timeout_minutes", "repeats", "channels"}
    if unknown:
        raise PolicyError(
            f"{key}.{sorted(unknown)[0]}: unknown key (expected levels, timeout_minutes, repeats, channels)"
        )
    missing = [
        k for k in ("levels", "timeout_minutes", "repeats", "channels") if k not in raw and base is None
    ]
    if missing:
        raise PolicyError(f"{key}.{missing[0]}: is required")
    out = base or LevelPolicy((), 0, 0, ())
    if "levels" in raw:
        levels = raw["levels"]
        if (
            not isinstance(levels, list)
            or not levels
            or any(t not in TIERS for t in levels)
            or len(set(levels)) != len(levels)
        ):
            raise PolicyError(
                f"{key}.levels: must be a non-empty list of distinct values from {', '.join(TIERS)}"
            )
        out = replace(out, levels=tuple(levels))
    if "timeout_minutes" in raw:
        value = raw["timeout_minutes"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise PolicyError(f"{key}.timeout_minutes: must be a positive number of minutes")
        out = replace(out, timeout_minutes=float(value))
    if "repeats" in raw:
        value = raw["repeats"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
            raise PolicyError(f"{key}.repeats: must be a whole number from 0 to 10")
        out = replace(out, repeats=value)
    if "channels" in raw:
        value = raw["channels"]
        if not isinstance(value, list) or not value or any(c not in CHANNELS for c in value):
            raise PolicyError(f"{key}.channels: must be a non-empty list from {', '.join(CHANNELS)}")
        out = replace(out, channels=tuple(value))
    return out


def _group(raw, key: str, base: GroupPolicy | None) -> GroupPolicy:
    if not isinstance(raw, dict):
        raise PolicyError(f"{key}: must be a table")
    unknown = set(raw) - {"crisis", "urgent", "watch", "realert_after_ack_minutes"}
    if unknown:
        raise PolicyError(
            f"{key}.{sorted(unknown)[0]}: unknown key (expected crisis, urgent, watch, realert_after_ack_minutes)"
        )
    if base is None:
        for needed in ("crisis", "urgent"):
            if needed not in raw:
                raise PolicyError(f"{key}.{needed}: is required")
    crisis = (
        _level(raw["crisis"], f"{key}.crisis", base.crisis if base else None)
        if "crisis" in raw
        else base.crisis
    )
    urgent = (
        _level(raw["urgent"], f"{key}.urgent", base.urgent if base else None)
        if "urgent" in raw
        else base.urgent
    )
    realert = base.realert_after_ack_minutes if base else 30.0
    if "realert_after_ack_minutes" in raw:
        value = raw["realert_after_ack_minutes"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise PolicyError(f"{key}.realert_after_ack_minutes: must be a positive number of minutes")
        realert = float(value)
    hour = base.digest_hour if base else 9
    if "watch" in raw:
        watch = raw["watch"]
        if not isinstance(watch, dict):
            raise PolicyError(f"{key}.watch: must be a table")
        unknown = set(watch) - {"channels", "digest_hour"}
        if unknown:
            raise PolicyError(
                f"{key}.watch.{sorted(unknown)[0]}: unknown key (expected channels, digest_hour)"
            )
        if "channels" in watch and watch["channels"] != ["digest"]:
            raise PolicyError(
                f'{key}.watch.channels: watch-level messages only go in the daily digest: ["digest"]'
            )
        if "digest_hour" in watch:
            value = watch["digest_hour"]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
                raise PolicyError(f"{key}.watch.digest_hour: must be an hour from 0 to 23")
            hour = value
    return GroupPolicy(crisis=crisis, urgent=urgent, realert_after_ack_minutes=realert, digest_hour=hour)


def parse(data: dict, source: str = "escalation policy") -> Policy:
    try:
        unknown = set(data) - {"default", "groups"}
        if unknown:
            raise PolicyError(f"{sorted(unknown)[0]}: unknown key (expected default, groups)")
        if "default" not in data:
            raise PolicyError("default: is required")
        default = _group(data["default"], "default", None)
        groups_raw = data.get("groups", {})
        if not isinstance(groups_raw, dict):
            raise PolicyError("groups: must be a table of group names")
        groups = {name: _group(raw, f'groups."{name}"', default) for name, raw in groups_raw.items()}
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    return Policy(default=default, groups=groups)


@lru_cache(maxsize=8)
def load(path: Path | str = DEFAULT_PATH) -> Policy:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise PolicyError(f"{path}: escalation policy file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML ({exc})") from None
    return parse(data, str(path))


def group_from_settings(raw: dict, base: GroupPolicy, source: str = "group override") -> GroupPolicy:
    """A group section in the file's shape (a console override), over `base`, checked as the file is."""
    try:
        return _group(raw, "group", base)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from None


def to_settings(gp: GroupPolicy) -> dict:
    """A group's policy as a complete group section in the file's shape (what an override stores)."""

    def level(lp: LevelPolicy) -> dict:
        minutes = lp.timeout_minutes
        return {
            "levels": list(lp.levels),
            "timeout_minutes": int(minutes) if float(minutes).is_integer() else minutes,
            "repeats": lp.repeats,
            "channels": list(lp.channels),
        }

    realert = gp.realert_after_ack_minutes
    return {
        "crisis": level(gp.crisis),
        "urgent": level(gp.urgent),
        "watch": {"channels": ["digest"], "digest_hour": gp.digest_hour},
        "realert_after_ack_minutes": int(realert) if float(realert).is_integer() else realert,
    }

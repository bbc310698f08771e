"""Retention periods per kind of data: config/retention.toml, each key overridable from the environment.

A period is a whole number of days or "forever" (None). Read and checked once with the settings; a bad
value names its key (the environment variable, or the file and key)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

PATH = Path(__file__).resolve().parents[2] / "config" / "retention.toml"
ENV_PREFIX = "CHECKIN_RETENTION_"
FOREVER = "forever"
_DAYS = re.compile(r"^(\d{1,5})\s*(?:d|days?)$")


@dataclass(frozen=True)
class Periods:
    """Days each kind is kept (None: forever)."""

    message_bodies: int | None = 180
    voice_recordings: int | None = 30
    notes: int | None = 365
    call_records: int | None = 365
    assessments: int | None = 365
    audit: int | None = None

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def cutoff(self, kind: str, now: datetime) -> datetime | None:
        """What was written before this has expired (None: nothing of this kind expires)."""
        days = getattr(self, kind)
        return None if days is None else now - timedelta(days=days)

    def describe(self, kind: str) -> str:
        days = getattr(self, kind)
        return FOREVER if days is None else f"{days} days"


class RetentionConfigError(Exception):
    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in problems))


def parse_period(raw: object) -> int | None:
    """'90d', '90 days', 90 -> 90; 'forever' -> None. ValueError says what is accepted."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        text = f"{raw}d"
    elif isinstance(raw, str):
        text = raw.strip().lower()
    else:
        raise ValueError(f'must be a number of days ("90d") or "forever", not {raw!r}')
    if text == FOREVER:
        return None
    match = _DAYS.fullmatch(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f'must be a number of days of at least 1 ("90d") or "forever", not {raw!r}')
    return int(match.group(1))


def load(env: Mapping[str, str], path: Path = PATH) -> Periods:
    """The periods from `path`'s [retention] table, then CHECKIN_RETENTION_<KIND> from `env`."""
    problems: list[tuple[str, str]] = []
    try:
        with open(path, "rb") as fh:
            table = tomllib.load(fh).get("retention", {})
    except FileNotFoundError:
        table = {}
    except tomllib.TOMLDecodeError as exc:
        raise RetentionConfigError([(str(path), f"is not valid TOML ({exc})")]) from None
    kinds = Periods.kinds()
    for unknown in sorted(set(table) - set(kinds)):
        problems.append((f"{path.name} retention.{unknown}", f"is not a kind of data ({', '.join(kinds)})"))
    values = {}
    for kind in kinds:
        env_key = ENV_PREFIX + kind.upper()
        raw_env = (env.get(env_key) or "").strip()
        key, raw = (env_key, raw_env) if raw_env else (f"{path.name} retention.{kind}", table.get(kind))
        if raw is None:
            continue
        try:
            values[kind] = parse_period(raw)
        except ValueError as exc:
            problems.append((key, str(exc)))
    for env_key in sorted(k for k in env if k.startswith(ENV_PREFIX)):
        if env_key[len(ENV_PREFIX) :].lower() not in kinds:
            problems.append((env_key, f"is not a kind of data ({', '.join(kinds)})"))
    if problems:
        raise RetentionConfigError(problems)
    return Periods(**values)

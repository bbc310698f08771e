"""Pacing sends per sending number: the rates, and the port the outbox waits on.

A carrier number takes only so many messages a second: about 1 for a US long code, 3 for a
toll-free number, 100 for a short code. Before each send `outbox.deliver` waits for that number's
turn (`Pacer.wait_turn`), and after a Twilio 429 holds the number (`Pacer.hold`). The pacer every
worker shares is a Redis one (checkin.adapters.redis_pacer), plugged in by the composition root.

Configuration (read by config/settings.py, parsed here):
  CHECKIN_SEND_RATE   messages per second for every number (default 1, a long code; 0 = unpaced)
  CHECKIN_SEND_RATES  per-number overrides, e.g. "+18005550100=3,12345=100,MG...=50"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_RATE = 1.0  # long code; toll-free 3, short code 100
# Twilio counts a number's sends per second as they arrive, and the way from a slot to Twilio jitters
# by milliseconds. Slots 3% apart beyond the rate (30 ms a second) keep any one second within the
# limit even when one send is late and the next is on time.
HEADROOM = 0.03


class PacingConfigError(ValueError):
    """A pacing setting is malformed; `key` names the environment variable."""

    def __init__(self, key: str, reason: str):
        self.key, self.reason = key, reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class Rates:
    default: float = DEFAULT_RATE
    per_sender: Mapping[str, float] = field(default_factory=dict)

    def for_sender(self, sender: str) -> float:
        return self.per_sender.get(sender, self.default)

    def interval(self, sender: str) -> float:
        """Seconds between two sends on this number, headroom included (0 when unpaced)."""
        rate = self.for_sender(sender)
        return (1.0 + HEADROOM) / rate if rate > 0 else 0.0


def _rate(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise PacingConfigError(key, f"must be messages per second (a number, 0 = unpaced), not {raw!r}")
    return value


def load_rates(environ: Mapping[str, str]) -> Rates:
    raw = (environ.get("CHECKIN_SEND_RATE") or "").strip()
    default = _rate("CHECKIN_SEND_RATE", raw) if raw else DEFAULT_RATE
    per_sender: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (environ.get("CHECKIN_SEND_RATES") or "").split(","))):
        sender, sep, value = part.partition("=")
        if not sep or not sender.strip():
            raise PacingConfigError(
                "CHECKIN_SEND_RATES", f"expected NUMBER=RATE pairs separated by commas, not {part!r}"
            )
        per_sender[sender.strip()] = _rate("CHECKIN_SEND_RATES", value.strip())
    return Rates(default, per_sender)


class Pacer(Protocol):
    """Each send's turn on its sending number, shared by every worker."""

    def wait_turn(self, sender: str | None, channel: str = "sms", *, urgent: bool = False) -> float:
        """Wait for this send's slot (an urgent one books a slot but goes at once); returns the wait."""

    def hold(self, sender: str | None, channel: str = "sms") -> float:
        """Twilio answered 429: hold the number; returns the seconds after which to try again."""

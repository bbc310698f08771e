"""Pacing sends per sending number, shared by every worker through Redis.

A carrier number takes only so many messages a second: about 1 for a US long code, 3 for a
toll-free number, 100 for a short code. Each send first reserves the next free slot of its
number's schedule (a GCRA / virtual-scheduling counter in one Lua script, on Redis's clock, so
every worker agrees) and waits for it; then it goes. A reservation is taken only by a worker
that is about to send, so at most one slot per worker is ever booked ahead: the backlog of a big
fan-out waits in the queue, oldest first, not in the bucket. A facilitator alert books its slot
but never waits for it (see `Pacer.wait_turn`). Calls are paced apart from texts, at the same rate.
A Twilio 429 holds the number for every worker (`Pacer.hold`).

Configuration (environment):
  CHECKIN_SEND_RATE   messages per second for every number (default 1, a long code; 0 = unpaced)
  CHECKIN_SEND_RATES  per-number overrides, e.g. "+18005550100=3,12345=100,MG...=50"
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger("checkin.pacing")

DEFAULT_RATE = 1.0  # long code; toll-free 3, short code 100
MAX_BACKOFF = 30.0  # seconds: the longest pause after Twilio's 429s
# Twilio counts a number's sends per second as they arrive; a slot is kept on Redis's clock, and the
# way from slot to Twilio jitters by milliseconds. Slots 3% apart beyond the rate (30 ms a second)
# keep any one second within the limit even when one send is late and the next is on time.
HEADROOM = 0.03
KEY_PREFIX = "checkin:pace:"

# KEYS[1] the number's next free slot (microseconds, Redis clock). ARGV[1] interval (µs).
# Returns the wait in µs before the reserved slot.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', math.ceil((tat - now + interval) / 1000) + 1000)
return tat - now
"""
# Twilio said "too many": nobody sends on this number for a while that doubles with each 429 in a
# row (KEYS[2] counts them, forgotten after ten quiet seconds). ARGV[1] base, ARGV[2] cap (µs).
# Returns the hold in µs.
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local streak = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 10)
local hold = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) * 2 ^ (streak - 1))
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now + hold then
  redis.call('SET', KEYS[1], string.format('%.0f', now + hold), 'PX', math.ceil(hold / 1000) + 1000)
end
return hold
"""


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


class Pacer:
    """Waits for each send's turn on its number. `redis` is a callable so a forked worker gets its own socket."""

    def __init__(
        self,
        redis: Callable[[], Redis],
        rates: Rates,
        default_sender: str = "default",
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._redis = redis
        self.rates = rates
        self.default_sender = default_sender
        self._sleep = sleep

    def key(self, sender: str | None, channel: str) -> str:
        # Calls and texts are separate limits at Twilio (calls per second vs messages per second).
        return f"{channel}:{sender or self.default_sender}"

    def interval(self, sender: str | None) -> float:
        rate = self.rates.for_sender(sender or self.default_sender)
        return (1.0 + HEADROOM) / rate if rate > 0 else 0.0

    def reserve(self, sender: str | None, channel: str = "sms") -> float:
        """Book the next slot on this number; returns the seconds to wait for it (0 when unpaced)."""
        interval = self.interval(sender)
        if not interval:
            return 0.0
        try:
            wait_us = self._redis().eval(
                _RESERVE, 1, KEY_PREFIX + self.key(sender, channel), int(interval * 1_000_000)
            )
        except (RedisError, OSError) as exc:
            # Without Redis nothing is queued anyway; a send in hand goes, and Twilio's 429 still slows us.
            log.warning("pacing unavailable for %s (%s); sending unpaced", channel, type(exc).__name__)
            return 0.0
        return int(wait_us) / 1_000_000

    def wait_turn(self, sender: str | None, channel: str = "sms", *, urgent: bool = False) -> float:
        """Wait for this send's slot. An urgent send (a facilitator alert) books a slot like any other,
        so the reminders behind it make room, but goes at once: a crisis is never held for pacing."""
        wait = self.reserve(sender, channel)
        if wait > 0 and not urgent:
            self._sleep(wait)
            return wait
        return 0.0

    def hold(self, sender: str | None, channel: str = "sms") -> float:
        """Twilio answered 429: hold the whole number (every worker), longer with each 429 in a row.
        Returns the seconds after which the refused send should try again."""
        # One slot at first (a 429 from a late send beside an early one needs no more), then doubling.
        base = max(self.interval(sender), 0.05)
        key = KEY_PREFIX + self.key(sender, channel)
        try:
            return (
                int(self._redis().eval(_HOLD, 2, key, key + ":429", int(base * 1e6), int(MAX_BACKOFF * 1e6)))
                / 1e6
            )
        except (RedisError, OSError):
            return base

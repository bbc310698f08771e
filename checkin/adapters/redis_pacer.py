"""The pacer every worker shares, in Redis (checkin.pacing.Pacer, plugged in by checkin.bootstrap).

A carrier number takes only so many messages a second: about 1 for a US long code, 3 for a
toll-free number, 100 for a short code. Each send first reserves the next free slot of its
number's schedule (a GCRA / virtual-scheduling counter in one Lua script, on Redis's clock, so
every worker agrees) and waits for it; then it goes. A reservation is taken only by a worker
that is about to send, so at most one slot per worker is ever booked ahead: the backlog of a big
fan-out waits in the queue, oldest first, not in the bucket. A facilitator alert books its slot
but never waits for it (see `Pacer.wait_turn`). Calls are paced apart from texts, at the same rate.
A Twilio 429 holds the number for every worker (`Pacer.hold`). The rates come from
checkin.pacing (CHECKIN_SEND_RATE, CHECKIN_SEND_RATES).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from checkin.pacing import Rates

log = logging.getLogger("checkin.pacing")

MAX_BACKOFF = 30.0  # seconds: the longest pause after Twilio's 429s
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


class RedisPacer:
    """checkin.pacing.Pacer on Redis's clock: waits for each send's turn on its number. `redis` is a
    callable so a forked worker gets its own socket."""

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
        return self.rates.interval(sender or self.default_sender)

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

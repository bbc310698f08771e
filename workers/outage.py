"""How a long-running process (the RQ worker, the cron runner) says that Redis is unreachable.

An outage is logged once at ERROR when it starts, then a reminder at most every REMINDER_SECONDS
(an operator tailing the log sees it is still going on, without ~1,000 lines an hour), and once when
Redis answers again, with how long it lasted. Ids only: the process's name and the error's class.
"""

from __future__ import annotations

import logging
import time

REMINDER_SECONDS = 60.0


class OutageLog:
    def __init__(self, log: logging.Logger, who: str, *, reminder_seconds: float = REMINDER_SECONDS):
        self.log, self.who, self.reminder_seconds = log, who, reminder_seconds
        self.since: float | None = None
        self.attempts = 0
        self._reminded_at = 0.0

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, doing: str) -> None:
        """One failed attempt to reach Redis: the first is an ERROR, then a reminder per minute at most."""
        now = time.monotonic()
        self.attempts += 1
        if self.since is None:
            self.since = self._reminded_at = now
            self.log.error(
                "%s: REDIS UNREACHABLE (%s): %s; retrying with backoff until it answers",
                self.who,
                type(exc).__name__,
                doing,
            )
        elif now - self._reminded_at >= self.reminder_seconds:
            self._reminded_at = now
            self.log.error(
                "%s: Redis still unreachable after %.0f s (%s, %d attempts): %s",
                self.who,
                now - self.since,
                type(exc).__name__,
                self.attempts,
                doing,
            )

    def recovered(self, then: str = "") -> float | None:
        """Redis answered: say so once, with how long it was gone. Returns that duration (None: no outage)."""
        if self.since is None:
            return None
        lasted = time.monotonic() - self.since
        self.log.warning(
            "%s: Redis answers again after %.0f s (%d failed attempts)%s",
            self.who,
            lasted,
            self.attempts,
            f"; {then}" if then else "",
        )
        self.since, self.attempts = None, 0
        return lasted

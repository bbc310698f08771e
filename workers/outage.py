"""How a long-running process (the RQ worker, the cron runner) says that Redis or the database is
unreachable.

An outage is logged once at ERROR when it starts (with the traceback once, when asked: the database's
chained errors are 100-200 lines, and a job failing every 2 s made ~800 lines in a 20 s outage), then a
reminder at most every REMINDER_SECONDS (an operator tailing the log sees it is still going on, without
~1,000 lines an hour), and once when the dependency answers again, with how long it lasted and how many
attempts failed. Ids only: the process's name, the error's class and the driver's first line.
"""

from __future__ import annotations

import logging
import time

REMINDER_SECONDS = 60.0


class OutageLog:
    def __init__(
        self,
        log: logging.Logger,
        who: str,
        *,
        dependency: str = "Redis",
        reminder_seconds: float = REMINDER_SECONDS,
    ):
        self.log, self.who, self.dependency, self.reminder_seconds = log, who, dependency, reminder_seconds
        self.since: float | None = None
        self.attempts = 0
        self._reminded_at = 0.0

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def failed(
        self, exc: BaseException, doing: str, *, reason: str | None = None, traceback: bool = False
    ) -> bool:
        """One failed attempt: the first is an ERROR (with the traceback if asked), then a reminder per
        minute at most. `reason` replaces the error's class name in the line. Returns whether this
        attempt started the outage (the caller may then say less itself)."""
        now = time.monotonic()
        self.attempts += 1
        if self.since is None:
            self.since = self._reminded_at = now
            self.log.error(
                "%s: %s UNREACHABLE (%s): %s; retrying with backoff until it answers",
                self.who,
                self.dependency.upper(),
                reason or type(exc).__name__,
                doing,
                exc_info=exc if traceback else None,
            )
            return True
        if now - self._reminded_at >= self.reminder_seconds:
            self._reminded_at = now
            self.log.error(
                "%s: %s still unreachable after %.0f s (%s, %d attempts): %s",
                self.who,
                self.dependency,
                now - self.since,
                reason or type(exc).__name__,
                self.attempts,
                doing,
            )
        return False

    def recovered(self, then: str = "") -> float | None:
        """It answered: say so once, with how long it was gone. Returns that duration (None: no outage)."""
        if self.since is None:
            return None
        lasted = time.monotonic() - self.since
        self.log.warning(
            "%s: %s answers again after %.0f s (%d failed attempts)%s",
            self.who,
            self.dependency,
            lasted,
            self.attempts,
            f"; {then}" if then else "",
        )
        self.since, self.attempts = None, 0
        return lasted

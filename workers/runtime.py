"""The worker and cron process's runtime: RQ calls jobs by name, so they find it here.

It is built by the composition root (checkin.bootstrap) the first time a job asks, from the
environment; `checkin dev` and the tests hand in the one they built. This is the only process-wide
slot: everything a job uses hangs off the runtime, nothing registers itself anywhere."""

from __future__ import annotations

import os
import threading

from checkin.bootstrap import Runtime

__all__ = ["Runtime", "current", "install"]

_current: Runtime | None = None
_lock = threading.Lock()
_pid: int | None = None


def current() -> Runtime:
    """The process's runtime (worker and cron processes)."""
    global _current, _pid
    with _lock:
        if _current is None:
            _current = Runtime.build()
        elif _pid != os.getpid():
            _current.after_fork()  # a forked RQ work horse: its own sockets
        _pid = os.getpid()
        return _current


def install(runtime: Runtime | None) -> None:
    """Use this runtime in this process (tests, `checkin dev`)."""
    global _current, _pid
    with _lock:
        _current, _pid = runtime, os.getpid()

"""What a process needs to do work: settings, database, messaging port, Redis. Built once per process."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis

from checkin import crypto
from checkin.db import Database
from checkin.messaging import MessagingPort, build_port
from config import Settings, load_settings

log = logging.getLogger("checkin.runtime")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    port: MessagingPort
    _redis: Redis | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, port: MessagingPort | None = None) -> Runtime:
        from workers.queues import RqDispatcher

        crypto.configure(settings.encryption_keys)
        runtime = cls(
            settings=settings, db=Database(settings.database_url), port=port or build_port(settings)
        )
        runtime.db.dispatch_to(RqDispatcher(runtime))
        return runtime

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            # Short timeouts: a Redis outage must not hold up a webhook answer.
            self._redis = Redis.from_url(self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        return self._redis

    @cached_property
    def status_callback_url(self) -> str:
        return f"{self.settings.public_base_url}/twilio/status"


_current: Runtime | None = None
_lock = threading.Lock()
_pid: int | None = None


def current() -> Runtime:
    """The process's runtime, from the environment (worker and cron processes)."""
    global _current, _pid
    with _lock:
        if _current is None:
            _current = Runtime.from_settings(load_settings())
        elif _pid != os.getpid():
            # A forked RQ work horse: keep what the parent built (settings, keys, port, policy),
            # but never share its sockets. dispose(close=False) leaves the parent's pool alone.
            _current.db.engine.dispose(close=False)
            _current._redis = None
        _pid = os.getpid()
        return _current


def install(runtime: Runtime | None) -> None:
    """Use this runtime in this process (tests, `checkin dev`)."""
    global _current, _pid
    with _lock:
        _current, _pid = runtime, os.getpid()

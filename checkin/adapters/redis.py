"""Redis connections, one way for every process."""

from __future__ import annotations

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# How long one call of the health probe may wait (connect, or an answer) before Redis counts as down.
PROBE_SECONDS = 1.5


def connect(url: str) -> Redis:
    # Short timeouts: a Redis outage must not hold up a webhook answer.
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def connect_probe(url: str) -> Redis:
    """A client of its own for /healthz, with shorter timeouts and no retries: a frozen Redis (SIGSTOP:
    it accepts and never answers) must read "unreachable" within seconds, whatever the shared client's
    timeouts and retries are."""
    return Redis.from_url(
        url, socket_timeout=PROBE_SECONDS, socket_connect_timeout=PROBE_SECONDS, retry=Retry(NoBackoff(), 0)
    )

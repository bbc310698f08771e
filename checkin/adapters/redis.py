"""Redis connections, one way for every process."""

from __future__ import annotations

from redis import Redis


def connect(url: str) -> Redis:
    # Short timeouts: a Redis outage must not hold up a webhook answer.
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

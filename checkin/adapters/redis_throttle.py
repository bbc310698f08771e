"""Sign-in throttling in Redis (checkin.accounts.SignInThrottle, plugged in by checkin.bootstrap):
failed attempts counted per account and per client address.

Fixed windows: after ACCOUNT_LIMIT failures for one email, or IP_LIMIT from one address, within
WINDOW seconds, sign-in is refused (even with the right password) until the window ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from checkin.accounts import ThrottleUnavailable

WINDOW = 15 * 60
ACCOUNT_LIMIT = 5
IP_LIMIT = 20


def _keys(email: str, ip: str) -> tuple[str, str]:
    # Hashed so Redis holds no email addresses.
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"checkin:signin:acct:{digest}", f"checkin:signin:ip:{ip}"


def blocked_for(redis: Redis, email: str, ip: str) -> int:
    """Seconds until sign-in may be tried again for this email/address; 0 if allowed now."""
    acct, addr = _keys(email, ip)
    pipe = redis.pipeline()
    pipe.get(acct)
    pipe.ttl(acct)
    pipe.get(addr)
    pipe.ttl(addr)
    acct_n, acct_ttl, ip_n, ip_ttl = pipe.execute()
    wait = 0
    if acct_n is not None and int(acct_n) >= ACCOUNT_LIMIT:
        wait = max(wait, acct_ttl, 1)
    if ip_n is not None and int(ip_n) >= IP_LIMIT:
        wait = max(wait, ip_ttl, 1)
    return wait


def record_failure(redis: Redis, email: str, ip: str) -> None:
    pipe = redis.pipeline()
    for key in _keys(email, ip):
        pipe.incr(key)
        pipe.expire(key, WINDOW, nx=True)
    pipe.execute()


def record_success(redis: Redis, email: str, ip: str) -> None:
    # The account's count starts again; the address's does not (one good login must not hide guessing).
    redis.delete(_keys(email, ip)[0])


class RedisSignInThrottle:
    """The attempt counters every web process shares. `redis` is a callable (a forked process gets its own
    socket); a Redis that cannot be reached is ThrottleUnavailable, so sign-in is refused, not unthrottled."""

    def __init__(self, redis: Callable[[], Redis]):
        self._redis = redis

    def blocked_for(self, email: str, ip: str) -> int:
        try:
            return blocked_for(self._redis(), email, ip)
        except (RedisError, OSError) as exc:
            raise ThrottleUnavailable(type(exc).__name__) from exc

    def record_failure(self, email: str, ip: str) -> None:
        try:
            record_failure(self._redis(), email, ip)
        except (RedisError, OSError) as exc:
            raise ThrottleUnavailable(type(exc).__name__) from exc

    def record_success(self, email: str, ip: str) -> None:
        try:
            record_success(self._redis(), email, ip)
        except (RedisError, OSError) as exc:
            raise ThrottleUnavailable(type(exc).__name__) from exc

"""Sign-in throttling in Redis: failed attempts counted per account and per client address.

Fixed windows: after ACCOUNT_LIMIT failures for one email, or IP_LIMIT from one address, within
WINDOW seconds, sign-in is refused (even with the right password) until the window ends.
"""

from __future__ import annotations

import hashlib

from redis import Redis

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

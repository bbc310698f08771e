"""Staff passwords: argon2id hashes (argon2-cffi's defaults), upgraded on sign-in when parameters change."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from checkin.errors import ValidationError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 would take more; a cap stops a megabyte "password" costing CPU.

# argon2-cffi's default is RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


def use_cheap_hashing_for_tests(cheap: bool = True) -> None:
    """Tests sign in hundreds of times; the real cost would take minutes there and prove nothing more."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST) if cheap else PasswordHasher()
    _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> str:
    if len(password or "") < MIN_LENGTH:
        raise ValidationError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"password must be at most {MAX_LENGTH} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password_rules(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or not password or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# Spent on unknown emails too, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def burn_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password or "x")


def generate_password() -> str:
    """A temporary password for a reset: 16 url-safe characters."""
    return secrets.token_urlsafe(12)

"""Staff passwords: argon2id hashes (argon2-cffi's defaults), upgraded on sign-in when parameters change."""

from __future__ import annotations

import base64
import secrets
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.low_level import ARGON2_VERSION

from checkin.errors import ValidationError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 would take more; a cap stops a megabyte "password" costing CPU.

# argon2-cffi's default is RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


def use_cheap_hashing_for_tests(cheap: bool = True) -> None:
    """Tests sign in hundreds of times; the real cost would take minutes there and prove nothing more."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST) if cheap else PasswordHasher()
    _DUMMY_HASH = _dummy_hash(_hasher)


def check_password_rules(password: str) -> str:
    """Rules by length, and not one of the passwords most often found in breaches (a list shipped with
    the project: no network call). Each refusal says why, in words a volunteer can act on."""
    if len(password or "") < MIN_LENGTH:
        raise ValidationError(f"password must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValidationError(f"password must be at most {MAX_LENGTH} characters")
    if is_common(password):
        raise ValidationError(
            "that password is on a list of passwords people use most often, which attackers try first; "
            "choose another (a few unrelated words make a strong one)"
        )
    return password


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list (checkin/accounts/common_passwords.txt: lower case, one a line, # comments)."""
    text = resources.files("checkin.accounts").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """Case-insensitive: "Password123" is as guessable as "password123"."""
    return password.strip().casefold() in common_passwords()


def hash_password(password: str) -> str:
    return _hasher.hash(check_password_rules(password))


def rehash(password: str) -> str:
    """A new hash of a password that just verified (its parameters changed); the rules met when it was set."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash or not password or len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash in `hasher`'s parameters that no password matches (random salt and digest), written out rather
    than computed: verifying against it costs one argon2 run with those parameters, as a real hash does,
    while hashing for it cost every process that imports this module (each CLI command, web and worker
    start) a third of a second."""

    def b64(n: int) -> str:
        return base64.b64encode(secrets.token_bytes(n)).decode().rstrip("=")

    return (
        f"$argon2{hasher.type.name.lower()}$v={ARGON2_VERSION}"
        f"$m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
        f"${b64(hasher.salt_len)}${b64(hasher.hash_len)}"
    )


# Spent on unknown emails too, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = _dummy_hash(_hasher)


def burn_time(password: str) -> None:
    verify_password(_DUMMY_HASH, password or "x")


def generate_password() -> str:
    """A random password, 16 url-safe characters (the CLI's --generate, the demo accounts)."""
    return secrets.token_urlsafe(12)

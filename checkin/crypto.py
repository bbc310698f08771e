"""Encryption at rest for message bodies, notes and assessments (Fernet; MultiFernet for key rotation).

Not an adapter: a column type of the domain's models, built on a library that does no I/O. The keys
belong to the database whose rows they encrypt: the composition root installs them on its engine
(`install`), and the column type finds them on the dialect SQLAlchemy hands it, so there is no
process-wide key slot and two engines in one process may use two key sets.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.types import TypeDecorator

_ATTR = "checkin_keys"
# HKDF's `info`: the digest key is derived from each encryption key, never the encryption key itself.
_DIGEST_INFO = b"checkin phone digest v1"


class _KeyRing:
    """The keys of one database, held once and shared by every engine on it (see `share`), so keys
    installed later (a rotation) reach an engine made earlier, such as the intake's autocommit pool."""

    def __init__(self) -> None:
        self.cipher: MultiFernet | None = None
        self.digest_keys: tuple[bytes, ...] | None = None


def _ring(dialect: Dialect) -> _KeyRing:
    ring = getattr(dialect, _ATTR, None)
    if ring is None:
        ring = _KeyRing()
        setattr(dialect, _ATTR, ring)
    return ring


def install(engine: Engine, keys: Iterable[str]) -> None:
    """Use these keys for `engine`'s encrypted columns (and every engine sharing its keys): the first
    encrypts, every one of them decrypts."""
    keys = list(keys)
    ring = _ring(engine.dialect)
    ring.cipher = MultiFernet([Fernet(k) for k in keys])
    ring.digest_keys = tuple(_digest_key(k) for k in keys)


def share(source: Engine, target: Engine) -> None:
    """Give `target` (a second engine on the same database) the keys of `source`, now and after any
    later `install` on either."""
    if target is not source:
        setattr(target.dialect, _ATTR, _ring(source.dialect))


def _digest_key(fernet_key: str) -> bytes:
    raw = base64.urlsafe_b64decode(fernet_key)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DIGEST_INFO).derive(raw)


def digests(text: str, dialect: Dialect) -> list[str]:
    """Keyed hashes (HMAC-SHA256, hex) of `text` under every installed key, the current key's first.

    What an erased member's number is kept as: a number that texts again can be recognised (and is never
    texted), while the table alone, without the keys, does not give the number back. One per key, so a
    digest stored under an older key still matches after a new key is put first."""
    keys = _ring(dialect).digest_keys
    if not keys:
        raise RuntimeError("encryption keys not installed on this database (checkin.crypto.install)")
    return [hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest() for key in keys]


def cipher(dialect: Dialect) -> MultiFernet:
    found = _ring(dialect).cipher
    if found is None:
        raise RuntimeError("encryption keys not installed on this database (checkin.crypto.install)")
    return found


def encrypt(text: str, dialect: Dialect) -> bytes:
    return cipher(dialect).encrypt(text.encode("utf-8"))


def decrypt(token: bytes, dialect: Dialect) -> str:
    try:
        return cipher(dialect).decrypt(bytes(token)).decode("utf-8")
    except InvalidToken:
        raise RuntimeError(
            "cannot decrypt a stored value: is CHECKIN_ENCRYPTION_KEY missing an old key?"
        ) from None


class EncryptedText(TypeDecorator):
    """A text column stored as a Fernet token, under the keys installed on the engine."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value, dialect)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value, dialect)


def rotate(token: bytes, dialect: Dialect) -> bytes:
    """Re-encrypt a stored token under the current first key."""
    return cipher(dialect).rotate(bytes(token))


class EncryptedJSON(TypeDecorator):
    """A JSON value (a list of rule ids, a score) stored as a Fernet token: what a health inference
    says about a member is as private as their words. NULL stays NULL, so `IS NULL` still works."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(json.dumps(value, separators=(",", ":")), dialect)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(decrypt(value, dialect))

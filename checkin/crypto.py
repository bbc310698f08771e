"""Encryption at rest for message bodies and notes (Fernet; MultiFernet for key rotation)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

_cipher: MultiFernet | None = None


def configure(keys: tuple[str, ...] | list[str]) -> None:
    """Install the keys: the first encrypts, every one of them decrypts."""
    global _cipher
    _cipher = MultiFernet([Fernet(k) for k in keys])


def cipher() -> MultiFernet:
    if _cipher is None:
        raise RuntimeError("encryption keys not configured (checkin.crypto.configure)")
    return _cipher


def encrypt(text: str) -> bytes:
    return cipher().encrypt(text.encode("utf-8"))


def decrypt(token: bytes) -> str:
    try:
        return cipher().decrypt(bytes(token)).decode("utf-8")
    except InvalidToken:
        raise RuntimeError(
            "cannot decrypt a stored value: is CHECKIN_ENCRYPTION_KEY missing an old key?"
        ) from None


class EncryptedText(TypeDecorator):
    """A text column stored as a Fernet token."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def rotate(token: bytes) -> bytes:
    """Re-encrypt a stored token under the current first key."""
    return cipher().rotate(bytes(token))

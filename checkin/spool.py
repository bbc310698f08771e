"""The intake spool: a signed request that could not be stored waits here, durably, until it can be.

Store first, act second, and when storing fails (the database down, a constraint, a bug) the raw
request the provider signed is written to the spool before the member is answered; a replayer feeds it
back through the same webhook once storage works again, where the MessageSid claim (or the CallSid's,
or a status's rank) makes a second arrival a no-op. The port is here; the file-backed spool it is
built with lives in checkin.adapters.file_spool (see the composition root).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

# The fields that name what a request is about (never a phone number or words): for logs and listings.
ID_FIELDS = ("MessageSid", "SmsSid", "CallSid")


@dataclass(frozen=True)
class SpooledRequest:
    """One webhook request as it arrived: its path and query, its form (order kept) and signature, when
    it arrived, and what we answered then (`reply`, for a text), so the replay stores what was said."""

    path: str
    query: str
    form: tuple[tuple[str, str], ...]
    signature: str
    received_at: datetime
    reply: str | None = None
    reason: str = ""  # why storing failed: an exception's type name
    key: str = field(default="", compare=False)  # the spool's own name for it, once stored there

    @property
    def sid(self) -> str:
        """The MessageSid or CallSid it carries ('' if none): an id, safe to log."""
        form = dict(self.form)
        return next((form[name] for name in ID_FIELDS if form.get(name)), "")

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "path": self.path,
                "query": self.query,
                "form": [list(pair) for pair in self.form],
                "signature": self.signature,
                "received_at": self.received_at.isoformat(),
                "reply": self.reply,
                "reason": self.reason,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes, key: str = "") -> SpooledRequest:
        data = json.loads(raw.decode("utf-8"))
        if data.get("v") != 1:
            raise ValueError(f"spooled request {key!r} has an unknown format {data.get('v')!r}")
        return cls(
            path=data["path"],
            query=data["query"],
            form=tuple((str(k), str(v)) for k, v in data["form"]),
            signature=data["signature"],
            received_at=datetime.fromisoformat(data["received_at"]),
            reply=data.get("reply"),
            reason=data.get("reason", ""),
            key=key,
        )


class SpoolError(OSError):
    """The spool could not keep a request (its disk is full, gone, read-only)."""


class Spool(Protocol):
    def put(self, request: SpooledRequest) -> str:
        """Keep `request` durably (on disk, synced) before returning its key; SpoolError if it cannot."""

    def keys(self) -> list[str]:
        """What it holds, oldest first."""

    def load(self, key: str) -> SpooledRequest: ...

    def remove(self, key: str) -> None:
        """Forget a request once it is stored (durably: a replay never comes back)."""

    def set_aside(self, key: str, why: str) -> None:
        """Move a request the webhook refused on replay out of the way, kept for a person to read."""

    def count(self) -> int: ...

    def replaying(self) -> AbstractContextManager[bool]:
        """Held by one replayer at a time on this spool (True if this one got it)."""

    def __iter__(self) -> Iterator[SpooledRequest]: ...

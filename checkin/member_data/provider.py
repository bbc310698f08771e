"""Deleting the provider's copies an erasure listed (ProviderDeletion rows), through the ProviderData port
retention uses too.

Run after the erasure has committed (the CLI and the console do it at once); a record the provider
could not delete stays pending with its error and is tried again by the next run (`checkin members
provider-cleanup`, or the next erasure). Nothing here holds a transaction open across a request to
the provider."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from checkin.db import utcnow
from checkin.member_data.models import ProviderDeletion
from checkin.retention.provider import ProviderCleanupError, ProviderData

log = logging.getLogger("checkin.member_data")


@dataclass(frozen=True)
class CleanupResult:
    deleted: int  # the provider deleted it now
    absent: int  # the provider had no such record (already gone, or never there)
    failed: int  # still pending: see ProviderDeletion.last_error

    def summary(self) -> str:
        text = f"Twilio: {self.deleted} record(s) deleted, {self.absent} already gone"
        if self.failed:
            text += f", {self.failed} could not be deleted yet (run `checkin members provider-cleanup` later)"
        return text


def run_pending(db, data: ProviderData, *, member_id: int | None = None, limit: int = 1000) -> CleanupResult:
    """Delete the pending records (only `member_id`'s, if given) at the provider, oldest first."""
    with db.session() as session:
        query = select(ProviderDeletion.id, ProviderDeletion.kind, ProviderDeletion.sid).where(
            ProviderDeletion.done_at.is_(None)
        )
        if member_id is not None:
            query = query.where(ProviderDeletion.member_id == member_id)
        pending = session.execute(query.order_by(ProviderDeletion.id).limit(limit)).all()
    deleted = absent = failed = 0
    for row in pending:
        error = None
        try:
            if _delete(data, row.kind, row.sid):
                deleted += 1
            else:
                absent += 1
        except ProviderCleanupError as exc:
            error, failed = str(exc)[:255], failed + 1
            log.warning("provider deletion id=%s kind=%s failed: %s", row.id, row.kind, exc)
        with db.session() as session:
            record = session.get(ProviderDeletion, row.id)
            record.attempts += 1
            record.last_error = error
            if error is None:
                record.done_at = utcnow()
    if pending:
        log.info("provider deletions: deleted=%s absent=%s failed=%s", deleted, absent, failed)
    return CleanupResult(deleted, absent, failed)


def _delete(data: ProviderData, kind: str, sid: str) -> int:
    """How many of the provider's records went now (0: it had none)."""
    if kind == "message":
        return data.delete_message(sid)
    if kind == "call":
        return data.delete_call(sid)
    if kind == "recording":
        return data.delete_call_recordings(None, [sid])
    raise ValueError(f"unknown kind of record {kind!r}")

"""The audit log as a hash chain: each row stores sha256(previous row's hash + its own canonical content).

An edited, deleted or inserted-after-the-fact row breaks the chain at that row, and `verify` names it.
The database refuses UPDATE, DELETE and TRUNCATE on the table (triggers from migration 0014, built from
`append_only_ddl` below), so the application cannot rewrite its own history; the chain catches what a
superuser or a restored backup might still do.

Appends are serialised: on PostgreSQL a transaction-level advisory lock is taken before the chain's
head is read, and held until commit, so two writers never chain onto the same head; everywhere a
unique `seq` makes a fork fail loudly rather than pass silently.

The canonical content must never change: every stored hash depends on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from checkin.accounts.models import AuditEvent
from checkin.db import lock_until_commit

GENESIS = "0" * 64
# pg_advisory_xact_lock key for appends to audit_events ("audit" in ASCII, as a bigint).
LOCK_KEY = 0x6175646974


def canonical(event: AuditEvent) -> str:
    """The row's content as the hash covers it: every column but id and the hashes, in a fixed form."""
    at = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {
        "seq": event.seq,
        "at": at,
        "staff_id": event.staff_id,
        "action": event.action,
        "member_id": event.member_id,
        "escalation_id": event.escalation_id,
        "detail": event.detail,
        "ip": event.ip,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def row_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical(event)).encode("ascii")).hexdigest()


def _lock(session: Session) -> None:
    lock_until_commit(session, LOCK_KEY)


def append(session: Session, event: AuditEvent) -> AuditEvent:
    """Chain `event` onto the log's head and add it to `session` (inserted at the next flush).

    The lock is held until the transaction ends: commit soon after (every caller does)."""
    _lock(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    event.seq = (head.seq + 1) if head else 1
    event.prev_hash = head.hash if head else GENESIS
    if event.at.tzinfo is None:
        raise ValueError("naive datetime given to an audit row")
    # What the database will hand back: microseconds, UTC.
    event.at = event.at.astimezone(UTC)
    event.hash = row_hash(event.prev_hash, event)
    session.add(event)
    session.flush()
    return event


def append_many(session: Session, events: list[AuditEvent]) -> list[AuditEvent]:
    """Chain `events` in order onto the log's head with one lock and one read of the head (an import's
    rows, say), rather than one of each per row as `append` does."""
    if not events:
        return events
    _lock(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
    for event in events:
        if event.at.tzinfo is None:
            raise ValueError("naive datetime given to an audit row")
        seq += 1
        event.seq, event.prev_hash, event.at = seq, prev_hash, event.at.astimezone(UTC)
        event.hash = prev_hash = row_hash(prev_hash, event)
    session.add_all(events)
    session.flush()
    return events


COLUMNS = (
    AuditEvent.id,
    AuditEvent.seq,
    AuditEvent.at,
    AuditEvent.staff_id,
    AuditEvent.action,
    AuditEvent.member_id,
    AuditEvent.escalation_id,
    AuditEvent.detail,
    AuditEvent.ip,
    AuditEvent.prev_hash,
    AuditEvent.hash,
)


@dataclass(frozen=True)
class Verification:
    rows: int
    # None when the chain holds; otherwise the first row that breaks it and why, in words.
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify(session: Session, *, batch: int = 5000) -> Verification:
    """Walk the chain from its first row; stop at the first row that is missing, edited or out of place."""
    expected_seq, prev_hash, rows, after = 1, GENESIS, 0, 0
    first = session.execute(
        select(AuditEvent.seq, AuditEvent.prev_hash).order_by(AuditEvent.seq).limit(1)
    ).first()
    if first is not None and first.seq > 1:
        # Rows before it were pruned on purpose only if a "retention" row says so and names the hash
        # the first remaining row chains onto.
        anchored = session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "retention",
                AuditEvent.detail == _prune_detail(first.seq - 1, first.prev_hash),
            )
        )
        if anchored is not None:
            expected_seq, prev_hash, after = first.seq, first.prev_hash, first.seq - 1
    while True:
        # Plain rows, not ORM objects: a long walk must not fill (or detach from) the caller's session.
        chunk = session.execute(
            select(*COLUMNS).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not chunk:
            return Verification(rows)
        for event in chunk:
            if event.seq != expected_seq:
                return Verification(
                    rows,
                    expected_seq,
                    None,
                    f"row seq {expected_seq} is missing (the next row is seq {event.seq}, id {event.id})",
                )
            if event.prev_hash != prev_hash:
                return Verification(
                    rows, event.seq, event.id, "its previous-hash does not match the row before it"
                )
            if row_hash(prev_hash, event) != event.hash:
                return Verification(rows, event.seq, event.id, "its content does not match its hash (edited)")
            prev_hash, expected_seq, rows = event.hash, expected_seq + 1, rows + 1
        after = chunk[-1].seq


# --- retention: the oldest rows, on purpose, anchored --------------------------------------------


def _prune_detail(seq: int, anchor: str) -> str:
    return f"audit rows pruned through seq {seq} (anchor {anchor})"


def prune_through(session: Session, seq: int, *, staff_id: int | None = None) -> int:
    """Delete the audit rows up to and including `seq` (the retention period's job), leaving a chain that
    still verifies: a "retention" row is appended first naming the cut and the hash row `seq + 1` chains
    onto. The database allows this DELETE only for those rows and only in this transaction. Returns
    how many rows went."""
    from checkin.accounts import audit  # the one way rows are written

    anchor = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    if anchor is None:
        raise ValueError(f"no audit row with seq {seq} to prune through")
    audit(session, "retention", staff_id, detail=_prune_detail(seq, anchor))
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": PRUNE_SETTING, "value": str(seq)}
        )
    else:  # SQLite triggers read no settings: lifted and put back inside this transaction
        for statement in drop_append_only_ddl(dialect):
            session.execute(text(statement))
    gone = session.execute(AuditEvent.__table__.delete().where(AuditEvent.seq <= seq)).rowcount
    if dialect == "postgresql":
        session.execute(text("SELECT set_config(:name, '', true)"), {"name": PRUNE_SETTING})
    else:
        for statement in append_only_ddl(dialect):
            session.execute(text(statement))
    return gone


# --- append-only in the database ----------------------------------------------------------------

_REFUSAL = "audit_events is append-only"
PRUNE_SETTING = "checkin.audit_prune_through"


def append_only_ddl(dialect: str) -> list[str]:
    """Statements that make the database refuse UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit rows."""
    if dialect == "postgresql":
        return [
            # The one DELETE allowed: the oldest rows, through the seq `prune_through` names for its own
            # transaction (and anchors in a "retention" row that `verify` checks).
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF TG_OP = 'DELETE' THEN IF OLD.seq <= coalesce(nullif(current_setting("
            f"'{PRUNE_SETTING}', true), '')::bigint, 0) THEN RETURN OLD; END IF; END IF; "
            f"RAISE EXCEPTION '{_REFUSAL}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$",
            "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
        ]
    return [
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}: UPDATE refused'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}: DELETE refused'); END",
    ]


def drop_append_only_ddl(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
            "DROP TRIGGER IF EXISTS audit_events_no_update_delete ON audit_events",
            "DROP FUNCTION IF EXISTS audit_events_append_only()",
        ]
    return [
        "DROP TRIGGER IF EXISTS audit_events_no_update",
        "DROP TRIGGER IF EXISTS audit_events_no_delete",
    ]

"""The retention run: remove what has outlived its period (checkin.retention.policy), here and at the
messaging provider, in small batches, keeping counts, and record what it did.

What goes, per kind (README, "Members' data"):

- message_bodies: a text's body and our reply (the row stays: who, when, status), the outbox copy of a
  finished send, an SMS check-in's words; the provider's message resource is deleted first.
- voice_recordings: a call's recordings and their transcriptions at the provider, then the recording
  links here; what a caller said in words (voice messages' bodies, voice check-ins' words).
- notes: facilitators' notes on cases.
- call_records: call rows (after their recordings), and the provider's call record; counted per group,
  month and direction in retained_counts.
- assessments: verdict rows, and the rule ids on cases' "assessed" events; counted per group, month
  and level.
- audit: the oldest audit rows, only as a whole prefix (by id), so a hash chain verifies from the
  first kept row, which the run records.

Nothing of a member whose case is still live is touched until it is resolved. Each batch is its own
short transaction; the provider is asked between transactions, never inside one, and a row whose
provider copy could not be deleted is kept for the next run. Running twice removes nothing twice
(counts come from the rows a DELETE actually removed), so the run is safe to repeat or resume.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from checkin.accounts.audit_chain import prune_through
from checkin.accounts.models import AuditEvent
from checkin.checkins import CheckIn
from checkin.db import Database, utcnow
from checkin.escalation.models import LIVE_STATES, AssessmentRecord, Escalation, EscalationEvent
from checkin.models import GroupMember, Message, OutboxItem
from checkin.retention.models import RetainedCount, RetentionRun
from checkin.retention.policy import Periods
from checkin.retention.provider import (
    CALL_SID,
    MESSAGE_SID,
    ProviderCleanupError,
    ProviderData,
    recording_sid,
)
from checkin.voice.models import VoiceCall

log = logging.getLogger("checkin.retention")

BATCH = 500
FINISHED_SENDS = ("sent", "failed", "cancelled")
# A provider down (or refusing) is not asked thousands of times with a timeout each: after this many
# failures in a row the run leaves the rest of what it holds there for the next run.
PROVIDER_GIVE_UP = 5
ENDED_CALLS = ("completed", "busy", "failed", "no-answer", "canceled")


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    provider_deleted: int = 0
    provider_failed: int = 0
    audit_first_id: int | None = None
    run_id: int | None = None
    # False when the run stopped at its time budget: the job continues it (`run(..., run_id=...)`).
    complete: bool = True

    def line(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.counts.items())]
        parts += [f"provider_deleted={self.provider_deleted}", f"provider_failed={self.provider_failed}"]
        if self.audit_first_id is not None:
            parts.append(f"audit_first_id={self.audit_first_id}")
        return " ".join(parts)


def _live_members():
    return select(Escalation.member_id).where(
        Escalation.state.in_(LIVE_STATES), Escalation.member_id.is_not(None)
    )


def _not_live(member_col):
    """The row's member has no live case (or the row has no member)."""
    return or_(member_col.is_(None), member_col.not_in(_live_members()))


def _case_closed(escalation_col):
    return or_(
        escalation_col.is_(None),
        escalation_col.not_in(select(Escalation.id).where(Escalation.state.in_(LIVE_STATES))),
    )


def expired(cutoff: datetime) -> dict[str, tuple[type, tuple]]:
    """Per kind and table: the model and the conditions of its rows that have expired at `cutoff`."""
    return {
        "message_bodies.messages": (
            Message,
            (
                Message.channel != "voice",
                Message.created_at < cutoff,
                or_(Message.body.is_not(None), Message.reply_body.is_not(None)),
                _not_live(Message.member_id),
            ),
        ),
        "message_bodies.outbox": (
            OutboxItem,
            (
                OutboxItem.state.in_(FINISHED_SENDS),
                OutboxItem.created_at < cutoff,
                OutboxItem.body.is_not(None),
                _not_live(OutboxItem.member_id),
            ),
        ),
        "message_bodies.checkin_words": (
            CheckIn,
            (
                CheckIn.channel != "voice",
                CheckIn.words.is_not(None),
                func.coalesce(CheckIn.answered_at, CheckIn.created_at) < cutoff,
                _not_live(CheckIn.member_id),
            ),
        ),
        "voice_recordings.calls": (
            VoiceCall,
            (
                VoiceCall.created_at < cutoff,
                VoiceCall.recording_url.is_not(None),
                _not_live(VoiceCall.member_id),
            ),
        ),
        "voice_recordings.checkins": (
            CheckIn,
            (
                CheckIn.recording_url.is_not(None),
                CheckIn.created_at < cutoff,
                _not_live(CheckIn.member_id),
            ),
        ),
        "voice_recordings.spoken_messages": (
            Message,
            (
                Message.channel == "voice",
                Message.created_at < cutoff,
                Message.body.is_not(None),
                _not_live(Message.member_id),
            ),
        ),
        "voice_recordings.checkin_words": (
            CheckIn,
            (
                CheckIn.channel == "voice",
                CheckIn.words.is_not(None),
                func.coalesce(CheckIn.answered_at, CheckIn.created_at) < cutoff,
                _not_live(CheckIn.member_id),
            ),
        ),
        "notes.case_notes": (
            EscalationEvent,
            (
                EscalationEvent.note.is_not(None),
                EscalationEvent.at < cutoff,
                _case_closed(EscalationEvent.escalation_id),
            ),
        ),
        "call_records.calls": (
            VoiceCall,
            (
                VoiceCall.created_at < cutoff,
                VoiceCall.status.in_(ENDED_CALLS),
                _not_live(VoiceCall.member_id),
            ),
        ),
        "assessments.verdicts": (
            AssessmentRecord,
            (
                AssessmentRecord.created_at < cutoff,
                _case_closed(AssessmentRecord.escalation_id),
                _not_live(AssessmentRecord.member_id),
            ),
        ),
        "assessments.case_rule_ids": (
            EscalationEvent,
            (
                EscalationEvent.kind == "assessed",
                EscalationEvent.detail.is_not(None),
                EscalationEvent.at < cutoff,
                _case_closed(EscalationEvent.escalation_id),
            ),
        ),
    }


class _Run:
    def __init__(
        self,
        db: Database,
        provider: ProviderData,
        periods: Periods,
        now: datetime,
        batch: int,
        deadline: float | None,
    ):
        self.db, self.provider, self.periods, self.now, self.batch = db, provider, periods, now, batch
        self.deadline = deadline
        self.report = Report()
        self.failures_in_a_row = 0

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.report.complete = False
        return not self.report.complete

    # --- the batch loop ---------------------------------------------------------------------------

    def batches(self, query, id_col) -> Iterable[list]:
        """Rows of `query` (id first) in id order, a batch at a time, each read in its own short
        transaction; the next batch starts after the last id seen, so rows kept (a provider failure)
        are not read again in this run."""
        last = 0
        while not self.out_of_time():
            with self.db.session() as s:
                rows = s.execute(query.where(id_col > last).order_by(id_col).limit(self.batch)).all()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def clear(self, name: str, id_col, conditions: dict, values: dict) -> None:
        """Set `values` (NULLs) on every row of `conditions[name]`, a batch at a time."""
        model, where = conditions[name]
        for rows in self.batches(select(id_col).where(*where), id_col):
            ids = [r[0] for r in rows]
            with self.db.session() as s:
                done = s.execute(
                    update(model)
                    .where(id_col.in_(ids), *where)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                ).rowcount
            self.report.counts[name] += done or 0

    def provider_call(self, fn: Callable[[], int | None]) -> bool:
        """Ask the provider to delete something; False (the rows are kept) if it could not, or if the
        run's time is up (the next slice asks again)."""
        if self.out_of_time() or self.failures_in_a_row >= PROVIDER_GIVE_UP:
            return False
        try:
            self.report.provider_deleted += fn() or 0
        except ProviderCleanupError as exc:
            self.report.provider_failed += 1
            self.failures_in_a_row += 1
            log.warning("retention: provider deletion failed (%s); kept for the next run", exc)
            if self.failures_in_a_row == PROVIDER_GIVE_UP:
                log.error(
                    "retention: the provider failed %d times in a row; not asked again this run",
                    PROVIDER_GIVE_UP,
                )
            return False
        self.failures_in_a_row = 0
        return True

    # --- the kinds --------------------------------------------------------------------------------

    def message_bodies(self, cutoff: datetime) -> None:
        conditions = expired(cutoff)
        where = conditions["message_bodies.messages"][1]
        for rows in self.batches(select(Message.id, Message.provider_sid).where(*where), Message.id):
            # The provider's copy first: a body cleared here is one the provider no longer holds either.
            done = [
                mid
                for mid, sid in rows
                if not (sid and MESSAGE_SID.fullmatch(sid))
                or self.provider_call(lambda sid=sid: self.provider.delete_message(sid) or 1)
            ]
            if done:
                with self.db.session() as s:
                    cleared = s.execute(
                        update(Message)
                        .where(Message.id.in_(done), *where)
                        .values(body=None, reply_body=None)
                        .execution_options(synchronize_session=False)
                    ).rowcount
                self.report.counts["message_bodies.messages"] += cleared or 0
        self.clear("message_bodies.outbox", OutboxItem.id, conditions, {"body": None})
        self.clear("message_bodies.checkin_words", CheckIn.id, conditions, {"words": None})

    def delete_recordings(self, calls: list[tuple[int, str, int | None, list[str | None]]]) -> set[int]:
        """Calls' recordings and transcriptions at the provider (call id, CallSid, check-in id, recording
        links), then, in one transaction for the batch, every link to them here. Returns the calls done."""
        done = [
            (call_id, call_sid, checkin_id)
            for call_id, call_sid, checkin_id, urls in calls
            if self.provider_call(
                lambda c=call_sid, u=urls: self.provider.delete_call_recordings(
                    c, [sid for sid in map(recording_sid, u) if sid]
                )
            )
        ]
        if not done:
            return set()
        call_ids = [c[0] for c in done]
        with self.db.session() as s:
            self.report.counts["voice_recordings.calls"] += (
                s.execute(
                    update(VoiceCall)
                    .where(VoiceCall.id.in_(call_ids), VoiceCall.recording_url.is_not(None))
                    .values(recording_url=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
                or 0
            )
            linked = or_(
                CheckIn.call_sid.in_([c[1] for c in done]),
                CheckIn.id.in_([c[2] for c in done if c[2] is not None]),
            )
            self.report.counts["voice_recordings.checkins"] += (
                s.execute(
                    update(CheckIn)
                    .where(linked, CheckIn.recording_url.is_not(None))
                    .values(recording_url=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
                or 0
            )
            # A voicemail noted on a case names its recording's link: the note stays, the link goes.
            prefixes = {f"voice message from call {call_id}: " for call_id in call_ids}
            noted = s.execute(
                select(EscalationEvent.id, EscalationEvent.detail).where(
                    EscalationEvent.kind == "note",
                    EscalationEvent.detail.like("voice message from call %: http%"),
                )
            ).all()
            for event_id, detail in noted:
                prefix = detail.split(": ", 1)[0] + ": "
                if prefix in prefixes:
                    s.execute(
                        update(EscalationEvent)
                        .where(EscalationEvent.id == event_id)
                        .values(detail=prefix + "recording deleted (retention)")
                    )
        return set(call_ids)

    def voice_recordings(self, cutoff: datetime) -> None:
        conditions = expired(cutoff)
        calls = select(VoiceCall.id, VoiceCall.call_sid, VoiceCall.recording_url, VoiceCall.checkin_id)
        for rows in self.batches(calls.where(*conditions["voice_recordings.calls"][1]), VoiceCall.id):
            with self.db.session() as s:
                checkin_urls = dict(
                    s.execute(
                        select(CheckIn.id, CheckIn.recording_url).where(
                            CheckIn.id.in_([r.checkin_id for r in rows if r.checkin_id])
                        )
                    ).all()
                )
            self.delete_recordings(
                [
                    (r.id, r.call_sid, r.checkin_id, [r.recording_url, checkin_urls.get(r.checkin_id)])
                    for r in rows
                ]
            )
        # A check-in's recording whose call row is gone (or never linked): by its own link. One whose call
        # still has its link was the call's to delete (and, if that failed, waits with it).
        orphans = select(CheckIn.id, CheckIn.call_sid, CheckIn.recording_url).where(
            *conditions["voice_recordings.checkins"][1],
            or_(
                CheckIn.call_sid.is_(None),
                CheckIn.call_sid.not_in(
                    select(VoiceCall.call_sid).where(VoiceCall.recording_url.is_not(None))
                ),
            ),
        )
        for rows in self.batches(orphans, CheckIn.id):
            done = [
                checkin_id
                for checkin_id, call_sid, url in rows
                if self.provider_call(
                    lambda c=call_sid, u=url: self.provider.delete_call_recordings(
                        c, [sid for sid in [recording_sid(u)] if sid]
                    )
                )
            ]
            if done:
                with self.db.session() as s:
                    s.execute(
                        update(CheckIn)
                        .where(CheckIn.id.in_(done))
                        .values(recording_url=None)
                        .execution_options(synchronize_session=False)
                    )
                self.report.counts["voice_recordings.checkins"] += len(done)
        self.clear("voice_recordings.spoken_messages", Message.id, conditions, {"body": None})
        self.clear("voice_recordings.checkin_words", CheckIn.id, conditions, {"words": None})

    def notes(self, cutoff: datetime) -> None:
        self.clear("notes.case_notes", EscalationEvent.id, expired(cutoff), {"note": None})

    def call_records(self, cutoff: datetime) -> None:
        calls = select(
            VoiceCall.id,
            VoiceCall.call_sid,
            VoiceCall.recording_url,
            VoiceCall.group_id,
            VoiceCall.member_id,
            VoiceCall.direction,
            VoiceCall.created_at,
        ).where(*expired(cutoff)["call_records.calls"][1])
        for rows in self.batches(calls, VoiceCall.id):
            # Its recordings first (even when their own period is longer): nothing would lead to them.
            recorded = [(r.id, r.call_sid, None, [r.recording_url]) for r in rows if r.recording_url]
            without = self.delete_recordings(recorded) if recorded else set()
            done = {}
            for row in rows:
                if row.recording_url and row.id not in without:
                    continue
                if CALL_SID.fullmatch(row.call_sid) and not self.provider_call(
                    lambda sid=row.call_sid: self.provider.delete_call(sid) or 1
                ):
                    continue
                done[row.id] = row
            if done:
                deleted = self.delete_counted(VoiceCall, done, "calls", lambda r: r.direction)
                self.report.counts["call_records.calls"] += deleted

    def assessments(self, cutoff: datetime) -> None:
        conditions = expired(cutoff)
        verdicts = (
            select(
                AssessmentRecord.id,
                AssessmentRecord.member_id,
                AssessmentRecord.level,
                AssessmentRecord.created_at,
                Escalation.group_id,
            )
            .outerjoin(Escalation, Escalation.id == AssessmentRecord.escalation_id)
            .where(*conditions["assessments.verdicts"][1])
        )
        for rows in self.batches(verdicts, AssessmentRecord.id):
            deleted = self.delete_counted(
                AssessmentRecord, {r.id: r for r in rows}, "assessments", lambda r: r.level
            )
            self.report.counts["assessments.verdicts"] += deleted
        # The rule ids a case's "assessed" events carry say what the words meant.
        self.clear("assessments.case_rule_ids", EscalationEvent.id, conditions, {"detail": None})

    def delete_counted(self, model, rows: dict, kind: str, label: Callable) -> int:
        """Delete these rows, adding the ones actually deleted to retained_counts (month, group, label)
        in the same transaction. A row without a group is counted in its member's first group."""
        with self.db.session() as s:
            groups = _member_groups(s, [r.member_id for r in rows.values() if r.group_id is None])
            deleted = s.scalars(delete(model).where(model.id.in_(rows)).returning(model.id)).all()
            _add_counts(
                s,
                kind,
                Counter(
                    (
                        f"{rows[i].created_at:%Y-%m}",
                        rows[i].group_id or groups.get(rows[i].member_id, 0),
                        label(rows[i]),
                    )
                    for i in deleted
                ),
            )
        return len(deleted)

    def audit(self, cutoff: datetime) -> None:
        """Only a whole oldest prefix of the chain, through audit_chain.prune_through (the one DELETE the
        database allows), so `checkin audit verify` still holds: rows after the first kept one stay even
        if older (a clock step)."""
        with self.db.session() as s:
            first_kept = s.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= cutoff))
            through = s.scalar(
                select(func.max(AuditEvent.seq)).where(
                    AuditEvent.seq < first_kept if first_kept is not None else true()
                )
            )
            if through is not None:
                self.report.counts["audit.events"] += prune_through(s, through)
            self.report.audit_first_id = s.scalar(select(func.min(AuditEvent.id)))


def _member_groups(session: Session, member_ids: list[int | None]) -> dict[int, int]:
    """Each member's first group (lowest id): where a row without a group of its own is counted."""
    ids = {m for m in member_ids if m is not None}
    if not ids:
        return {}
    return dict(
        session.execute(
            select(GroupMember.member_id, func.min(GroupMember.group_id))
            .where(GroupMember.member_id.in_(ids))
            .group_by(GroupMember.member_id)
        ).all()
    )


def _add_counts(session: Session, kind: str, counts: Counter) -> None:
    """Add to retained_counts (kind, month, group, label), in the transaction that deleted the rows."""
    if not counts:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = RetainedCount.__table__
    for (month, group_id, label), n in sorted(counts.items()):
        stmt = insert(table).values(kind=kind, month=month, group_id=group_id, label=label, count=n)
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["kind", "month", "group_id", "label"],
                set_={"count": table.c.count + stmt.excluded.count},
            )
        )


# The order matters: recordings go before the call records that lead to them.
STEPS = ("message_bodies", "voice_recordings", "notes", "call_records", "assessments", "audit")


def run(
    db: Database,
    provider: ProviderData,
    periods: Periods,
    *,
    now: datetime | None = None,
    batch: int = BATCH,
    seconds: float | None = None,
    run_id: int | None = None,
) -> Report:
    """Remove everything that has expired at `now`; record and log what was removed (counts only).

    With `seconds`, stop between batches once that much time has passed (`complete` False): a worker
    shares its time with alerts. `run_id` continues that run, at its own `now`, adding to its counts."""
    with db.session() as s:
        record = s.get(RetentionRun, run_id) if run_id is not None else None
        if record is None:
            record = RetentionRun(
                started_at=now or utcnow(), counts={}, provider_deleted=0, provider_failed=0
            )
            s.add(record)
            s.flush()
        run_id, now, before = record.id, record.started_at, dict(record.counts or {})
        deleted_before, failed_before = record.provider_deleted, record.provider_failed
    deadline = None if seconds is None else time.monotonic() + seconds
    work = _Run(db, provider, periods, now, batch, deadline)
    work.report.run_id = run_id
    error = None
    try:
        for kind in STEPS:
            cutoff = periods.cutoff(kind, now)
            if cutoff is not None and not work.out_of_time():
                getattr(work, kind)(cutoff)
    except Exception as exc:
        error = type(exc).__name__
        raise
    finally:
        report = work.report
        values = dict(
            finished_at=utcnow() if report.complete and error is None else None,
            counts=dict(Counter(before) + report.counts),
            provider_deleted=deleted_before + report.provider_deleted,
            provider_failed=failed_before + report.provider_failed,
            error=error,
        )
        if report.audit_first_id is not None:
            values["audit_first_id"] = report.audit_first_id
        with db.session() as s:
            s.execute(update(RetentionRun).where(RetentionRun.id == run_id).values(**values))
        state = f"FAILED ({error})" if error else ("done" if report.complete else "continues")
        # The run so far, all its slices (counts only: ids and numbers, never what was removed).
        so_far = Report(
            counts=Counter(values["counts"]),
            provider_deleted=values["provider_deleted"],
            provider_failed=values["provider_failed"],
            audit_first_id=report.audit_first_id,
        )
        log.info("retention run %s %s: %s", run_id, state, so_far.line())
    return report


def preview(db: Database, periods: Periods, *, now: datetime | None = None) -> dict[str, int]:
    """What a run at `now` would remove, per kind and table (the provider's copies go with them)."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    with db.session() as s:
        for kind in STEPS:
            cutoff = periods.cutoff(kind, now)
            if cutoff is None:
                continue
            if kind == "audit":
                first_kept = s.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.at >= cutoff))
                older = select(func.count()).select_from(AuditEvent)
                if first_kept is not None:
                    older = older.where(AuditEvent.id < first_kept)
                counts["audit.events"] = s.scalar(older) or 0
                continue
            for name, (model, where) in expired(cutoff).items():
                if name.startswith(kind + "."):
                    counts[name] = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    return counts


def last_runs(session: Session, limit: int = 10) -> list[RetentionRun]:
    return list(session.scalars(select(RetentionRun).order_by(RetentionRun.id.desc()).limit(limit)))

"""Retention: a run over a seeded year of data removes exactly what is older than each period (a second
either side of each cutoff), here and at the loopback Twilio, keeps counts, and leaves a live case alone."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from checkin.accounts import audit, audit_chain
from checkin.accounts.models import AuditEvent
from checkin.checkins import CheckIn
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.models import Message, OutboxItem
from checkin.retention import run as retention
from checkin.retention.models import RetainedCount, RetentionRun
from checkin.retention.policy import Periods
from checkin.retention.provider import ProviderCleanupError
from checkin.voice.models import VoiceCall
from tests.conftest import FROM_NUMBER

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
PERIODS = Periods(
    message_bodies=30, voice_recordings=10, notes=60, call_records=90, assessments=120, audit=200
)
SECOND = timedelta(seconds=1)


def cutoff(kind: str) -> datetime:
    return PERIODS.cutoff(kind, NOW)


def seed_times() -> list[datetime]:
    """A year, every five days, and a second before, at and after each cutoff; oldest first."""
    times = {NOW - timedelta(days=d, hours=1) for d in range(0, 366, 5)}
    for kind in Periods.kinds():
        c = cutoff(kind)
        times |= {c - SECOND, c, c + SECOND}
    return sorted(times)


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def seed(db, fake_twilio, group, member, at: datetime, escalation_id: int) -> dict:
    """One of everything a member leaves behind, written at `at`."""
    rec = fake_twilio.add_recording(call_sid := _sid("CA"), transcription="words said on the phone")
    with db.session() as s:
        inbound = Message(
            direction="inbound",
            channel="sms",
            provider_sid=_sid("SM"),
            member_id=member.id,
            from_number=member.phone,
            to_number=FROM_NUMBER,
            body="private words",
            reply_body="our answer",
            status="received",
            created_at=at,
        )
        outbox = OutboxItem(
            idempotency_key=f"notice:{uuid.uuid4().hex}",
            to_number=member.phone,
            body="a reminder",
            member_id=member.id,
            state="sent",
            created_at=at,
        )
        s.add_all([inbound, outbox])
        s.flush()
        outbound = Message(
            direction="outbound",
            channel="sms",
            provider_sid=_sid("SM"),
            member_id=member.id,
            from_number=FROM_NUMBER,
            to_number=member.phone,
            body="a reminder",
            status="delivered",
            outbox_id=outbox.id,
            created_at=at,
        )
        spoken = Message(
            direction="inbound",
            channel="voice",
            provider_sid=f"{call_sid}:checkin",
            member_id=member.id,
            from_number=member.phone,
            to_number="",
            body="said aloud",
            status="received",
            created_at=at,
        )
        s.add_all([outbound, spoken])
        s.flush()
        sms_checkin = CheckIn(
            member_id=member.id, group_id=group.id, channel="sms", state="answered", score=3, words="tired",
            message_id=inbound.id, answered_at=at, created_at=at,
        )  # fmt: skip
        voice_checkin = CheckIn(
            member_id=member.id, group_id=group.id, channel="voice", state="answered", score=2,
            words="words said on the phone", recording_url=rec["url"], call_sid=call_sid,
            answered_at=at, created_at=at,
        )  # fmt: skip
        s.add_all([sms_checkin, voice_checkin])
        s.flush()
        call = VoiceCall(
            call_sid=call_sid,
            direction="inbound",
            member_id=member.id,
            group_id=group.id,
            status="completed",
            checkin_id=voice_checkin.id,
            recording_url=rec["url"],
            created_at=at,
        )
        s.add(call)
        s.flush()
        # A voicemail noted on the case names the recording's link.
        s.add(
            EscalationEvent(
                escalation_id=escalation_id,
                kind="note",
                at=at,
                detail=f"voice message from call {call.id}: {rec['url']}",
            )
        )
        s.add(
            AssessmentRecord(
                message_id=inbound.id,
                member_id=member.id,
                level="watch",
                rules=["mood.low"],
                escalation_id=escalation_id,
                created_at=at,
            )
        )
        s.add(
            EscalationEvent(escalation_id=escalation_id, kind="note", at=at, note="spoke to them, fine now")
        )
        s.add(EscalationEvent(escalation_id=escalation_id, kind="assessed", at=at, detail="mood.low"))
        audit(s, "view_member", None, member_id=member.id, now=at)
    return {"call_sid": call_sid, "recording": rec["sid"], "transcription": rec["transcription_sid"]}


def open_case(db, member, group, state):
    with db.session() as s:
        esc = Escalation(member_id=member.id, group_id=group.id, level="urgent", state=state, opened_at=NOW)
        s.add(esc)
        s.flush()
        return esc.id


@pytest.fixture
def year(db, fake_twilio, group, member):
    from checkin.directory import add_member

    with db.session() as s:
        other = add_member(s, group.name, "+12025550109", "Alex Live")
    resolved = open_case(db, member, group, "resolved")
    live = open_case(db, other, group, "open")
    seeded = {at: seed(db, fake_twilio, group, member, at, resolved) for at in seed_times()}
    # A member whose case is still live: their data a year old is kept until the case is resolved.
    live_seeded = seed(db, fake_twilio, group, other, NOW - timedelta(days=300), live)
    return {"seeded": seeded, "member": member, "other": other, "live": live_seeded}


def _delete_paths(fake_twilio, collection: str) -> set[str]:
    return {
        r["path"].rsplit("/", 1)[1].removesuffix(".json")
        for r in fake_twilio.requests()
        if r["method"] == "DELETE" and f"/{collection}/" in r["path"]
    }


def test_a_run_over_a_year_removes_exactly_what_is_older_than_each_period(
    db, fake_twilio, runtime, group, year
):
    member = year["member"]
    seeded = year["seeded"]
    with db.session() as s:
        messages_before = s.scalar(select(func.count()).select_from(Message))
    preview = retention.preview(db, PERIODS, now=NOW)

    report = retention.run(db, runtime.provider_data, PERIODS, now=NOW, batch=7)

    assert report.complete and report.provider_failed == 0
    with db.session() as s:
        # Message bodies: cleared before the cutoff, kept from it on; the rows stay (counts hold).
        assert s.scalar(select(func.count()).select_from(Message)) == messages_before
        for m in s.scalars(select(Message).where(Message.member_id == member.id, Message.channel == "sms")):
            expired = m.created_at < cutoff("message_bodies")
            assert (m.body is None) == expired, m.created_at
            if m.direction == "inbound":
                assert (m.reply_body is None) == expired
        for o in s.scalars(select(OutboxItem).where(OutboxItem.member_id == member.id)):
            assert (o.body is None) == (o.created_at < cutoff("message_bodies"))
        for c in s.scalars(select(CheckIn).where(CheckIn.member_id == member.id)):
            kind = "voice_recordings" if c.channel == "voice" else "message_bodies"
            assert (c.words is None) == (c.created_at < cutoff(kind)), (c.channel, c.created_at)
            if c.channel == "voice":
                assert (c.recording_url is None) == (c.created_at < cutoff("voice_recordings"))
        for m in s.scalars(select(Message).where(Message.member_id == member.id, Message.channel == "voice")):
            assert (m.body is None) == (m.created_at < cutoff("voice_recordings"))
        # Call records: gone before their cutoff; recordings' links gone before theirs.
        calls = {c.call_sid: c for c in s.scalars(select(VoiceCall).where(VoiceCall.member_id == member.id))}
        for at, ids in seeded.items():
            assert (ids["call_sid"] in calls) == (at >= cutoff("call_records")), at
            if ids["call_sid"] in calls:
                assert (calls[ids["call_sid"]].recording_url is None) == (at < cutoff("voice_recordings"))
        # A voicemail noted on a case keeps its note, not the recording's link.
        for e in s.scalars(
            select(EscalationEvent).where(EscalationEvent.detail.like("voice message from call %"))
        ):
            if e.escalation_id != year_live_case(s, year):
                assert ("recording deleted (retention)" in e.detail) == (e.at < cutoff("voice_recordings")), (
                    e.at
                )
                assert ("https://" in e.detail) == (e.at >= cutoff("voice_recordings"))
        # Notes and the rule ids on cases' events.
        for e in s.scalars(
            select(EscalationEvent).where(EscalationEvent.kind == "note", EscalationEvent.detail.is_(None))
        ):
            if e.escalation_id != year_live_case(s, year):
                assert (e.note is None) == (e.at < cutoff("notes")), e.at
        for e in s.scalars(select(EscalationEvent).where(EscalationEvent.kind == "assessed")):
            if e.escalation_id != year_live_case(s, year):
                assert (e.detail is None) == (e.at < cutoff("assessments")), e.at
        # Assessments: deleted before the cutoff, counted per group, month and level.
        kept = s.scalars(
            select(AssessmentRecord.created_at).where(AssessmentRecord.member_id == member.id)
        ).all()
        assert sorted(kept) == [at for at in seeded if at >= cutoff("assessments")]
        counted = {
            (c.month, c.label): c.count
            for c in s.scalars(select(RetainedCount).where(RetainedCount.kind == "assessments"))
        }
        assert counted == Counter((f"{at:%Y-%m}", "watch") for at in seeded if at < cutoff("assessments"))
        calls_counted = s.scalar(
            select(func.sum(RetainedCount.count)).where(
                RetainedCount.kind == "calls", RetainedCount.label == "inbound"
            )
        )
        assert calls_counted == sum(1 for at in seeded if at < cutoff("call_records"))
        assert {c.group_id for c in s.scalars(select(RetainedCount))} == {group.id}
        # Audit: the whole oldest prefix by id, and where the chain now starts. The live member's row,
        # written last though dated earlier, is after the first kept row: it stays.
        # The cut is itself a row (appended before it), and the chain still verifies.
        audit_rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [a.at for a in audit_rows[:-1]] == [at for at in seeded if at >= cutoff("audit")] + [
            NOW - timedelta(days=300)
        ]
        assert audit_rows[-1].action == "retention"
        assert report.audit_first_id == audit_rows[0].id
        assert audit_chain.verify(s).ok
        run_row = s.get(RetentionRun, report.run_id)
        assert run_row.finished_at is not None and run_row.counts == dict(report.counts)

    # The dry run said exactly this.
    assert {k: v for k, v in preview.items() if v} == dict(report.counts)

    # Twilio: each expired recording and its transcription deleted, nothing newer; expired messages and calls.
    expired = [ids for at, ids in seeded.items() if at < cutoff("voice_recordings")]
    assert {ids["recording"] for ids in expired} <= _delete_paths(fake_twilio, "Recordings")
    assert {ids["transcription"] for ids in expired} <= _delete_paths(fake_twilio, "Transcriptions")
    held = {r["sid"] for r in fake_twilio.recordings()}
    assert held == {ids["recording"] for at, ids in seeded.items() if at >= cutoff("voice_recordings")} | {
        year["live"]["recording"]
    }
    assert {t["recording_sid"] for t in fake_twilio.transcriptions()} == held
    assert _delete_paths(fake_twilio, "Calls") == {
        ids["call_sid"] for at, ids in seeded.items() if at < cutoff("call_records")
    }
    with db.session() as s:
        expired_sms = set(
            s.scalars(
                select(Message.provider_sid).where(
                    Message.channel == "sms", Message.created_at < cutoff("message_bodies")
                )
            )
        )
    assert _delete_paths(fake_twilio, "Messages") == expired_sms - set(live_sms(db, year))


def year_live_case(session, year) -> int:
    return session.scalar(select(Escalation.id).where(Escalation.member_id == year["other"].id))


def live_sms(db, year) -> list[str]:
    with db.session() as s:
        return s.scalars(select(Message.provider_sid).where(Message.member_id == year["other"].id)).all()


def test_a_live_case_keeps_its_members_data(db, runtime, fake_twilio, year):
    retention.run(db, runtime.provider_data, PERIODS, now=NOW)
    other = year["other"]
    with db.session() as s:
        assert all(m.body for m in s.scalars(select(Message).where(Message.member_id == other.id)))
        assert s.scalar(select(VoiceCall.recording_url).where(VoiceCall.member_id == other.id))
        assert (
            s.scalar(
                select(func.count())
                .select_from(AssessmentRecord)
                .where(AssessmentRecord.member_id == other.id)
            )
            == 1
        )
        live = year_live_case(s, year)
        assert s.scalar(
            select(EscalationEvent.note).where(
                EscalationEvent.escalation_id == live,
                EscalationEvent.kind == "note",
                EscalationEvent.detail.is_(None),
            )
        )
    assert year["live"]["recording"] in {r["sid"] for r in fake_twilio.recordings()}


def test_a_second_run_removes_and_counts_nothing_twice(db, runtime, fake_twilio, year):
    retention.run(db, runtime.provider_data, PERIODS, now=NOW)
    with db.session() as s:
        counts = sorted((c.kind, c.month, c.label, c.count) for c in s.scalars(select(RetainedCount)))
    again = retention.run(db, runtime.provider_data, PERIODS, now=NOW)
    assert {k: v for k, v in again.counts.items() if v} == {} and again.provider_deleted == 0
    with db.session() as s:
        assert sorted((c.kind, c.month, c.label, c.count) for c in s.scalars(select(RetainedCount))) == counts


def test_a_twilio_failure_keeps_the_recording_link_for_the_next_run(db, runtime, fake_twilio, group, member):
    with db.session() as s:
        resolved = Escalation(member_id=member.id, group_id=group.id, level="urgent", state="resolved")
        s.add(resolved)
        s.flush()
        resolved_id = resolved.id
    ids = seed(db, fake_twilio, group, member, NOW - timedelta(days=20), resolved_id)
    fake_twilio.fail_next(status=500, resource="recordings")

    first = retention.run(db, runtime.provider_data, PERIODS, now=NOW)

    assert first.provider_failed == 1
    with db.session() as s:
        assert s.scalar(select(VoiceCall.recording_url).where(VoiceCall.call_sid == ids["call_sid"]))
    second = retention.run(db, runtime.provider_data, PERIODS, now=NOW)
    assert second.provider_failed == 0
    with db.session() as s:
        assert s.scalar(select(VoiceCall.recording_url).where(VoiceCall.call_sid == ids["call_sid"])) is None
    assert fake_twilio.recordings() == [] and fake_twilio.transcriptions() == []


def test_a_run_out_of_time_is_continued_as_the_same_run(db, runtime, fake_twilio, year, caplog):
    caplog.set_level(logging.INFO, logger="checkin.retention")
    first = retention.run(db, runtime.provider_data, PERIODS, now=NOW, seconds=0)
    assert not first.complete
    slices = 1
    report = first
    while not report.complete:
        report = retention.run(db, runtime.provider_data, PERIODS, seconds=0.5, run_id=first.run_id)
        slices += 1
        assert slices < 500
    with db.session() as s:
        runs = s.scalars(select(RetentionRun)).all()
        assert len(runs) == 1 and runs[0].finished_at is not None
        assert runs[0].counts["call_records.calls"] == sum(
            1 for at in year["seeded"] if at < cutoff("call_records")
        )
        assert (
            s.scalar(
                select(func.count())
                .select_from(VoiceCall)
                .where(
                    VoiceCall.created_at < cutoff("call_records"), VoiceCall.member_id == year["member"].id
                )
            )
            == 0
        )
    done = [r.getMessage() for r in caplog.records if "done" in r.getMessage()]
    assert done and done[-1].startswith(f"retention run {first.run_id} done: ")
    assert "call_records.calls=" in done[-1]


def test_the_nightly_job_runs_in_slices_on_the_outbox_queue(runtime, monkeypatch):
    from rq import Queue

    from workers import retention_jobs

    monkeypatch.setattr(retention_jobs, "SLICE_SECONDS", 0)
    assert retention_jobs.run(runtime=runtime).endswith("continues")
    queue = Queue(retention_jobs.QUEUE, connection=runtime.redis)
    assert [(j.func_name, j.args) for j in queue.jobs] == [("workers.retention_jobs.run", (1, 2))]
    # A night's run has a limit on its slices: the rest waits for the next night.
    queue.empty()
    assert retention_jobs.run(1, retention_jobs.MAX_SLICES, runtime=runtime).endswith("continues")
    assert queue.jobs == []


def test_the_twilio_adapter_deletes_transcriptions_then_recordings_and_gone_is_done(settings, fake_twilio):
    from checkin.adapters.twilio_cleanup import TwilioDataCleanup

    cleanup = TwilioDataCleanup(settings)
    call_sid = _sid("CA")
    first = fake_twilio.add_recording(call_sid, transcription="one")
    second = fake_twilio.add_recording(call_sid)
    kept = fake_twilio.add_recording(_sid("CA"), transcription="another call's")

    assert cleanup.delete_call_recordings(call_sid, []) == 3
    deleted = fake_twilio.deleted()
    assert sorted(deleted) == sorted(
        [
            ("Transcriptions", first["transcription_sid"]),
            ("Recordings", first["sid"]),
            ("Recordings", second["sid"]),
        ]
    )
    # A recording's transcription goes before it (deleting a recording leaves its transcriptions).
    assert deleted.index(("Transcriptions", first["transcription_sid"])) < deleted.index(
        ("Recordings", first["sid"])
    )
    assert [r["sid"] for r in fake_twilio.recordings()] == [kept["sid"]]
    # Already gone (404s) is done, not a failure: a run that stopped half-way is simply run again.
    assert cleanup.delete_call_recordings(call_sid, [first["sid"]]) == 0
    cleanup.delete_message(_sid("SM"))
    cleanup.delete_call(call_sid)
    fake_twilio.fail_next(status=503, resource="messages")
    with pytest.raises(ProviderCleanupError, match="503"):
        cleanup.delete_message(_sid("SM"))


def test_a_provider_that_keeps_failing_is_not_asked_again_that_night(db, runtime, fake_twilio, group, member):
    resolved = open_case(db, member, group, "resolved")
    for days in (40, 41, 42, 43):
        seed(db, fake_twilio, group, member, NOW - timedelta(days=days), resolved)
    fake_twilio.fail_always(status=503, resource="messages")

    first = retention.run(db, runtime.provider_data, PERIODS, now=NOW)

    assert first.complete and first.provider_failed == retention.PROVIDER_GIVE_UP
    assert len(_delete_paths(fake_twilio, "Messages")) == retention.PROVIDER_GIVE_UP
    with db.session() as s:
        assert all(s.scalars(select(Message.body).where(Message.channel == "sms")))
    assert len(fake_twilio.recordings()) == 4  # not asked either: the next run deletes them

    fake_twilio.clear_failures()
    second = retention.run(db, runtime.provider_data, PERIODS, now=NOW)
    assert second.provider_failed == 0
    with db.session() as s:
        assert not any(s.scalars(select(Message.body).where(Message.channel == "sms")))
    assert fake_twilio.recordings() == []

"""Erasing a member (`checkin members erase`): afterwards no table (decrypted) and no log line holds their
number, name or words; the counts per group are the same; Twilio's copies are deleted through the real
twilio library against the loopback server; the audit log says who erased whom; and a later text or
STOP from the number is recognised as theirs and never answered."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from checkin import outbox
from checkin.accounts import audit_chain
from checkin.accounts.models import AuditEvent
from checkin.checkins import CheckIn
from checkin.db import Base, utcnow
from checkin.directory import add_member
from checkin.escalation.models import AssessmentRecord, Escalation
from checkin.member_data.models import ProviderDeletion
from checkin.messaging import OutboundCall
from checkin.models import ConsentEvent, GroupMember, Member, Message, OutboxItem
from checkin.voice.models import VoiceCall
from tests.conftest import FROM_NUMBER, deliver_due, deliver_item, open_checkin
from tests.console_helpers import make_staff

PHONE = "+12025550123"
NAME = "Zebulon Quartermaine"
FACILITATOR_PHONE = "+12025550190"
CRISIS = "I am going to kill myself tonight with the pills"
CHECKIN_WORDS = "4 quietly hopeful about the allotment"
TRANSCRIPT = "the marrows came up purple this year"
NOTE = "spoke with Zebulon about his allotment, he is safe"
# What must be gone: the number as stored and as people write it, the name, and the member's words.
NEEDLES = (PHONE, "2025550123", "Zebulon", "Quartermaine", CRISIS, "allotment", TRANSCRIPT, "marrows")


@pytest.fixture
def people(db, group):
    with db.session() as s:
        member = add_member(s, group.name, PHONE, NAME)
        bystander = add_member(s, group.name, "+12025550124", "Bea Bystander")
    coordinator = make_staff(db, "Casey", "casey@example.org", "coordinator")
    facilitator = make_staff(
        db, "Frankie", "frankie@example.org", "facilitator", [group.name], FACILITATOR_PHONE
    )
    return member, bystander, coordinator, facilitator


def _call_member(runtime):
    """A call to the member placed at the loopback Twilio (which then holds its record)."""
    return runtime.port.place_call(
        OutboundCall(
            to=PHONE,
            twiml_url="https://checkin.example.org/twilio/voice/outbound",
            from_=FROM_NUMBER,
            status_callback=None,
            outbox_id=0,
        )
    )


def _history(runtime, db, twilio, fake_twilio, member, group):
    """What a member leaves behind: a crisis text and its case with alerts delivered by Twilio, a resolved
    case with a note, a check-in answered in words, a voice call with a recording and its transcription,
    and a reminder still pending."""
    open_checkin(db, member, group, f"prompt:{member.id}:test")
    assert twilio.sms(PHONE, CHECKIN_WORDS).status_code == 200
    assert twilio.sms(PHONE, CRISIS).status_code == 200
    deliver_due(runtime, utcnow())
    assert any("Zebulon" in (m.get("body") or "") for m in fake_twilio.messages()), (
        "the alert names the member"
    )
    with db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == member.id))
    listed = twilio.sms(FACILITATOR_PHONE, "LIST").get_data(as_text=True)
    assert "Zebulon" in listed  # the LIST answer (kept with the facilitator's message) names them
    assert twilio.sms(FACILITATOR_PHONE, f"RESOLVE {esc.id} {NOTE}").status_code == 200
    # A voice check-in: the call at Twilio, its recording and transcription, and our rows for them.
    call = _call_member(runtime)
    recording = fake_twilio.add_recording(call.sid, transcription=TRANSCRIPT)
    recording_sid, transcription_sids = recording["sid"], [recording["transcription_sid"]]
    with db.session() as s:
        checkin = CheckIn(
            member_id=member.id,
            group_id=group.id,
            channel="voice",
            state="answered",
            score=3,
            words=TRANSCRIPT,
            recording_url=recording["url"],
            call_sid=call.sid,
            answered_at=utcnow(),
        )
        s.add(checkin)
        s.flush()
        s.add(
            VoiceCall(
                call_sid=call.sid,
                direction="outbound",
                member_id=member.id,
                group_id=group.id,
                kind="prompt",
                status="completed",
                checkin_id=checkin.id,
                recording_url=recording["url"],
            )
        )
        outbox.add(
            s,
            f"reminder:{member.id}:20991231T2300Z:24h",
            to=PHONE,
            member_id=member.id,
            body="Reminder: Tuesday Group meets tomorrow",
            not_before=utcnow() + timedelta(days=1),
        )
    return call.sid, recording_sid, transcription_sids


def _counts(db) -> dict:
    """What the group's reports count: members, check-ins (and scores), cases by level, verdicts, messages."""
    with db.session() as s:
        return {
            "members": dict(
                s.execute(select(GroupMember.group_id, func.count()).group_by(GroupMember.group_id)).all()
            ),
            "checkins": sorted(s.execute(select(CheckIn.group_id, CheckIn.state, CheckIn.score)).all()),
            "escalations": sorted(
                s.execute(select(Escalation.group_id, Escalation.level, Escalation.state)).all()
            ),
            "assessments": sorted(
                s.execute(select(AssessmentRecord.level, func.count()).group_by(AssessmentRecord.level)).all()
            ),
            "messages": sorted(
                s.execute(select(Message.direction, func.count()).group_by(Message.direction)).all()
            ),
        }


def _every_value(db) -> list[tuple[str, str]]:
    """(table, text) of every value of every column of every table, encrypted columns decrypted."""
    found = []
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)).all():
                found += [(table.name, str(value)) for value in row if value is not None]
    return found


def _erase(app, *args, **kw):
    from checkin.cli import cli

    return app.test_cli_runner().invoke(cli, ["members", "erase", *args], **kw)


def test_erasure_leaves_nothing_of_them_keeps_counts_and_a_later_stop_is_honoured(
    app, runtime, db, twilio, fake_twilio, group, people, caplog
):
    caplog.set_level(logging.INFO)
    member, bystander, coordinator, _ = people
    call_sid, recording_sid, transcription_sids = _history(runtime, db, twilio, fake_twilio, member, group)
    before = _counts(db)
    assert any(PHONE in text for _, text in _every_value(db))  # the scan does see the number before
    alert_sids = {
        m["sid"] for m in fake_twilio.messages() if m["to"] == FACILITATOR_PHONE and "Zebulon" in m["body"]
    }

    result = _erase(app, "--phone", "(202) 555-0123", "--by", "casey@example.org", "--yes")

    assert result.exit_code == 0, result.output
    assert f"member {member.id} erased: now 'Erased member #{member.id}'" in result.output
    assert "1 pending send(s) cancelled" in result.output
    leaks = [(table, text) for table, text in _every_value(db) for n in NEEDLES if n.lower() in text.lower()]
    assert leaks == []
    # The logs this test produced (every line of them is also scanned for numbers and words by tests/logscan.py).
    assert not [n for n in NEEDLES if n.lower() in caplog.text.lower()]
    assert _counts(db) == before
    with db.session() as s:
        assert audit_chain.verify(s).ok  # erasure edits no audit row: the chain still verifies
        erased = s.get(Member, member.id)
        assert (erased.display_name, erased.phone, erased.status) == (
            f"Erased member #{member.id}",
            None,
            "opted_out",
        )
        assert s.get(Member, bystander.id).phone == "+12025550124"  # nobody else is touched
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "member_erased")).all()
        assert (event.staff_id, event.member_id) == (coordinator.id, member.id) and "via cli" in event.detail
        consent = [
            (c.kind, c.source)
            for c in s.scalars(select(ConsentEvent).where(ConsentEvent.member_id == member.id))
        ]
        assert consent == [
            ("opt_in", "staff"),
            ("opt_out", "erasure"),
        ]  # the evidence stays, without the number
        [reminder] = s.scalars(select(OutboxItem).where(OutboxItem.idempotency_key.like("reminder:%"))).all()
        assert (reminder.state, reminder.body) == ("cancelled", None)
        assert (
            s.scalar(
                select(func.count()).select_from(ProviderDeletion).where(ProviderDeletion.done_at.is_(None))
            )
            == 0
        )
    # Twilio's copies: the alerts that named them, the call, the recording and its transcription.
    deleted = set(fake_twilio.deleted())
    assert {("Messages", sid) for sid in alert_sids} <= deleted
    assert {("Calls", call_sid), ("Recordings", recording_sid)} | {
        ("Transcriptions", t) for t in transcription_sids
    } <= deleted
    assert fake_twilio.recordings() == [] and fake_twilio.transcriptions() == []

    # Later, the same number texts STOP, and then something else: recognised, recorded, never answered.
    sent_before = len(fake_twilio.messages())
    stop = twilio.sms(PHONE, "STOP")
    hello = twilio.sms(PHONE, "hello is anyone there")
    assert "<Message" not in stop.get_data(as_text=True) and "<Message" not in hello.get_data(as_text=True)
    with db.session() as s:
        last = s.scalars(
            select(ConsentEvent).where(ConsentEvent.member_id == member.id).order_by(ConsentEvent.id)
        ).all()[-1]
        assert (last.kind, last.source) == ("opt_out", "keyword:STOP")
        stored = s.get(Message, last.message_id)
        assert (stored.member_id, stored.from_number, stored.body) == (member.id, "erased", None)
        item, _ = outbox.add(s, "notice:after-erasure", to=PHONE, body="We miss you at the group")
    assert deliver_item(runtime, item.id).state == "cancelled"
    assert len(fake_twilio.messages()) == sent_before


def test_a_crisis_from_an_erased_number_is_still_a_case_but_not_answered(
    app, db, twilio, fake_twilio, group, people
):
    member, *_ = people
    assert _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes").exit_code == 0
    response = twilio.sms(PHONE, "I am going to kill myself tonight")
    assert "<Message" not in response.get_data(as_text=True)  # they opted out for good: nothing is texted
    with db.session() as s:
        [esc] = s.scalars(select(Escalation)).all()
        assert esc.level == "crisis" and esc.member_id is None  # the coordinators are paged, with the number


def test_the_number_can_join_again_as_a_new_member(app, db, runtime, fake_twilio, group, people):
    member, *_ = people
    assert _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes").exit_code == 0
    with db.session() as s:
        again = add_member(s, group.name, PHONE, "Zeb Again")
        item, _ = outbox.add(
            s, "notice:welcome-back", to=PHONE, member_id=again.id, body="Welcome back to the group"
        )
    assert again.id != member.id
    assert deliver_item(runtime, item.id).state == "sent"


def test_erase_errors_are_one_line_and_change_nothing(app, db, group, people):
    member, *_ = people
    cases = [
        (["--phone", "not a number", "--by", "casey@example.org"], "--phone:"),
        (["--phone", "+12025550999", "--by", "casey@example.org"], "no member has that phone number"),
        (
            ["--phone", PHONE, "--by", "nobody@example.org"],
            "--by: no active staff user with email 'nobody@example.org'",
        ),
        (["--phone", PHONE, "--by", "frankie@example.org"], "--by: only a coordinator may erase"),
    ]
    for args, error in cases:
        result = _erase(app, *args, "--yes")
        assert result.exit_code == 1 and error in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes").exit_code == 0
    again = _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes")
    assert again.exit_code == 1 and f"that number was member {member.id}'s, erased on" in again.output
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "member_erased"))
            == 1
        )


def test_erase_asks_before_it_erases(app, db, group, people):
    result = _erase(app, "--phone", PHONE, "--by", "casey@example.org", input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    with db.session() as s:
        assert s.scalar(select(Member.display_name).where(Member.phone == PHONE)) == NAME


def test_twilio_deletions_that_fail_wait_for_the_cleanup(
    app, db, runtime, twilio, fake_twilio, group, people
):
    """Twilio down during the erasure: the deletions stay listed (SIDs only) and the hourly duty or the
    command deletes them once it answers."""
    from checkin.cli import cli
    from workers import jobs

    member, *_ = people
    calls = [_call_member(runtime) for _ in range(2)]
    with db.session() as s:
        for call in calls:
            s.add(VoiceCall(call_sid=call.sid, direction="outbound", member_id=member.id, group_id=group.id))
    fake_twilio.fail_always(status=503, resource="calls")
    result = _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes")
    assert result.exit_code == 0 and "2 could not be deleted yet" in result.output, result.output
    with db.session() as s:
        waiting = s.scalars(select(ProviderDeletion).where(ProviderDeletion.done_at.is_(None))).all()
        assert [(d.kind, d.attempts) for d in waiting] == [("call", 1), ("call", 1)]
        assert all("503" in d.last_error for d in waiting)
    fake_twilio.clear_failures()

    assert jobs.provider_cleanup(limit=1, runtime=runtime) == 1  # the cron duty, one at a time here
    cleanup = app.test_cli_runner().invoke(cli, ["members", "provider-cleanup"])
    assert "Twilio: 1 record(s) deleted, 0 already gone" in cleanup.output, cleanup.output
    assert {("Calls", c.sid) for c in calls} <= set(fake_twilio.deleted())
    with db.session() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(ProviderDeletion).where(ProviderDeletion.done_at.is_(None))
            )
            == 0
        )


def test_without_the_database_an_erased_number_still_gets_no_answer(app, runtime, db, group, people):
    """The answer given while storage is down (the spool's) knows erased numbers too, by their hash."""
    from checkin import consent
    from checkin.inbound import reply_without_storage

    assert _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes").exit_code == 0
    known = consent.OptedOutNumbers()
    known.refresh_if_due(db.session)
    assert PHONE in known and "+12025550124" not in known
    assert reply_without_storage("STOP", PHONE, known) == (None, "none")
    assert (
        reply_without_storage("STOP", "+12025550124", known)[0] is not None
    )  # someone else's STOP is confirmed


def test_a_member_with_a_live_case_is_not_erased_until_it_is_resolved(app, db, twilio, group, people):
    """Staff paged for a live case would lose the name and the number to call back."""
    member, *_ = people
    assert twilio.sms(PHONE, CRISIS).status_code == 200
    refused = _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes")
    assert (
        refused.exit_code == 1
        and f"member {member.id} has a live crisis case (#1): resolve it" in refused.output
    )
    with db.session() as s:
        assert s.get(Member, member.id).phone == PHONE
    assert twilio.sms(FACILITATOR_PHONE, "RESOLVE 1").status_code == 200
    assert _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes").exit_code == 0


def test_an_erased_members_waiting_conversation_leaves_the_inbox(app, db, twilio, group, people):
    from checkin.inbox import conversations

    member, *_ = people
    assert twilio.sms(PHONE, "is there parking near the library?").status_code == 200
    with db.session() as s:
        assert [c.member_id for c in conversations.listing(s, None)] == [member.id]
    assert _erase(app, "--phone", PHONE, "--by", "casey@example.org", "--yes").exit_code == 0
    with db.session() as s:
        assert conversations.listing(s, None) == []  # nothing there for a person to answer

"""Escalation: assessing inbound texts, opening and attaching, facilitators' SMS commands,
timers with a fake clock, and failed alerts falling back. Real PostgreSQL and Redis.

The rules engine is replaced here by a stub with fixed words (CRISIS, URGENT, WATCH), so these
tests are about escalation, not about the rules; test_escalation_e2e.py uses the real engine.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from sqlalchemy import func, select

import checkin.rules
from checkin import unit_of_work
from checkin.db import utcnow
from checkin.escalation import commands, policy, service
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.models import GroupStaff, OutboxItem
from tests.conftest import said
from tests.fake_twilio import segments_for
from tests.inbox_helpers import NOBODY_READS_SAM
from webhooks.simulate import replies_from_twiml
from workers import jobs

BASE = "https://checkin.example.org"
DANA, ELI, FAY, CORY, OTTO = "+12025550201", "+12025550202", "+12025550203", "+12025550204", "+12025550205"


# --- fixtures -----------------------------------------------------------------------------


class StubRules:
    """Deterministic levels from marker words; records the context each call was given."""

    def __init__(self):
        self.contexts = []
        self.error = None

    def __call__(self, text, language=None, context=None, second_opinion=False):
        if context is not None:  # a member's assessment (the webhook's triage of the words has none)
            self.contexts.append(context)
        if self.error:
            raise self.error
        upper = (text or "").upper()
        for level in ("CRISIS", "URGENT", "WATCH"):
            if level in upper:
                return checkin.rules.Assessment(level.lower(), (f"stub.{level.lower()}",), ())
        if context is not None and context.score == 1:
            if context.recent_scores and context.recent_scores[-1] <= 1:
                return checkin.rules.Assessment("urgent", ("history.two_lowest",), ())
            return checkin.rules.Assessment("watch", ("history.score_1",), ())
        return checkin.rules.Assessment("none", (), ())


@pytest.fixture
def rules(monkeypatch):
    stub = StubRules()
    monkeypatch.setattr(checkin.rules, "assess", stub)
    return stub


@pytest.fixture
def staff(db, group):
    """Dana and Eli (on-call primaries), Fay (backup), Cory (coordinator, no group), Otto (another group)."""
    from checkin.directory import add_group, add_staff

    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
        people = {
            "dana": add_staff(s, "Dana", "dana@example.org", "facilitator", DANA, [group.name]),
            "eli": add_staff(s, "Eli", "eli@example.org", "facilitator", ELI, [group.name]),
            "fay": add_staff(s, "Fay", "fay@example.org", "facilitator", FAY, [group.name], tier="backup"),
            "cory": add_staff(s, "Cory", "cory@example.org", "coordinator", CORY),
            "otto": add_staff(s, "Otto", "otto@example.org", "facilitator", OTTO, ["Thursday Group"]),
        }
    return people


@pytest.fixture
def ctx(runtime):
    return service.context(BASE)


def replies(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return said(response)  # in the TwiML, or by REST once decided (checkin.intake)


def alerts(db, purpose="alert"):
    with db.session() as s:
        return s.scalars(
            select(OutboxItem).where(OutboxItem.purpose == purpose).order_by(OutboxItem.id)
        ).all()


def sent_to(items, phone_of):
    """{(name, channel)} for outbox rows."""
    names = {v: k for k, v in phone_of.items()}
    return sorted((names[i.to_number], i.channel) for i in items)


PHONES = {"dana": DANA, "eli": ELI, "fay": FAY, "cory": CORY, "otto": OTTO}


def escalations(db):
    with db.session() as s:
        return s.scalars(select(Escalation).order_by(Escalation.id)).all()


def events(db, esc_id):
    with db.session() as s:
        return [
            e.kind
            for e in s.scalars(
                select(EscalationEvent)
                .where(EscalationEvent.escalation_id == esc_id)
                .order_by(EscalationEvent.id)
            )
        ]


def advance(db, now, ctx):
    with db.session() as s:
        count = service.advance(s, now, ctx)
        created = [s.get(OutboxItem, send.id) for send in unit_of_work.pending(s).sends]
    return count, created


# --- assessing every member text ------------------------------------------------------------


def test_crisis_text_is_answered_with_resources_and_pages_on_call_facilitators(
    twilio, db, runtime, rules, staff, member
):
    before = utcnow()  # the case opens between `before` and `after`: its next step is 4-5 minutes on
    answer = replies(twilio.sms(member.phone, "CRISIS words"))
    after = utcnow()
    assert answer == [
        "We hear you. A facilitator is being told. If you are in danger call 911. You can call or text 988 any time."
    ]
    [esc] = escalations(db)
    assert (esc.level, esc.state, esc.step, esc.attempt) == ("crisis", "open", 0, 1)
    assert esc.next_action_at is not None
    assert before + timedelta(minutes=4) < esc.next_action_at <= after + timedelta(minutes=5)
    items = alerts(db)
    assert sent_to(items, PHONES) == [("dana", "sms"), ("dana", "voice"), ("eli", "sms"), ("eli", "voice")]
    dana_sms = next(i for i in items if i.to_number == DANA and i.channel == "sms")
    assert (
        dana_sms.body
        == f"Checkin ALERT {esc.id} (crisis): Sam, Tuesday Group. Reply ACK {esc.id} to take it. {BASE}/console/escalations/{esc.id}"
    )
    assert dana_sms.idempotency_key == f"alert:{esc.id}:0:1:{staff['dana'].id}:sms"
    assert dana_sms.queue == "alerts" and dana_sms.from_number == "+15005550006"
    dana_call = next(i for i in items if i.to_number == DANA and i.channel == "voice")
    assert dana_call.twiml_url == f"{BASE}/twilio/voice/alert/{esc.id}"
    # Dispatched after the commit: the jobs are already on the alerts queue.
    assert Queue("alerts", connection=runtime.redis).count == 4
    assert all(i.enqueued_at is not None for i in items)
    assert events(db, esc.id) == ["assessed", "opened", "notified", "notified", "notified", "notified"]
    with db.session() as s:  # the case's history says whom, in words
        details = s.scalars(
            select(EscalationEvent.detail).where(
                EscalationEvent.escalation_id == esc.id, EscalationEvent.kind == "notified"
            )
        ).all()
    assert set(details) == {"primary tier, round 1"}
    with db.session() as s:
        record = s.scalar(select(AssessmentRecord))
        assert (record.level, record.rules, record.escalation_id) == ("crisis", ["stub.crisis"], esc.id)


def test_urgent_opens_at_urgent_level_with_sms_only(twilio, db, rules, staff, member):
    before = utcnow()  # the case opens after this
    answer = replies(twilio.sms(member.phone, "URGENT"))[0]
    assert "facilitator is being told" in answer and "988" in answer and "911" in answer
    [esc] = escalations(db)
    assert esc.level == "urgent"
    assert esc.next_action_at - before > timedelta(minutes=59)
    assert sent_to(alerts(db), PHONES) == [("dana", "sms"), ("eli", "sms")]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("level", ["crisis", "urgent"])
def test_concern_replies_fit_one_segment_and_name_988_and_911(level, language):
    from checkin import templates

    text = templates.render(level, language)
    assert segments_for(text) == 1, (len(text), text)
    assert "988" in text and "911" in text


def test_spanish_member_gets_the_reply_in_spanish_and_the_alert_says_to_call_back_in_spanish(
    twilio, db, rules, staff, spanish_member
):
    [answer] = replies(twilio.sms(spanish_member.phone, "CRISIS"))
    assert answer.startswith("Te escuchamos") and segments_for(answer) == 1
    [esc] = escalations(db)
    dana_sms = next(i for i in alerts(db) if i.to_number == DANA and i.channel == "sms")
    first = spanish_member.display_name.split()[0]
    assert dana_sms.body.startswith(
        f"Checkin ALERT {esc.id} (crisis): {first} (speaks Spanish), Tuesday Group. Reply ACK"
    )


def test_watch_is_recorded_for_the_digest_not_paged(twilio, db, rules, staff, member):
    assert replies(twilio.sms(member.phone, "WATCH this")) == [NOBODY_READS_SAM]
    assert escalations(db) == [] and alerts(db) == []
    with db.session() as s:
        assert s.scalar(select(AssessmentRecord.level)) == "watch"


def test_ordinary_text_is_assessed_none(twilio, db, rules, member):
    assert replies(twilio.sms(member.phone, "see you tuesday")) == [NOBODY_READS_SAM]
    with db.session() as s:
        assert s.scalar(select(AssessmentRecord.level)) == "none"


def test_history_of_scores_is_given_to_the_rules(twilio, db, rules, staff, member):
    # Unprompted scores carry words: a bare digit nobody asked for is neither a score nor a risk.
    for body in ("4 ok", "3/5", "hello", "1 bad"):
        twilio.sms(member.phone, body)
    scores = [(c.score, c.recent_scores) for c in rules.contexts]
    # Text without a score is judged on its words: the history is only looked up for a score.
    assert scores == [(4, ()), (3, (4,)), (None, ()), (1, (4, 3))]
    assert escalations(db) == []  # one score of 1 is watch
    twilio.sms(member.phone, "1 - bad day")  # two lowest in a row
    assert rules.contexts[-1].score == 1 and rules.contexts[-1].recent_scores == (4, 3, 1)
    [esc] = escalations(db)
    assert esc.level == "urgent"


def test_bare_scores_answer_the_newest_open_prompt_with_their_history(twilio, db, rules, member):
    from datetime import timedelta

    from checkin.checkins import CheckIn
    from checkin.db import utcnow
    from checkin.models import Message

    with db.session() as s:
        for hours in range(7, 0, -1):  # seven prompts open, the newest an hour ago
            s.add(
                CheckIn(
                    member_id=member.id,
                    prompt_key=f"prompt:{hours}",
                    prompted_at=utcnow() - timedelta(hours=hours),
                )
            )
    bodies = ["5", "4", "3", "5", "4", "3"]
    for n, body in enumerate(bodies):
        assert replies(twilio.sms(member.phone, body, sid=f"SM{n:032d}")) == [
            f"Thanks, Sam. We saved your check-in: {body} of 5."
        ]
    # Sent again by Twilio: the stored answer stands and no other prompt is answered.
    twilio.sms(member.phone, "3", sid=f"SM{5:032d}")
    # The rules had each score with the ones before it, oldest first, five at most.
    assert [(c.score, c.recent_scores) for c in rules.contexts] == [
        (5, ()),
        (4, (5,)),
        (3, (5, 4)),
        (5, (5, 4, 3)),
        (4, (5, 4, 3, 5)),
        (3, (5, 4, 3, 5, 4)),
    ]
    with db.session() as s:
        ids = {m.provider_sid: m.id for m in s.scalars(select(Message).where(Message.direction == "inbound"))}
        prompts = s.scalars(select(CheckIn).order_by(CheckIn.prompted_at.desc())).all()
        answered = [(p.state, p.score, p.words, p.channel, p.message_id) for p in prompts]
        assert all(p.answered_at is not None and p.closed_at is not None for p in prompts[:6])
    # Each answered the newest prompt still open when it came; the oldest is still open.
    assert answered == [
        ("answered", int(body), None, "sms", ids[f"SM{n:032d}"]) for n, body in enumerate(bodies)
    ] + [("open", None, None, "sms", None)]


def test_score_parsing():
    assert [
        service.parse_score(b) for b in ("1", " 5 ", "3/5", "2 - rough", "2.", "12", "1 more day", "one", "")
    ] == [1, 5, 3, 2, 2, None, None, 1, None]  # number words count too (issue 3: "three", "tres")
    # "Reply 1-5 and add words if you like": words after the score, but not a count of something.
    assert [
        service.parse_score(b) for b in ("4 good week", "1 muy mal", "2 pills left", "3 días", "4pm")
    ] == [4, 1, None, None, None]


def test_new_concerning_texts_attach_and_raise_instead_of_paging_again(twilio, db, rules, staff, member):
    twilio.sms(member.phone, "URGENT")
    assert len(alerts(db)) == 2
    twilio.sms(member.phone, "URGENT again")
    # Attached (no second case, no new wave), and the people paging it get a text about the new message.
    assert sent_to(alerts(db)[2:], PHONES) == [("dana", "sms"), ("eli", "sms")]
    assert "new urgent message from Sam" in alerts(db)[2].body
    twilio.sms(member.phone, "CRISIS now")
    [esc] = escalations(db)
    assert esc.level == "crisis" and esc.attempt == 3
    assert sent_to(alerts(db)[4:], PHONES) == [
        ("dana", "sms"),
        ("dana", "voice"),
        ("eli", "sms"),
        ("eli", "voice"),
    ]
    twilio.sms(member.phone, "CRISIS still")
    twilio.sms(member.phone, "WATCH")
    assert sent_to(alerts(db)[8:], PHONES) == [("dana", "sms"), ("eli", "sms")]  # the watch: nothing
    kinds = events(db, esc.id)
    assert kinds.count("assessed") == 5 and kinds.count("raised") == 1 and kinds.count("opened") == 1


def test_retried_webhook_does_not_page_again(twilio, db, rules, staff, member):
    sid = "SM" + "c" * 32
    first = replies(twilio.sms(member.phone, "CRISIS", sid=sid))
    second = replies(twilio.sms(member.phone, "CRISIS", sid=sid))
    assert first == second
    assert len(alerts(db)) == 4 and len(escalations(db)) == 1


def test_opted_out_member_is_escalated_but_never_texted(twilio, db, rules, staff, member):
    twilio.sms(member.phone, "STOP")
    assert replies(twilio.sms(member.phone, "CRISIS")) == []
    [esc] = escalations(db)
    assert esc.level == "crisis" and len(alerts(db)) == 4
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.to_number == member.phone))
            == 0
        )


def test_rules_engine_raising_escalates_as_urgent_and_logs_only_ids(twilio, db, rules, staff, member, caplog):
    rules.error = RuntimeError("boom with secret words")
    with caplog.at_level(logging.INFO):
        answer = replies(twilio.sms(member.phone, "something private"))
    assert "facilitator is being told" in answer[0]
    [esc] = escalations(db)
    assert esc.level == "urgent" and len(alerts(db)) == 2
    with db.session() as s:
        record = s.scalar(select(AssessmentRecord))
        assert record.rules == ["engine.error"]
    failure = [r for r in caplog.records if "risk assessment failed" in r.getMessage()]
    assert failure and any(f"message={record.message_id}" in r.getMessage() for r in failure)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "private" not in logs and "secret" not in logs and member.phone not in logs


def test_nobody_on_call_goes_straight_to_backups(twilio, db, rules, staff, member, group):
    with db.session() as s:
        for link in s.scalars(select(GroupStaff).where(GroupStaff.tier == "primary")):
            link.on_call = False
    twilio.sms(member.phone, "URGENT")
    assert sent_to(alerts(db), PHONES) == [("fay", "sms")]
    assert escalations(db)[0].step == 1


# --- facilitators' SMS commands -------------------------------------------------------------


def open_crisis(twilio, db, member):
    twilio.sms(member.phone, "CRISIS")
    return escalations(db)[-1]


def test_ack_takes_it_tells_the_others_and_cancels_pending_alerts(twilio, db, rules, staff, member):
    esc = open_crisis(twilio, db, member)
    [reply] = replies(twilio.sms(DANA, f"ACK {esc.id}"))
    assert reply.startswith(f"You have escalation {esc.id} (crisis): Sam, Tuesday Group.")
    [esc] = escalations(db)
    assert esc.state == "acknowledged" and esc.acknowledged_by == staff["dana"].id
    assert all(i.state == "cancelled" for i in alerts(db))  # not yet sent: not sent at all
    [told] = alerts(db, "alert_info")
    assert (
        told.to_number == ELI
        and told.body == f"Checkin: ALERT {esc.id} was taken by Dana. No action needed from you."
    )
    assert "acknowledged" in events(db, esc.id)
    # A second ACK, by someone else, learns who has it.
    assert replies(twilio.sms(ELI, f"ack {esc.id}")) == [f"Escalation {esc.id} was already taken by Dana."]


def test_facilitator_of_another_group_cannot_ack(twilio, db, rules, staff, member):
    esc = open_crisis(twilio, db, member)
    assert replies(twilio.sms(OTTO, f"ACK {esc.id}")) == [
        f"There is no alert {esc.id} in your groups. Reply LIST for yours."
    ]
    assert escalations(db)[0].state == "open"
    assert replies(twilio.sms(OTTO, "ACK 999")) == [
        "There is no alert 999 in your groups. Reply LIST for yours."
    ]


def test_coordinator_can_ack_any_group(twilio, db, rules, staff, member):
    esc = open_crisis(twilio, db, member)
    assert replies(twilio.sms(CORY, f"ACK {esc.id}"))[0].startswith(f"You have escalation {esc.id}")


def test_resolve_with_note_encrypted_at_rest(twilio, db, rules, staff, member):
    esc = open_crisis(twilio, db, member)
    twilio.sms(DANA, f"ACK {esc.id}")
    assert replies(twilio.sms(DANA, f"RESOLVE {esc.id} spoke with her, safe with family tonight")) == [
        f"Escalation {esc.id} resolved. Thank you."
    ]
    [esc] = escalations(db)
    assert esc.state == "resolved" and esc.resolved_by == staff["dana"].id and esc.next_action_at is None
    with db.session() as s:
        note = s.scalar(select(EscalationEvent.note).where(EscalationEvent.kind == "resolved"))
    assert note == "spoke with her, safe with family tonight"
    with db.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT note FROM escalation_events WHERE kind = 'resolved'").scalar()
    assert b"family" not in bytes(raw)
    assert replies(twilio.sms(DANA, f"RESOLVE {esc.id}")) == [f"Escalation {esc.id} is already resolved."]


def test_list_shows_open_escalations_of_my_groups(twilio, db, rules, staff, member, spanish_member):
    assert replies(twilio.sms(DANA, "LIST")) == ["No open alerts in your groups."]
    first = open_crisis(twilio, db, member)
    twilio.sms(spanish_member.phone, "URGENT")
    twilio.sms(DANA, f"ACK {first.id}")
    [reply] = replies(twilio.sms(DANA, "list"))
    assert (
        reply
        == f"Open: {first.id + 1} urgent Rosa (not taken); {first.id} crisis Sam (taken by you). Reply ACK <n> or RESOLVE <n> <note>."
    )
    assert replies(twilio.sms(OTTO, "LIST")) == ["No open alerts in your groups."]


def test_oncall_and_offcall(twilio, db, rules, staff, member, group):
    assert replies(twilio.sms(DANA, "OFFCALL")) == ["You are now OFF call for Tuesday Group."]
    with db.session() as s:
        assert s.get(GroupStaff, (group.id, staff["dana"].id)).on_call is False
    twilio.sms(member.phone, "URGENT")
    assert sent_to(alerts(db), PHONES) == [("eli", "sms")]
    assert replies(twilio.sms(DANA, "on call")) == ["You are now ON call for Tuesday Group."]
    assert replies(twilio.sms(CORY, "ONCALL")) == [
        "You are not on any group's rota. Ask a coordinator to add you."
    ]


@pytest.mark.parametrize("body", ["hello", "ACKNOWLEDGE", "LIST 3", "OFFCALL now"])
def test_unknown_commands_get_usage(twilio, rules, staff, body):
    assert replies(twilio.sms(DANA, body)) == [commands.USAGE]


def test_ack_without_a_number_asks_which(twilio, rules, staff):
    assert replies(twilio.sms(DANA, "ACK")) == ["Which alert? Reply ACK and its number, e.g. ACK 12."]


def test_staff_texts_are_not_assessed_as_members(twilio, db, rules, staff):
    # A staff number's words are not a member's (no member case, no check-in), but a crisis from it
    # still opens a case, for the coordinators (it used to reach nobody).
    twilio.sms(DANA, "CRISIS drill")
    [esc] = escalations(db)
    assert esc.member_id is None and esc.level == "crisis"
    assert {p for p, _ in sent_to(alerts(db), PHONES)} == {"cory"}


# --- timers, with a fake clock ------------------------------------------------------------


def test_widens_each_timeout_then_gives_up_loudly(twilio, db, ctx, rules, staff, member, caplog):
    esc = open_crisis(twilio, db, member)
    t0 = escalations(db)[0].next_action_at - timedelta(minutes=5)
    assert advance(db, t0 + timedelta(minutes=4), ctx) == (0, [])
    count, created = advance(db, t0 + timedelta(minutes=5, seconds=1), ctx)
    assert count == 1
    # Widened: backups join, primaries are told again.
    assert sent_to(created, PHONES) == [
        ("dana", "sms"),
        ("dana", "voice"),
        ("eli", "sms"),
        ("eli", "voice"),
        ("fay", "sms"),
        ("fay", "voice"),
    ]
    assert advance(db, t0 + timedelta(minutes=5, seconds=2), ctx) == (0, [])  # a second run is harmless
    _, created = advance(db, t0 + timedelta(minutes=10, seconds=2), ctx)
    assert ("cory", "sms") in sent_to(created, PHONES) and len(created) == 8
    with caplog.at_level(logging.ERROR):
        _, created = advance(db, t0 + timedelta(minutes=15, seconds=3), ctx)
    # The final alert goes to everyone the policy reached (it used to be the coordinators only, and
    # then nothing ever again): and the policy repeats until someone takes it.
    assert sent_to(created, PHONES) == [("cory", "sms"), ("dana", "sms"), ("eli", "sms"), ("fay", "sms")]
    assert "UNACKNOWLEDGED: nobody has taken it" in created[0].body
    [esc] = escalations(db)
    assert esc.state == "unacknowledged" and esc.next_action_at is not None
    assert any(
        r.levelname == "ERROR" and f"escalation {esc.id} UNACKNOWLEDGED" in r.getMessage()
        for r in caplog.records
    )
    _, created = advance(db, t0 + timedelta(minutes=20, seconds=4), ctx)
    assert sent_to(created, PHONES) == [("dana", "sms"), ("dana", "voice"), ("eli", "sms"), ("eli", "voice")]
    assert escalations(db)[0].state == "unacknowledged" and escalations(db)[0].step == 0
    # The member writes again while nobody has it: round the circle once more, still unacknowledged.
    twilio.sms(member.phone, "CRISIS")
    assert escalations(db)[0].state == "unacknowledged" and escalations(db)[0].step == 0


def test_repeats_resend_a_step_before_widening(app, twilio, db, rules, staff, member, runtime):
    data = {
        "default": {
            "crisis": {
                "levels": ["primary", "backup"],
                "timeout_minutes": 2,
                "repeats": 1,
                "channels": ["sms"],
            },
            "urgent": {"levels": ["primary"], "timeout_minutes": 60, "repeats": 0, "channels": ["sms"]},
        }
    }
    ctx = app.extensions["checkin.escalation"] = service.context(BASE, policy.parse(data))
    runtime.reconfigure(escalation_context=ctx)
    esc = open_crisis(twilio, db, member)
    t0 = escalations(db)[0].next_action_at - timedelta(minutes=2)
    _, created = advance(db, t0 + timedelta(minutes=2), ctx)
    assert sent_to(created, PHONES) == [("dana", "sms"), ("eli", "sms")]  # the repeat
    _, created = advance(db, t0 + timedelta(minutes=4), ctx)
    assert sent_to(created, PHONES) == [("dana", "sms"), ("eli", "sms"), ("fay", "sms")]
    keys = sorted(i.idempotency_key for i in alerts(db) if i.to_number == DANA)
    assert keys == [
        f"alert:{esc.id}:0:1:{staff['dana'].id}:sms",
        f"alert:{esc.id}:0:2:{staff['dana'].id}:sms",
        f"alert:{esc.id}:1:3:{staff['dana'].id}:sms",
    ]


def test_a_bug_in_one_case_does_not_stall_the_others_and_its_people_are_paged_directly(
    twilio, db, ctx, rules, staff, member, spanish_member, monkeypatch
):
    first = open_crisis(twilio, db, member)
    second = open_crisis(twilio, db, spanish_member)
    due = max(e.next_action_at for e in escalations(db))
    real_wave = service._wave

    def wave(session, esc, *args, **kwargs):
        if esc.id == first.id:
            raise RuntimeError("bug in this case only")
        return real_wave(session, esc, *args, **kwargs)

    monkeypatch.setattr(service, "_wave", wave)
    count, created = advance(db, due, ctx)
    assert count == 2
    assert any(
        i.idempotency_key.startswith(f"alert:{second.id}:") for i in created
    )  # the healthy case went on
    direct = [i for i in created if i.idempotency_key.startswith(f"alert:failsafe:escalation:{first.id}:")]
    assert {i.to_number for i in direct} == {DANA, ELI, FAY, CORY}  # its people, by text, at once
    assert all(f"ACK {first.id}" in i.body for i in direct)
    with db.session() as s:
        assert s.get(Escalation, first.id).next_action_at == due + timedelta(
            minutes=5
        )  # tried again, never dropped
    _, again = advance(db, due, ctx)
    assert not [i for i in again if "failsafe" in i.idempotency_key]  # once per case


def test_acknowledgement_stops_renotification_and_realerts_the_acknowledger(
    twilio, db, ctx, rules, staff, member
):
    esc = open_crisis(twilio, db, member)
    t0 = escalations(db)[0].next_action_at - timedelta(minutes=5)
    twilio.sms(ELI, f"ACK {esc.id}")
    before = len(alerts(db))
    acked_at = escalations(db)[0].acknowledged_at
    assert advance(db, t0 + timedelta(minutes=6), ctx) == (0, [])
    assert advance(db, t0 + timedelta(minutes=11), ctx) == (0, [])
    _, created = advance(db, acked_at + timedelta(minutes=30, seconds=1), ctx)
    assert sent_to(created, PHONES) == [("eli", "sms")]
    assert created[0].body.startswith(
        f"Checkin ALERT {esc.id} (crisis): Sam, Tuesday Group is still open. Reply RESOLVE {esc.id}"
    )
    twilio.sms(ELI, f"RESOLVE {esc.id}")
    assert advance(db, acked_at + timedelta(hours=3), ctx) == (0, [])
    assert len(alerts(db)) == before + 1


def test_tick_job_advances_and_schedules(runtime, twilio, db, rules, staff, member):
    from workers import escalation_jobs

    open_crisis(twilio, db, member)
    assert escalation_jobs.tick(runtime=runtime) == 0  # nothing due yet
    scheduled = runtime.redis.zcard("rq:scheduled:alerts")
    assert scheduled >= 1  # the webhook scheduled the first timeout with enqueue_at


# --- failed alerts fall back ------------------------------------------------------------------


def test_failed_sms_alert_falls_back_to_a_call_and_to_the_next_facilitator(
    runtime, twilio, db, rules, staff, member, fake_twilio
):
    runtime.reconfigure(escalation_context=service.context(BASE))
    twilio.sms(member.phone, "URGENT")
    fake_twilio.fail_always(to=DANA, status=400, code=21614, resource="messages")  # not a mobile: permanent
    dana_sms = next(i for i in alerts(db) if i.to_number == DANA)
    assert jobs.deliver(dana_sms.id, runtime=runtime) == "failed"
    new = [i for i in alerts(db) if i.id > dana_sms.id + 1]
    assert sent_to(new, PHONES) == [("dana", "voice"), ("fay", "sms")]  # Eli was already told in this wave
    esc = escalations(db)[0]
    assert [e for e in events(db, esc.id) if e == "failed"] == ["failed"]
    assert Queue("alerts", connection=runtime.redis).count >= 2  # the fallbacks were enqueued at once
    # The same failure reported again (a status callback) adds nothing.
    with db.session() as s:
        service.on_alert_outcome(s, s.get(OutboxItem, dana_sms.id), "failed", ctx=runtime.escalation)
    assert len(alerts(db)) == 4


def test_failed_alert_after_ack_does_not_page(runtime, twilio, db, rules, staff, member, fake_twilio):
    twilio.sms(member.phone, "URGENT")
    dana_sms = next(i for i in alerts(db) if i.to_number == DANA)
    fake_twilio.fail_always(to=DANA, status=400, code=21614, resource="messages")
    with db.session() as s:
        s.get(OutboxItem, dana_sms.id).state = "pending"
    twilio.sms(ELI, f"ACK {escalations(db)[0].id}")
    with db.session() as s:  # taken meanwhile: the row was cancelled; force the failure path anyway
        item = s.get(OutboxItem, dana_sms.id)
        item.state = "failed"
        service.on_alert_outcome(s, item, "failed", ctx=runtime.escalation)
    assert len(alerts(db)) == 2


# --- policy --------------------------------------------------------------------------------


def test_default_policy_matches_the_issue():
    p = policy.load()
    assert p.default.crisis.timeout_minutes == 5 and p.default.crisis.channels == ("sms", "voice")
    assert p.default.urgent.timeout_minutes == 60 and p.default.urgent.channels == ("sms",)
    assert p.default.crisis.levels == ("primary", "backup", "coordinator")
    assert p.default.realert_after_ack_minutes == 30


def test_group_override_replaces_only_what_it_names():
    p = policy.parse(
        {"default": _raw_default(), "groups": {"Tuesday Group": {"crisis": {"timeout_minutes": 3}}}}
    )
    assert p.for_group("Tuesday Group").crisis.timeout_minutes == 3
    assert p.for_group("Tuesday Group").crisis.channels == ("sms", "voice")
    assert p.for_group("Other").crisis.timeout_minutes == 5


def _raw_default():
    import tomllib

    with open(policy.DEFAULT_PATH, "rb") as fh:
        return tomllib.load(fh)["default"]


@pytest.mark.parametrize(
    "change, key",
    [
        ({"crisis": {"timeout_minutes": 0}}, "default.crisis.timeout_minutes"),
        ({"crisis": {"channels": ["pager"]}}, "default.crisis.channels"),
        ({"urgent": {"levels": ["primary", "boss"]}}, "default.urgent.levels"),
        ({"urgent": {"repeats": "two"}}, "default.urgent.repeats"),
        ({"crisis": {"timeout": 5}}, "default.crisis.timeout"),
        ({"realert_after_ack_minutes": -1}, "default.realert_after_ack_minutes"),
    ],
)
def test_malformed_policy_names_the_key(change, key):
    raw = _raw_default()
    for section, values in change.items():
        if isinstance(values, dict):
            raw[section] = dict(raw[section], **values)
        else:
            raw[section] = values
    with pytest.raises(policy.PolicyError, match=key.replace(".", r"\.")):
        policy.parse({"default": raw})


def test_malformed_policy_file_is_refused_with_file_and_key(tmp_path):
    path = tmp_path / "escalation.toml"
    path.write_text(
        '[default.crisis]\nlevels = ["primary"]\ntimeout_minutes = 5\nrepeats = 0\nchannels = ["sms"]\n'
    )
    with pytest.raises(policy.PolicyError, match=r"escalation.toml: default\.urgent: is required"):
        policy.load(path)
    path.write_text("[default\n")
    with pytest.raises(policy.PolicyError, match="not valid TOML"):
        policy.load(str(path))


# --- the daily watch digest -------------------------------------------------------------------


def test_watch_messages_reach_on_call_facilitators_in_one_daily_digest(twilio, db, rules, staff, member, ctx):

    from checkin.escalation import digest

    twilio.sms(member.phone, "WATCH feeling low")
    twilio.sms(member.phone, "WATCH still low")
    with db.session() as s:
        when = s.scalar(select(AssessmentRecord.created_at))
    # The group is in New York; the policy's digest hour is 9:00 there.
    local = when.astimezone(digest.ZoneInfo("America/New_York"))
    next_nine = local.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(
        days=1 if local.hour >= 9 else 0
    )
    before = next_nine - timedelta(minutes=1)
    at = before + timedelta(minutes=2)
    with db.session() as s:
        assert digest.send_due(s, before.astimezone(UTC), ctx) == 0  # not yet 9:00
    with db.session() as s:
        assert digest.send_due(s, at.astimezone(UTC), ctx) == 2
    with db.session() as s:
        assert digest.send_due(s, (at + timedelta(minutes=30)).astimezone(UTC), ctx) == 0  # once a day
    items = alerts(db, purpose="digest")
    assert sent_to(items, PHONES) == [("dana", "sms"), ("eli", "sms")]  # on call, not backups or other groups
    assert (
        "1 member may be struggling" in items[0].body
        and "Sam" in items[0].body
        and "low" not in items[0].body
    )


def _prompts(db, member, states, now):
    """Weekly prompts to `member` ending three weeks ago, oldest first, in `states` (open ones get closed)."""
    from checkin.checkins import CheckIn, close_stale_prompts

    with db.session() as s:
        for weeks_ago, state in zip(range(len(states) + 2, 2, -1), states):
            asked = now - timedelta(weeks=weeks_ago)
            s.add(
                CheckIn(
                    member_id=member.id,
                    group_id=None,
                    prompt_key=f"prompt:{member.id}:{weeks_ago}",
                    prompted_at=asked,
                    state=state,
                    answered_at=asked if state == "answered" else None,
                    created_at=asked,
                )
            )
        s.flush()
        close_stale_prompts(s, now)


def _digest_at_nine(db, ctx, after):

    from checkin.escalation import digest

    local = after.astimezone(digest.ZoneInfo("America/New_York"))
    nine = local.replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(
        days=1 if local.hour >= 9 else 0
    )
    with db.session() as s:
        digest.send_due(s, (nine + timedelta(minutes=1)).astimezone(UTC), ctx)
    return [i.body for i in alerts(db, purpose="digest")]


@pytest.mark.parametrize(
    "states, named",
    [
        (["open", "open", "open"], True),  # three prompts in a row nobody answered
        (["open", "open"], False),  # two is not yet a pattern
        (["open", "answered", "open", "open"], False),  # an answer broke the run
    ],
)
def test_the_digest_names_members_who_stopped_answering_their_check_ins(
    db, staff, member, ctx, states, named
):
    # The real rules engine decides (history.missed_3), not the stub the other tests use.
    now = utcnow()
    _prompts(db, member, states, now)
    bodies = _digest_at_nine(db, ctx, now)
    if named:
        assert bodies and all("Not answering check-ins: Sam." in b for b in bodies)
    else:
        assert bodies == []


# --- the rota: who is on call at the instant of the alert ---------------------------------------

SUNDAY_3AM = datetime(2026, 12, 6, 3, 0, tzinfo=ZoneInfo("America/New_York"))
TUESDAY_10AM = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.fixture
def office_hours(db, group, staff):
    """Dana and Eli work weekdays 09:00-17:00, Fay (backup) weekday evenings: nobody has the weekend."""
    from checkin import rota

    with db.session() as s:
        for name in ("dana", "eli"):
            rota.add_weekly(
                s, s.get(GroupStaff, (group.id, staff[name].id)), [1, 2, 3, 4, 5], dtime(9), dtime(17)
            )
        rota.add_weekly(
            s, s.get(GroupStaff, (group.id, staff["fay"].id)), [1, 2, 3, 4, 5], dtime(17), dtime(22)
        )
        s.commit()


def crisis_at(db, member, ctx, now, sid="SMrota1"):
    from checkin.inbound import InboundSms, receive_sms

    return receive_sms(
        db,
        InboundSms(sid, member.phone, "+15005550006", "CRISIS words"),
        context=ctx,
        now=now.astimezone(UTC),
    )


def test_nobody_on_shift_at_3am_sunday_the_coordinators_still_get_the_crisis_alert(
    db, rules, staff, member, ctx, office_hours
):
    answer = crisis_at(db, member, ctx, SUNDAY_3AM)
    assert "988" in answer.reply and "911" in answer.reply
    [esc] = escalations(db)
    assert sent_to(alerts(db), PHONES) == [("cory", "sms"), ("cory", "voice")]
    assert esc.state == "open" and esc.next_action_at is not None  # and it goes on being chased
    with db.session() as s:
        note = s.scalar(select(EscalationEvent).where(EscalationEvent.kind == "nobody_on_call"))
    assert note.detail == "nobody on call in the rota at Sun 03:00 EST; alerting 1 coordinator(s) instead"
    assert events(db, esc.id)[:3] == ["assessed", "opened", "nobody_on_call"]


def test_a_policy_without_coordinators_still_reaches_them_when_the_rota_is_empty(
    db, rules, staff, member, office_hours
):
    narrow = policy.parse(
        {
            "default": {
                "crisis": {
                    "levels": ["primary", "backup"],
                    "timeout_minutes": 5,
                    "repeats": 0,
                    "channels": ["sms"],
                },
                "urgent": {"levels": ["primary"], "timeout_minutes": 60, "repeats": 0, "channels": ["sms"]},
            }
        }
    )
    ctx = service.Context(BASE, narrow)
    crisis_at(db, member, ctx, SUNDAY_3AM)
    assert sent_to(alerts(db), PHONES) == [("cory", "sms")]
    # Nobody takes it: the coordinators get the final, unacknowledged alert too.
    advance(db, (SUNDAY_3AM + timedelta(minutes=6)).astimezone(UTC), ctx)
    [esc] = escalations(db)
    assert esc.state == "unacknowledged"
    assert sent_to(alerts(db), PHONES) == [("cory", "sms"), ("cory", "sms")]


def test_on_a_weekday_morning_the_shift_is_paged_then_the_evening_backup_is_not_widened_to(
    db, rules, staff, member, ctx, office_hours
):
    crisis_at(db, member, ctx, TUESDAY_10AM)
    assert sent_to(alerts(db), PHONES) == [
        ("dana", "sms"),
        ("dana", "voice"),
        ("eli", "sms"),
        ("eli", "voice"),
    ]
    # Five minutes on nobody has taken it: the backup step has nobody on shift, so it widens to the coordinator.
    advance(db, (TUESDAY_10AM + timedelta(minutes=6)).astimezone(UTC), ctx)
    newly = [i for i in alerts(db) if i.idempotency_key.split(":")[2] != "0"]
    assert {name for name, _ in sent_to(newly, PHONES)} == {"dana", "eli", "cory"}
    assert "nobody_on_call" not in events(db, escalations(db)[0].id)


def test_offcall_is_an_override_even_during_a_shift(
    twilio, db, rules, staff, member, group, ctx, office_hours
):
    assert replies(twilio.sms(DANA, "OFFCALL")) == ["You are now OFF call for Tuesday Group."]
    crisis_at(db, member, ctx, TUESDAY_10AM)
    assert sent_to(alerts(db), PHONES) == [("eli", "sms"), ("eli", "voice")]
    # ONCALL lifts the override; it does not put Dana on call outside her shifts.
    assert replies(twilio.sms(DANA, "ONCALL")) == [
        "You are now ON call for Tuesday Group, during your shifts."
    ]
    from checkin import rota

    with db.session() as s:
        assert staff["dana"].id in [p.id for p in rota.on_call(s, group.id, TUESDAY_10AM)]
        assert staff["dana"].id not in [p.id for p in rota.on_call(s, group.id, SUNDAY_3AM)]


def test_the_digest_goes_to_primaries_on_shift_at_the_digest_hour(
    twilio, db, rules, staff, member, group, ctx
):
    from checkin import rota
    from checkin.escalation import digest

    with db.session() as s:  # Eli works evenings only: not on call at 9:00
        rota.add_weekly(
            s, s.get(GroupStaff, (group.id, staff["eli"].id)), [1, 2, 3, 4, 5, 6, 7], dtime(18), dtime(22)
        )
        s.commit()
    twilio.sms(member.phone, "WATCH feeling low")
    local = utcnow().astimezone(ZoneInfo("America/New_York"))
    nine = local.replace(hour=9, minute=1, second=0, microsecond=0) + timedelta(
        days=1 if local.hour >= 9 else 0
    )
    with db.session() as s:
        assert digest.send_due(s, nine.astimezone(UTC), ctx) == 1
    assert sent_to(alerts(db, purpose="digest"), PHONES) == [("dana", "sms")]
    # Eli's shift starts at 18:00: the day's digest, about the 24 hours before 9:00, is not sent again to him.
    with db.session() as s:
        assert digest.send_due(s, nine.replace(hour=18).astimezone(UTC), ctx) == 0
    assert sent_to(alerts(db, purpose="digest"), PHONES) == [("dana", "sms")]


@pytest.mark.parametrize(
    "evenings_only, reader", [(("dana", "eli"), "fay"), (("dana", "eli", "fay"), "cory")]
)
def test_with_no_primary_on_shift_at_the_digest_hour_the_digest_still_reaches_someone(
    twilio, db, rules, staff, member, group, ctx, evenings_only, reader
):
    from checkin import rota
    from checkin.escalation import digest

    with db.session() as s:  # off shift at 9:00: the primaries, then the backup too
        for who in evenings_only:
            rota.add_weekly(
                s, s.get(GroupStaff, (group.id, staff[who].id)), [1, 2, 3, 4, 5, 6, 7], dtime(18), dtime(22)
            )
        s.commit()
    twilio.sms(member.phone, "WATCH feeling low")
    local = utcnow().astimezone(ZoneInfo("America/New_York"))
    nine = local.replace(hour=9, minute=1, second=0, microsecond=0) + timedelta(
        days=1 if local.hour >= 9 else 0
    )
    with db.session() as s:
        assert digest.send_due(s, nine.astimezone(UTC), ctx) >= 1
    assert sent_to(alerts(db, purpose="digest"), PHONES) == [
        (reader, "sms")
    ]  # the backup on call then, else a coordinator


# --- a number we do not know ---------------------------------------------------------------

STRANGER = "+12025550177"


def test_crisis_text_from_an_unknown_number_reaches_the_coordinator(twilio, db, staff, member):
    # Perhaps a member writing from a new phone: answered with 988/911, and a coordinator can call back.
    reply = replies_from_twiml(
        twilio.sms(STRANGER, "this is sam, new phone. i am going to kill myself tonight").get_data(
            as_text=True
        )
    )
    assert len(reply) == 1 and "988" in reply[0] and "911" in reply[0]
    sent = alerts(db)
    # A case like a member's: the crisis policy's channels (a text and a call) to the coordinator.
    assert sent_to(sent, PHONES) == [("cory", "sms"), ("cory", "voice")]
    assert STRANGER in sent[0].body and "crisis" in sent[0].body
    [esc] = escalations(db)
    assert esc.member_id is None and esc.level == "crisis"
    assert "Sam" not in reply[0] and "Tuesday" not in reply[0]  # still nothing about any member or group


def test_spanish_crisis_from_an_unknown_number_is_answered_in_spanish(twilio, db, staff):
    reply = replies(twilio.sms(STRANGER, "ya no aguanto, me voy a suicidar"))
    assert "988" in reply[0] and "Te escuchamos" in reply[0]
    assert sent_to(alerts(db), PHONES) == [("cory", "sms"), ("cory", "voice")]


# Found by an outside tester: a Spanish rule matched these English overdose texts, and the reply
# followed the rule, so an English speaker in crisis was answered in Spanish.
@pytest.mark.parametrize(
    "body",
    [
        "I took all my pills",
        "took all the pills",
        "i swallowed all my pills",
        "I took all my meds",
        "i just took 40 pills",
    ],
)
def test_english_overdose_from_an_unknown_number_is_answered_in_english(twilio, db, staff, body):
    [reply] = replies_from_twiml(twilio.sms(STRANGER, body).get_data(as_text=True))
    assert reply.startswith(("We hear you", "Thank you for telling us")) and "988" in reply
    assert "Te escuchamos" not in reply and "Gracias" not in reply
    assert escalations(db)  # still a case for the coordinator


def test_spanish_overdose_from_an_unknown_number_is_answered_in_spanish(twilio, db, staff):
    [reply] = replies_from_twiml(twilio.sms(STRANGER, "me tomé todas las pastillas").get_data(as_text=True))
    assert reply.startswith(("Te escuchamos", "Gracias por contarnos")) and "We hear you" not in reply


def test_crisis_words_that_do_not_say_their_language_are_answered_in_both(twilio, db, staff):
    # One word, in neither language's common words: English first, then Spanish.
    [reply] = replies_from_twiml(twilio.sms(STRANGER, "suicide").get_data(as_text=True))
    english, spanish = reply.split("\n\n")
    assert english.startswith(("We hear you", "Thank you for telling us")) and "988" in english
    assert spanish.startswith(("Te escuchamos", "Gracias por contarnos")) and "988" in spanish


def test_ordinary_text_from_an_unknown_number_pages_nobody(twilio, db, staff):
    reply = replies(twilio.sms(STRANGER, "who is this? this heat is killing me"))
    assert reply and "support service" in reply[0]
    assert alerts(db) == []

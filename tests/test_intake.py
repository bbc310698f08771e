"""Courier-style intake (issue 18): a routine text is stored in one statement and answered with empty
TwiML; a worker decides it once, and its reply reaches the member by REST. A crisis, urgent, STOP or
HELP text is still answered and escalated in the webhook itself, whatever the queue is doing."""

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from checkin import intake
from checkin.db import utcnow
from checkin.escalation.models import Escalation
from checkin.models import Member, Message, OutboxItem
from tests.conftest import deliver_item, zone_where_it_is
from tests.inbox_helpers import NOBODY_READS_SAM
from webhooks.simulate import replies_from_twiml
from workers import jobs

CRISIS = "I am going to kill myself tonight"


@pytest.fixture
def no_worker(runtime):
    """No worker takes the decisions the webhook asks for (as while every worker is down)."""
    asked = []
    runtime.decide_later = asked.append
    return asked


def twiml(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return replies_from_twiml(response.get_data(as_text=True))


def inbound(db, sid):
    with db.session() as s:
        return s.scalar(select(Message).where(Message.provider_sid == sid))


def texts_to(fake_twilio, phone):
    return [m["params"]["Body"] for m in fake_twilio.messages() if m["params"]["To"] == phone]


def test_a_routine_text_is_stored_answered_empty_and_its_reply_sent_once_by_rest(
    twilio, db, runtime, member, fake_twilio, no_worker
):
    sid = "SM" + "1" * 32
    assert twiml(twilio.sms(member.phone, "doing ok today", sid=sid)) == []
    stored = inbound(db, sid)
    assert (stored.status, stored.member_id, stored.body) == (intake.UNDECIDED, member.id, "doing ok today")
    assert no_worker == [stored.id]
    # The job a worker runs, twice (a retried job, or the sweeper at the same moment): decided once.
    item_id = jobs.decide_text(stored.id, runtime=runtime)
    assert jobs.decide_text(stored.id, runtime=runtime) is False
    assert deliver_item(runtime, item_id).state == "sent"
    assert texts_to(fake_twilio, member.phone) == [NOBODY_READS_SAM]
    assert inbound(db, sid).status == "received" and inbound(db, sid).reply_body == NOBODY_READS_SAM
    # Twilio retrying the webhook stores nothing and answers nothing more.
    assert twiml(twilio.sms(member.phone, "doing ok today", sid=sid)) == []
    assert no_worker == [stored.id]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 1


@pytest.mark.parametrize(
    "body, words",
    [
        (CRISIS, "988"),
        ("STOP", "no more texts"),
        ("PARAR", "no more texts"),  # Sam's language is English
        ("HELP", "988"),
    ],
)
def test_a_crisis_stop_or_help_is_answered_in_the_webhook_with_no_worker(
    twilio, db, member, group, no_worker, body, words
):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    [answer] = twiml(twilio.sms(member.phone, body))
    assert words in answer
    assert no_worker == []  # nothing waits for a worker
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Message.status == intake.UNDECIDED)) == 0
        if body in (CRISIS, "HELP"):
            assert s.scalars(select(Escalation)).one()
            alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
            assert {a.to_number for a in alerts} == {"+12025550160"}
        if body in ("STOP", "PARAR"):
            assert s.get(Member, member.id).opted_out


def test_with_redis_down_the_text_is_kept_and_the_sweeper_decides_it_after_its_grace(
    database_url, tmp_path, db, member, fake_twilio, runtime
):
    from checkin.bootstrap import Runtime
    from config import load_settings
    from tests.conftest import TwilioWebhook, make_env
    from webhooks import create_app

    env = make_env(
        database_url,
        "redis://127.0.0.1:9/0",  # nothing listens there
        fake_twilio,
        CHECKIN_INSTANCE_PATH=str(tmp_path / "i"),
    )
    down = Runtime.build(load_settings(env), db=runtime.db)
    webhook = TwilioWebhook(create_app(runtime=down).test_client(), down.settings)
    sid = "SM" + "2" * 32
    assert twiml(webhook.sms(member.phone, "doing ok today", sid=sid)) == []
    assert inbound(db, sid).status == intake.UNDECIDED
    # Within its grace the sweeper leaves it to its job; after it, the sweeper decides it.
    assert jobs.sweep_undecided(runtime=runtime) == 0
    assert intake.sweep(db, utcnow() + intake.GRACE + timedelta(seconds=1)) == 1
    assert intake.sweep(db, utcnow() + intake.GRACE + timedelta(seconds=1)) == 0
    with db.session() as s:
        [item] = s.scalars(select(OutboxItem).where(OutboxItem.purpose == intake.REPLY_PURPOSE)).all()
    assert deliver_item(runtime, item.id).state == "sent"
    assert texts_to(fake_twilio, member.phone) == [NOBODY_READS_SAM]


def test_a_reply_to_a_text_in_the_members_night_goes_at_once_but_a_late_one_waits_for_morning(
    twilio, db, runtime, member, fake_twilio, no_worker
):
    now = utcnow()
    with db.session() as s:
        s.get(Member, member.id).timezone = zone_where_it_is(3, now)
    twilio.sms(member.phone, "can't sleep, just saying hi", sid="SM" + "3" * 32)
    fresh = jobs.decide_text(no_worker[0], runtime=runtime)
    assert deliver_item(runtime, fresh).state == "sent"  # the answer to her own text, at once
    twilio.sms(member.phone, "WHEN", sid="SM" + "4" * 32)  # answered every time (free text: once a while)
    late = jobs.decide_text(no_worker[1], runtime=runtime)
    # Decided and sent long after the text (an outage): no longer an answer she waits for at 3 a.m.
    later = utcnow() + intake.FRESH_REPLY + timedelta(minutes=1)
    assert deliver_item(runtime, late, now=later).state == "held"
    assert len(texts_to(fake_twilio, member.phone)) == 1
    with db.session() as s:
        held = s.get(OutboxItem, late)
    assert held.state == "pending" and held.next_attempt_at > now + timedelta(hours=3)


def test_a_failure_while_a_worker_decides_pages_by_the_fail_safe(
    twilio, db, runtime, member, group, monkeypatch, no_worker
):
    from checkin.directory import add_staff
    from checkin.escalation import service

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])

    def broken(*args, **kwargs):
        raise RuntimeError("bug in escalation")

    monkeypatch.setattr(service, "handle_verdict", broken)
    assert twiml(twilio.sms(member.phone, "a quiet week", sid="SM" + "5" * 32)) == []
    item_id = jobs.decide_text(no_worker[0], runtime=runtime)
    with db.session() as s:
        reply = s.get(OutboxItem, item_id)
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
        assert s.scalar(select(Message.status).where(Message.id == no_worker[0])) == "received"
    assert "988" in reply.body and [a.to_number for a in alerts] == ["+12025550160"]


def test_texts_ring_once_for_a_job_that_decides_them_all_and_a_later_text_rings_again(
    twilio, db, runtime, member, fake_twilio
):
    """Production's way (checkin.adapters.rq_dispatch.ring): one Redis SET NX per text, one RQ job while
    none has yet looked; the job clears the bell before it looks, so nothing stored is left waiting."""
    from rq import Queue

    from checkin.adapters.rq_dispatch import INBOUND_QUEUE, ring
    from workers.worker import Worker

    runtime.decide_later = lambda _message_id: ring(runtime.redis)  # a ring per text
    queue = Queue(INBOUND_QUEUE, connection=runtime.redis)
    for n, body in enumerate(("doing ok today", "tired but fine", "better than yesterday")):
        assert twiml(twilio.sms(member.phone, body, sid=f"SM{n:032d}")) == []
    assert queue.count == 1
    Worker([INBOUND_QUEUE, "alerts"], connection=runtime.redis, runtime=runtime).work(burst=True)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Message.status == intake.UNDECIDED)) == 0
        replies = s.scalars(select(OutboxItem.body).where(OutboxItem.purpose == intake.REPLY_PURPOSE)).all()
    assert len(replies) == 1  # the inbox's answer, said to the first; the next two were told a moment ago
    assert texts_to(fake_twilio, member.phone)
    assert twiml(twilio.sms(member.phone, "one more thing", sid="SM" + "9" * 32)) == []
    assert queue.count == 1  # the bell rang again
    Worker([INBOUND_QUEUE], connection=runtime.redis, runtime=runtime).work(burst=True)
    assert inbound(db, "SM" + "9" * 32).status == "received"


def test_a_crisis_alert_is_not_held_behind_routine_texts_still_waiting(
    twilio, db, runtime, member, group, fake_twilio, monkeypatch
):
    """A worker takes alerts first, but only between jobs: the job deciding routine texts hands what is
    still waiting to a new job after its turn, so a crisis that arrives meanwhile is paged before the
    rest are decided. (It used to decide "until none is left": under a steady flood of texts the job
    never ended, and `bench escalation` saw no alert within a minute.)"""
    from checkin.adapters.rq_dispatch import INBOUND_QUEUE, ring
    from checkin.directory import add_staff
    from checkin.unit_of_work import ALERT_QUEUE
    from workers.worker import Worker

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    runtime.decide_later = lambda _message_id: ring(runtime.redis)  # a ring per text
    for n in range(4):
        assert twiml(twilio.sms(member.phone, f"doing ok, day {n}", sid=f"SM{n:032d}")) == []
    monkeypatch.setattr(jobs, "DECIDE_TURN_SECONDS", 0.0)  # a turn of one text
    decide, seen = intake.decide_stored, []

    def decide_and_watch(db_, message_id, **kw):
        if not seen:  # a crisis arrives while the first text is being decided
            assert twiml(twilio.sms(member.phone, CRISIS, sid="SM" + "c" * 32))
        seen.append(any(m["params"]["To"] == "+12025550160" for m in fake_twilio.messages()))
        return decide(db_, message_id, **kw)

    monkeypatch.setattr(intake, "decide_stored", decide_and_watch)
    Worker([ALERT_QUEUE, INBOUND_QUEUE], connection=runtime.redis, runtime=runtime).work(burst=True)
    assert len(seen) == 4  # every routine text decided, each once
    assert seen[0] is False and all(seen[1:]), seen  # the facilitator was alerted before text 2 was decided
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Message.status == intake.UNDECIDED)) == 0


def test_the_rules_read_every_free_text_and_a_bare_score_or_keyword_once(monkeypatch):
    """The webhook's first look at a text (intake.answers_now) keeps the rules' verdict only for a bare
    score or keyword, the same words every time; a sentence is read by the rules whenever it comes."""
    from checkin import inbound

    read = []
    real = inbound._assess_words_only

    def counted(body):
        read.append(body)
        return real(body)

    monkeypatch.setattr(inbound, "_assess_words_only", counted)
    monkeypatch.setattr(intake, "_bare_verdicts", {})
    for _ in range(3):
        assert intake.answers_now("4") == (False, "none")
        assert intake.answers_now("WHEN") == (False, "none")
        assert intake.answers_now("tired but fine") == (False, "none")
        assert intake.answers_now(CRISIS) == (True, "crisis")
    assert read.count("4") == 1 and read.count("WHEN") == 1
    assert read.count("tired but fine") == 3 and read.count(CRISIS) == 3
    # A word that is not a keyword is a sentence like any other: read each time.
    assert [intake.answers_now("hopeless")[1] for _ in range(2)] == [real("hopeless")[0]] * 2
    assert read.count("hopeless") == 2


def test_the_web_process_rings_once_for_the_texts_of_a_moment_and_again_for_a_later_one(
    twilio, db, runtime, member, fake_twilio
):
    """Production's decider (checkin.adapters.rq_dispatch.CoalescedDecider): the webhook only raises a
    flag; a thread rings after the texts were stored, once for those of the same moment, so a job finds
    them all; a text after that rings again."""
    import time

    from rq import Queue

    from checkin.adapters.rq_dispatch import DOORBELL, INBOUND_QUEUE, CoalescedDecider
    from workers.worker import Worker

    runtime.decide_later = decider = CoalescedDecider(runtime, every=1.0)
    queue = Queue(INBOUND_QUEUE, connection=runtime.redis)

    def rung(count):
        deadline = time.monotonic() + 10
        while queue.count < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return queue.count

    for n, body in enumerate(("doing ok today", "tired but fine", "better than yesterday")):
        assert twiml(twilio.sms(member.phone, body, sid=f"SM{n:032d}")) == []
    assert queue.count == 0  # nobody rang in the requests: the thread does, a moment later
    assert rung(1) == 1 and runtime.redis.exists(DOORBELL)
    Worker([INBOUND_QUEUE, "alerts"], connection=runtime.redis, runtime=runtime).work(burst=True)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(Message.status == intake.UNDECIDED)) == 0
    assert twiml(twilio.sms(member.phone, "one more thing", sid="SM" + "9" * 32)) == []
    assert rung(1) == 1  # the job answered the door: this text rang again
    decider.flush()  # nothing waiting: no second ring
    assert queue.count == 1
    Worker([INBOUND_QUEUE], connection=runtime.redis, runtime=runtime).work(burst=True)
    assert inbound(db, "SM" + "9" * 32).status == "received"


def test_a_routine_answer_still_waiting_is_dropped_once_a_later_text_was_a_crisis(
    twilio, db, runtime, member, group, fake_twilio, no_worker
):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    assert twiml(twilio.sms(member.phone, "3", sid="SM" + "7" * 32)) == []  # waits for a worker
    [crisis_reply] = twiml(twilio.sms(member.phone, CRISIS, sid="SM" + "8" * 32))
    assert "988" in crisis_reply
    # The worker comes back: "thanks for your check-in" must not follow the crisis reply.
    [stored] = no_worker
    item_id = jobs.decide_text(stored, runtime=runtime)
    assert deliver_item(runtime, item_id).state == "cancelled"
    assert texts_to(fake_twilio, member.phone) == []


def _database_gone():
    import psycopg
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT", {}, psycopg.OperationalError("connection failed: server closed"))


def test_a_database_outage_stops_the_deciding_loops_at_the_first_text_not_a_traceback_per_text(
    twilio, db, runtime, member, no_worker, monkeypatch, caplog
):
    """Deciding stored texts one by one, a text's own failure is logged and the others go on; but with
    the database gone each next text fails the same way, and the worker logged ~135 lines of traceback
    per text. The loop stops at the first, and the job fails once (the worker logs that once)."""
    for n in range(3):
        assert twiml(twilio.sms(member.phone, f"doing ok, day {n}", sid=f"SM{n:032d}")) == []
    tried = []

    def gone(_db, message_id, **_kw):
        tried.append(message_id)
        raise _database_gone()

    monkeypatch.setattr(intake, "decide_stored", gone)
    caplog.set_level(logging.INFO)
    with pytest.raises(OperationalError):
        jobs.decide_waiting(runtime=runtime, turn=60)
    with pytest.raises(OperationalError):
        intake.sweep(db, utcnow() + intake.GRACE + timedelta(seconds=1))
    assert len(tried) == 2, tried  # one text each, not all three each
    assert "deciding stored message" not in caplog.text
    # A text's own bug still costs only that text.
    tried.clear()
    monkeypatch.setattr(intake, "decide_stored", lambda _db, mid, **_kw: tried.append(mid) or 1 / 0)
    assert jobs.decide_waiting(runtime=runtime, turn=60) == 0
    assert len(tried) == 3 and caplog.text.count("deciding stored message") == 3


def test_a_worker_logs_a_database_outage_once_then_a_line_per_failed_job_and_once_when_it_is_back(
    db, runtime, monkeypatch, caplog
):
    """Every cron duty fails while the database is away (the sweeps every 2 s, the escalation tick), and
    RQ logged each with its traceback: ~770 lines in a 21 s outage. Now: the first with its traceback, a
    line per job after it, a line when a job runs again."""
    from rq import Queue

    from checkin.adapters.rq_dispatch import INBOUND_QUEUE
    from workers.worker import Worker

    real, calls = intake.undecided_ids, []

    def down_three_times(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 3:
            raise _database_gone()
        return real(*args, **kwargs)

    monkeypatch.setattr(intake, "undecided_ids", down_three_times)
    queue = Queue(INBOUND_QUEUE, connection=runtime.redis)
    for _ in range(4):
        queue.enqueue(jobs.sweep_undecided)
    caplog.set_level(logging.INFO)
    Worker([queue], connection=runtime.redis, runtime=runtime).work(burst=True)
    assert len(calls) == 4
    assert caplog.text.count("Traceback") == 1, caplog.text
    assert sum("DATABASE UNREACHABLE" in r.getMessage() for r in caplog.records) == 1
    assert sum("database is still unreachable" in r.getMessage() for r in caplog.records) == 2
    assert sum("database answers again" in r.getMessage() for r in caplog.records) == 1

"""Crisis texts from one member (or one unknown number) racing in (PostgreSQL, the signed SMS webhook): a text that joins a case
another text is adding to at that moment is a new message on a live case like any other. Its facilitator
is told, its reply keeps the promise, and nothing logs that nobody can be paged."""

import logging
import threading

from sqlalchemy import select, update

from checkin import inbound
from checkin.escalation.models import Escalation, EscalationEvent
from checkin.models import Message, OutboxItem
from tests.conftest import said
from tests.console_helpers import make_staff
from tests.test_inbound_exactly_once import _joined, _post_in_thread, _until_it_waits_for_the_lock

DANA = "+12025550201"
CORY = "+12025550204"
STRANGER = "+12025550177"
TOLD = "A facilitator is being told."


def _text(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return said(response)[0]


def test_crisis_texts_racing_onto_a_new_case_each_tell_the_facilitator(
    postgres_only, twilio, db, member, group, monkeypatch, caplog
):
    make_staff(db, "Dana", "dana@example.org", "facilitator", [group.name], DANA)
    first = _text(twilio.sms(member.phone, "I want to kill myself tonight", sid="SM" + "1" * 32))
    assert TOLD in first

    # The second text decides (attaches to the case, alerts Dana) and then waits before its commit,
    # while the third arrives: as two texts sent at the same instant.
    store_reply, reached, release = inbound._store_reply, threading.Event(), threading.Event()

    def held(session, message, *args, **kwargs):
        if message.provider_sid == "SM" + "2" * 32:
            reached.set()
            assert release.wait(120)
        return store_reply(session, message, *args, **kwargs)

    monkeypatch.setattr(inbound, "_store_reply", held)
    caplog.set_level(logging.INFO)
    second, out2 = _post_in_thread(twilio, member.phone, "I am going to end my life", "SM" + "2" * 32)
    try:
        assert reached.wait(120)
        third, out3 = _post_in_thread(
            twilio, member.phone, "I am going to kill myself tonight", "SM" + "3" * 32
        )
        _until_it_waits_for_the_lock(db, third)
    finally:
        release.set()
    replies = [_text(_joined(second, out2)), _text(_joined(third, out3))]
    assert all(TOLD in reply for reply in replies), replies
    assert "NOBODY CAN BE PAGED" not in caplog.text
    with db.session() as s:
        texts = s.scalars(
            select(OutboxItem.body).where(OutboxItem.to_number == DANA, OutboxItem.channel == "sms")
        ).all()
    # The case's first alert, then one for each new message: none of them lost to the other's.
    assert len(texts) == 3 and sum("new crisis message" in body for body in texts) == 2, texts


def test_first_crisis_texts_from_an_unknown_number_at_once_open_one_case(
    postgres_only, twilio, db, group, monkeypatch, caplog
):
    make_staff(db, "Cory", "cory@example.org", "coordinator", [], CORY)
    # The first text opens the case (alerts Cory) and then waits before its commit while the second,
    # from the same number, arrives: as two texts sent at the same instant, neither finding a case.
    store_reply, reached, release = inbound._store_reply, threading.Event(), threading.Event()

    def held(session, message, *args, **kwargs):
        if message.provider_sid == "SM" + "1" * 32:
            reached.set()
            assert release.wait(120)
        return store_reply(session, message, *args, **kwargs)

    monkeypatch.setattr(inbound, "_store_reply", held)
    caplog.set_level(logging.INFO)
    first, out1 = _post_in_thread(twilio, STRANGER, "I want to kill myself tonight", "SM" + "1" * 32)
    try:
        assert reached.wait(120)
        second, out2 = _post_in_thread(twilio, STRANGER, "I am going to end my life", "SM" + "2" * 32)
        _until_it_waits_for_the_lock(db, second, may_finish=True)
    finally:
        release.set()
    replies = [_text(_joined(first, out1)), _text(_joined(second, out2))]
    assert all(TOLD in reply for reply in replies), replies
    assert "NOBODY CAN BE PAGED" not in caplog.text
    with db.session() as s:
        cases = s.scalars(select(Escalation.id)).all()
        # One case: the second text is a new message on the first's, as it would be a moment later.
        assert len(cases) == 1, cases
        on_it = s.scalars(
            select(Message.provider_sid)
            .join(EscalationEvent, EscalationEvent.message_id == Message.id)
            .where(EscalationEvent.escalation_id == cases[0])
            .distinct()
        ).all()
        assert sorted(on_it) == ["SM" + "1" * 32, "SM" + "2" * 32]
        texts = s.scalars(
            select(OutboxItem.body).where(OutboxItem.to_number == CORY, OutboxItem.channel == "sms")
        ).all()
    assert len(texts) == 2 and sum("new crisis message" in body for body in texts) == 1, texts


def test_crisis_text_from_an_unknown_number_while_its_case_is_resolved_opens_a_new_case(
    postgres_only, twilio, db, group, caplog
):
    make_staff(db, "Cory", "cory@example.org", "coordinator", [], CORY)
    assert TOLD in _text(twilio.sms(STRANGER, "I want to kill myself tonight", sid="SM" + "1" * 32))
    with db.session() as s:
        (case_id,) = s.scalars(select(Escalation.id)).all()
    # A coordinator resolves the case while the second text arrives: the text finds the case live and
    # waits on its row until the resolution commits.
    caplog.set_level(logging.INFO)
    with db.engine.begin() as conn:
        conn.execute(update(Escalation).where(Escalation.id == case_id).values(state="resolved"))
        second, out2 = _post_in_thread(twilio, STRANGER, "I am going to end my life", "SM" + "2" * 32)
        _until_it_waits_for_the_lock(db, second, may_finish=True)
    assert TOLD in _text(_joined(second, out2))
    assert "NOBODY CAN BE PAGED" not in caplog.text
    with db.session() as s:
        # A new live case on the console, as a first text would open, not a message on the resolved one.
        live = s.scalars(select(Escalation.id).where(Escalation.state != "resolved")).all()
        assert len(live) == 1 and live != [case_id], live
        on_it = s.scalars(
            select(Message.provider_sid)
            .join(EscalationEvent, EscalationEvent.message_id == Message.id)
            .where(EscalationEvent.escalation_id == live[0])
            .distinct()
        ).all()
        assert on_it == ["SM" + "2" * 32]
        texts = s.scalars(
            select(OutboxItem.body).where(OutboxItem.to_number == CORY, OutboxItem.channel == "sms")
        ).all()
    # Each case's first alert; no "new crisis message" pointing at a case nobody is paging.
    assert len(texts) == 2 and not any("new crisis message" in body for body in texts), texts

"""A send whose outcome we never heard (a timeout, a worker that died mid-request) is looked up at
Twilio before it is tried again: sent exactly once, whichever way the first attempt went."""

import os
from datetime import timedelta

from sqlalchemy import update

from checkin import outbox
from checkin.adapters.twilio_rest import TwilioPort
from checkin.db import utcnow
from checkin.models import OutboxItem
from config import load_settings
from tests.conftest import deliver_item
from tests.test_delivery import _env_of, item_state, write


def impatient_port(settings, seconds=30.0):
    """The real twilio Client against the loopback Twilio, giving up after `seconds` (0.5 where a test
    wants it to give up; 30 where it must not, however slowly a loaded machine answers)."""
    env = {**os.environ, **_env_of(settings), "TWILIO_API_BASE_URL": settings.twilio_api_base_url}
    return TwilioPort(load_settings(env), timeout=seconds)


def deliver(runtime, item, port, after_seconds=0):
    return deliver_item(runtime, item.id, port=port, now=utcnow() + timedelta(seconds=after_seconds))


def test_a_timed_out_send_that_reached_twilio_is_not_sent_again(runtime, settings, fake_twilio):
    item = write(runtime.db)
    fake_twilio.delay(1.5)  # Twilio takes the message, but answers after we stopped waiting
    assert deliver(runtime, item, impatient_port(settings, 0.5)).state == "retry"
    [message] = fake_twilio.wait_for_messages(1)
    fake_twilio.delay(0)

    outcome = deliver(runtime, item, impatient_port(settings), after_seconds=31)
    assert outcome.state == "sent"
    assert len(fake_twilio.messages()) == 1  # found, not sent again
    row = item_state(runtime.db, item.id)
    assert row.state == "sent" and row.provider_sid == message["sid"]


def test_a_timed_out_send_that_never_reached_twilio_is_sent_on_retry(runtime, settings, fake_twilio):
    item = write(runtime.db)
    fake_twilio.fail_next(status=503)  # refused before Twilio made anything
    deliver(runtime, item, impatient_port(settings))
    with runtime.db.session() as s:  # make it look like a timeout: no code came back
        s.execute(update(OutboxItem).where(OutboxItem.id == item.id).values(last_error_code=None))
    assert fake_twilio.messages() == []

    assert deliver(runtime, item, impatient_port(settings), after_seconds=31).state == "sent"
    assert len(fake_twilio.messages()) == 1


def test_a_send_taken_over_from_a_dead_worker_is_looked_up_first(runtime, settings, fake_twilio):
    item = write(runtime.db)
    # A worker claimed it, Twilio got it, and the worker died before writing down the SID.
    with runtime.db.session() as s:
        assert outbox.claim(s, item.id, utcnow(), lease_seconds=120)
    sent = impatient_port(settings).send_sms(
        outbox.OutboundSms(
            to=item.to_number, body=item.body, from_=None, status_callback=None, outbox_id=item.id
        )
    )
    outcome = deliver(runtime, item, impatient_port(settings), after_seconds=121)  # the lease ran out
    assert outcome.state == "sent"
    assert len(fake_twilio.messages()) == 1
    assert item_state(runtime.db, item.id).provider_sid == sent.sid


def test_a_send_taken_over_after_twilio_took_it_is_recorded_sent_even_if_the_member_stopped_since(
    runtime, settings, fake_twilio, member
):
    """Twilio accepted it, the database died before the SID was written, the member said STOP meanwhile:
    the worker taking it over finds Twilio's copy first, so the record says what happened (sent, with its
    SID), not 'cancelled: recipient has opted out'. Nothing goes a second time."""
    from checkin import consent
    from checkin.models import Member

    item = write(runtime.db, member_id=member.id)
    with runtime.db.session() as s:
        assert outbox.claim(s, item.id, utcnow(), lease_seconds=120)
    sent = impatient_port(settings).send_sms(
        outbox.OutboundSms(
            to=item.to_number, body=item.body, from_=None, status_callback=None, outbox_id=item.id
        )
    )
    with runtime.db.session() as s:
        consent.opt_out(s, s.get(Member, member.id), source="keyword:STOP")
    outcome = deliver(runtime, item, impatient_port(settings), after_seconds=121)  # the lease ran out
    assert outcome.state == "sent"
    row = item_state(runtime.db, item.id)
    assert row.state == "sent" and row.provider_sid == sent.sid
    assert len(fake_twilio.messages()) == 1


def test_a_send_taken_over_that_never_reached_twilio_is_cancelled_if_the_member_stopped_since(
    runtime, settings, fake_twilio, member
):
    from checkin import consent
    from checkin.models import Member

    item = write(runtime.db, member_id=member.id)
    with runtime.db.session() as s:
        assert outbox.claim(s, item.id, utcnow(), lease_seconds=120)  # the worker died before sending
        consent.opt_out(s, s.get(Member, member.id), source="keyword:STOP")
    outcome = deliver(runtime, item, impatient_port(settings), after_seconds=121)
    assert outcome.state == "cancelled" and outcome.reason == "recipient has opted out"
    assert fake_twilio.messages() == []


def test_the_same_words_sent_earlier_by_another_row_are_not_taken_for_this_one(
    runtime, settings, fake_twilio
):
    earlier = write(runtime.db, key="notice:earlier")
    assert deliver(runtime, earlier, impatient_port(settings)).state == "sent"
    item = write(runtime.db, key="notice:later")  # same number, same words
    with runtime.db.session() as s:
        assert outbox.claim(s, item.id, utcnow(), lease_seconds=120)  # a dead worker, nothing sent
    assert deliver(runtime, item, impatient_port(settings), after_seconds=121).state == "sent"
    assert len(fake_twilio.messages()) == 2

"""Channels are first-class: a new one gets consent, quiet hours and pacing from the outbox itself,
without touching a gate; a channel nobody knows is refused, never sent unchecked."""

import dataclasses
from datetime import timedelta

import pytest

from checkin import outbox
from checkin.channels import Channel, UnknownChannel
from checkin.directory import add_member
from checkin.messaging import SendResult
from checkin.models import Member, OutboxItem
from tests.conftest import deliver_item
from tests.test_night_gate import DAY, EVENING_BEFORE, LA, la, planned

PIGEON = "pigeon"  # a third channel, message-like, addressed as "pigeon:+1..."


class PigeonPort:
    name = "pigeon"

    def __init__(self):
        self.sent = []

    def send_sms(self, request):
        self.sent.append(request)
        return SendResult(sid=f"PG{len(self.sent):032d}", status="sent")

    def place_call(self, request):
        raise AssertionError("a pigeon is not a call")


class CountingPacer:
    def __init__(self):
        self.turns = []

    def wait_turn(self, sender, channel, *, urgent=False):
        self.turns.append((sender, channel))

    def hold(self, sender, channel):
        return 1.0


def with_pigeons(runtime):
    """The worker's own rules, plus a transport for the new channel: the only line a channel needs."""
    return dataclasses.replace(runtime.rules, transports={**runtime.rules.transports, PIGEON: outbox.MESSAGE})


@pytest.fixture
def pat(db, group):
    with db.session() as s:
        return add_member(s, group.name, "+12025550131", "Pat Lee", "en", LA)


def deliver(runtime, item, now, rules, port, pacer=None):
    return deliver_item(runtime, item.id, now=now, port=port, rules=rules, pacer=pacer)


def test_the_known_channels_are_an_enum_with_the_stored_values():
    assert [c.value for c in Channel] == ["sms", "voice"] and Channel("sms") == "sms"


def test_a_third_channel_is_held_at_night_and_paced_like_a_text(runtime, pat):
    rules, port, pacer = with_pigeons(runtime), PigeonPort(), CountingPacer()
    item = planned(
        runtime.db,
        pat,
        "prompt",
        la(18, 0, DAY - timedelta(days=2)),
        written=EVENING_BEFORE,
        due=la(2, 0),
        channel=PIGEON,
    )
    assert deliver(runtime, item, la(2, 0), rules, port, pacer).state == "held"  # Pat's night
    assert port.sent == [] and pacer.turns == []
    assert deliver(runtime, item, la(8, 0), rules, port, pacer).state == "sent"
    assert [r.to for r in port.sent] == [pat.phone]
    assert pacer.turns == [(item.from_number, PIGEON)]  # its own bucket on the sending number


def test_a_third_channel_address_gets_no_message_after_stop(runtime, pat):
    rules, port = with_pigeons(runtime), PigeonPort()
    with runtime.db.session() as s:
        item, _ = outbox.add(s, "notice:pigeon:1", to=f"pigeon:{pat.phone}", channel=PIGEON, body="hi")
        s.get(Member, pat.id).status = "opted_out"  # STOP by text: the person's, on every channel
    outcome = deliver(runtime, item, la(12, 0), rules, port)
    assert outcome.state == "cancelled" and port.sent == []


def test_an_unknown_channel_raises_instead_of_sending_unchecked(runtime, pat):
    port = PigeonPort()
    with runtime.db.session() as s:
        item, _ = outbox.add(s, "notice:pigeon:2", to=pat.phone, channel=PIGEON, body="hi")
    with pytest.raises(UnknownChannel):
        deliver(runtime, item, la(12, 0), runtime.rules, port)  # the worker's rules know no pigeons
    assert port.sent == []
    with runtime.db.session() as s:
        row = s.get(OutboxItem, item.id)
        assert (row.state, row.last_error) == ("failed", "unknown channel 'pigeon'")

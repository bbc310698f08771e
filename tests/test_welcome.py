"""The welcome text a coordinator can send a member they add: who is texting, HELP and STOP, in the
member's language, in their daytime, never to someone reached by phone call or who has said STOP."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checkin import consent, templates, welcome
from checkin.db import utcnow
from checkin.models import Group, Member, OutboxItem
from tests.conftest import FROM_NUMBER, zone_where_it_is
from tests.console_helpers import Console, cheap_password_hashing, make_staff  # noqa: F401


@pytest.fixture
def coordinator(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


def add(coordinator, group, phone: str, **more):
    form = {"group_id": group.id, "phone": phone, "name": "Lee Park", "language": "en", "channel": "sms"}
    return coordinator.post("/console/members/new", form | more)


def welcomes(db) -> list[OutboxItem]:
    with db.session() as s:
        return list(s.scalars(select(OutboxItem).where(OutboxItem.purpose == "welcome")))


def test_the_add_form_offers_the_welcome_ticked(coordinator):
    page = coordinator.get("/console/members/new").get_data(as_text=True)
    assert 'name="welcome" value="1" checked' in page and "STOP stops the texts" in page


def test_a_member_added_in_their_day_is_welcomed_now_from_the_groups_number(coordinator, db, group):
    before = utcnow()
    response = add(coordinator, group, "(202) 555-0144", timezone=zone_where_it_is(12, before), welcome="1")
    after = utcnow()
    assert response.status_code == 302
    [text] = welcomes(db)
    with db.session() as s:
        lee = s.scalar(select(Member).where(Member.phone == "+12025550144"))
    assert (text.idempotency_key, text.to_number, text.from_number) == (
        f"welcome:{lee.id}",
        lee.phone,
        FROM_NUMBER,
    )
    assert text.body == (
        "Checkin for Tuesday Group: you'll get meeting reminders and check-ins here. "
        "Reply HELP for help, STOP to stop. In a crisis, call or text 988."
    )
    assert before <= text.next_attempt_at <= after and text.state == "pending"
    page = coordinator.get(f"/console/members/{lee.id}").get_data(as_text=True)
    assert "A welcome text goes to them in their daytime." in page


def test_a_member_added_in_their_night_is_welcomed_when_their_day_starts(coordinator, db, group):
    now = utcnow()
    zone = zone_where_it_is(2, now)  # 02:00 there: the welcome waits for 08:00, the window's opening
    assert (
        add(coordinator, group, "202-555-0145", timezone=zone, welcome="1", language="es").status_code == 302
    )
    [text] = welcomes(db)
    local = text.next_attempt_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (8, 0) and text.next_attempt_at > now
    assert text.body == templates.render("welcome", "es", group="Tuesday Group")  # in their language
    assert "BAJA (o STOP) para parar" in text.body and "AYUDA" in text.body


def test_no_welcome_by_phone_call_or_when_not_ticked(coordinator, db, group):
    assert add(coordinator, group, "202-555-0146", channel="voice", welcome="1").status_code == 302
    assert add(coordinator, group, "202-555-0147").status_code == 302  # the box left unticked
    assert welcomes(db) == []


def test_no_welcome_after_a_stop_and_the_send_gate_keeps_their_night(db, group, member):
    now = utcnow()
    with db.session() as s:
        sam, tuesday = s.get(Member, member.id), s.get(Group, group.id)
        item = welcome.queue(s, sam, tuesday, now)
        assert item is not None and welcome.queue(s, sam, tuesday, now).id == item.id  # once per member
        # At 02:00 in Sam's zone (the group's), a welcome still waiting is held until 08:00.
        night = datetime(2026, 12, 8, 2, 0, tzinfo=ZoneInfo(group.timezone))
        assert welcome.send_gate(s, item, night) == night.replace(hour=8)
        assert welcome.send_gate(s, item, night.replace(hour=12)) is None
        s.commit()
    with db.session() as s:
        s.execute(OutboxItem.__table__.delete())
        sam = s.get(Member, member.id)
        consent.opt_out(s, sam, source="keyword:STOP")
        assert welcome.queue(s, sam, s.get(Group, group.id), now + timedelta(minutes=1)) is None

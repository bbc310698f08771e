"""Group announcements through the outbox to the loopback Twilio: each active member gets exactly one, in
their language, never in their night, never after STOP; sending twice sends once; progress reaches 100%."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import insert, select

from checkin.announcements import service as announcements
from checkin.announcements.service import AnnouncementError
from checkin.db import utcnow
from checkin.directory import add_group, add_member
from checkin.models import GroupMember, Member, OutboxItem
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, deliver_due, deliver_item, zone_where_it_is
from tests.test_delivery import status_params
from webhooks.call_walker import CallWalker, http_post
from workers.worker import Worker

EN, ES = "No meeting tonight: the building is closed. See you next week.", "No hay reunion esta noche."


def add_members(db, group, count, *, start=0, language="en", zone=None, status="active", channel="sms"):
    """Many members at once (as a CSV import would leave them), numbers +1202555xxxx from `start`."""
    now = utcnow()
    with db.session() as s:
        rows = [
            dict(
                phone=f"+1202555{start + i:04d}",
                display_name=f"Member{start + i} Test",
                language=language,
                timezone=zone,
                channel=channel,
                status=status,
                created_at=now,
            )
            for i in range(count)
        ]
        ids = s.scalars(insert(Member).returning(Member.id), rows).all()
        s.execute(insert(GroupMember), [dict(group_id=group.id, member_id=i, joined_at=now) for i in ids])
        return ids


def send(db, group, text_en=EN, text_es=ES, key="form-1", now=None):
    with db.session() as s:
        return announcements.send(s, s.merge(group), text_en, text_es, request_key=key, now=now)


def progress(db, announcement_id):
    with db.session() as s:
        return announcements.progress(s, announcement_id)


def test_a_thousand_members_two_languages_two_zones_each_get_one_never_at_night(
    runtime, fake_twilio, twilio, group
):
    now = utcnow()
    day, night = zone_where_it_is(12, now), zone_where_it_is(2, now)
    # 1,000 members: English and Spanish, half where it is noon and half where it is 2 a.m.; 40 opted out.
    add_members(runtime.db, group, 250, start=0, language="en", zone=day)
    add_members(runtime.db, group, 250, start=250, language="es", zone=day)
    add_members(runtime.db, group, 250, start=500, language="en", zone=night)
    add_members(runtime.db, group, 230, start=750, language="es", zone=night)
    add_members(runtime.db, group, 20, start=980, language="en", zone=day, status="opted_out")
    add_members(runtime.db, group, 20, start=1000, language="es", zone=night, status="opted_out")
    opted_out = {f"+1202555{i:04d}" for i in range(980, 1020)}

    with runtime.db.session() as s:
        planned = announcements.preview(s, s.merge(group), EN, ES, now)
    assert (len(planned.sending), planned.now_count, len(planned.later)) == (980, 500, 480)
    assert planned.skipped == {"opted out": 40}
    morning = min(r.send_at for r in planned.later)
    assert morning.astimezone(planned.later[0].local.tzinfo).hour == 8  # their 08:00, the plan's default

    announcement, created = send(runtime.db, group, now=now)
    assert created and announcement.recipients == 980 and announcement.skipped == 40
    # Pressed twice (the same form's key): the first announcement, nothing written again.
    again, created = send(runtime.db, group, now=now)
    assert (again.id, created) == (announcement.id, False)
    assert len(fake_twilio.messages()) == 0

    # A member texts STOP after it was written: their row is cancelled, never sent.
    twilio.sms("+12025550001", "STOP")
    opted_out.add("+12025550001")

    # Now: the day members only. Those in their night are not due (and a worker that took one anyway is
    # held by the send-time gate until their morning).
    assert deliver_due(runtime, now) == {"sent": 499}
    first = fake_twilio.messages()
    assert len(first) == 499 and {m["params"]["To"] for m in first}.isdisjoint(opted_out)
    with runtime.db.session() as s:
        night_row = s.scalar(
            select(OutboxItem).where(OutboxItem.to_number == "+12025550500", OutboxItem.state == "pending")
        )
        assert night_row.next_attempt_at == morning
        night_row.next_attempt_at = now
    assert deliver_item(runtime, night_row.id, now=now).state == "held"
    with runtime.db.session() as s:
        assert s.get(OutboxItem, night_row.id).next_attempt_at == morning
    mid = progress(runtime.db, announcement.id)
    assert (mid.total, mid.sent, mid.waiting, mid.cancelled, mid.percent) == (980, 499, 480, 1, 51)

    # Their morning: the rest.
    assert deliver_due(runtime, morning) == {"sent": 480}
    messages = fake_twilio.messages()
    per_number = Counter(m["params"]["To"] for m in messages)
    assert len(messages) == 979 and set(per_number.values()) == {1}  # exactly one each
    assert set(per_number).isdisjoint(opted_out)
    assert {m["params"]["From"] for m in messages} == {FROM_NUMBER}
    bodies = {m["params"]["To"]: m["params"]["Body"] for m in messages}
    # Every automated text says how to stop, in the member's language.
    assert bodies["+12025550000"] == f"Tuesday Group: {EN} Reply STOP to stop."
    assert bodies["+12025550250"] == bodies["+12025550750"] == f"Tuesday Group: {ES} BAJA para parar."

    # Two status callbacks: one delivered, one undelivered; the bar counts them.
    with runtime.db.session() as s:
        a, b = s.execute(
            select(OutboxItem.id, OutboxItem.provider_sid).where(OutboxItem.state == "sent").limit(2)
        ).all()
    assert (
        twilio.post(f"/twilio/status?outbox={a.id}", status_params(a.provider_sid, "delivered")).status_code
        < 300
    )
    assert (
        twilio.post(
            f"/twilio/status?outbox={b.id}", status_params(b.provider_sid, "undelivered", 30003)
        ).status_code
        < 300
    )
    done = progress(runtime.db, announcement.id)
    assert done.as_dict() == dict(
        total=980, waiting=0, sent=978, delivered=1, failed=1, cancelled=1, done=980, percent=100
    )


def test_spanish_speakers_need_the_spanish_text_and_bad_texts_are_refused_saying_why(runtime, group):
    with pytest.raises(
        AnnouncementError, match="^nobody in Tuesday Group would get it: it has no active members"
    ):
        send(runtime.db, group)
    add_members(runtime.db, group, 2, language="en")
    add_members(runtime.db, group, 1, start=2, language="es")
    with pytest.raises(
        AnnouncementError, match="Tuesday Group has 1 Spanish-speaking member: write the Spanish"
    ):
        send(runtime.db, group, text_es="  ")
    with pytest.raises(AnnouncementError, match="announcement text is empty"):
        send(runtime.db, group, text_en=" ")
    with pytest.raises(AnnouncementError, match="the English text is 7 SMS segments \\(434 UCS-2"):
        send(runtime.db, group, text_en="✓ " * 200)
    with pytest.raises(AnnouncementError, match="the Spanish text is 601 characters; at most 600"):
        send(runtime.db, group, text_es="x" * 601)
    with runtime.db.session() as s:
        assert s.scalar(select(OutboxItem)) is None and s.scalar(select(announcements.Announcement)) is None
    # Without Spanish speakers the English text alone is enough.
    with runtime.db.session() as s:
        s.get(Member, 3).language = "en"
    announcement, created = send(runtime.db, group, text_es=None)
    assert created and announcement.recipients == 3


def test_the_stop_wording_counts_toward_the_length_and_is_not_added_twice(runtime, group):
    add_members(runtime.db, group, 1, language="es")
    # 4 segments of 153 as typed with the group's name (612 - 15), but a fifth with the stop wording.
    long_en = "x" * (4 * 153 - len("Tuesday Group: ") - 5)
    with pytest.raises(
        AnnouncementError, match="the English text is 5 SMS segments .*with the group's name and how"
    ):
        send(runtime.db, group, text_en=long_en, text_es="Hola.")
    announcements_bodies = announcements.bodies_for("Tuesday Group", "Text STOP to end these.", "Manda BAJA.")
    assert announcements_bodies == {
        "en": "Tuesday Group: Text STOP to end these.",
        "es": "Tuesday Group: Manda BAJA.",
    }


def test_a_voice_member_gets_a_call_that_reads_the_announcement_in_their_language(live_app, fake_twilio):
    rt = live_app
    with rt.db.session() as s:
        group = add_group(s, "Tuesday Group", "America/New_York", FROM_NUMBER)
        rosa = add_member(
            s, group.name, "+12025550102", "Rosa Medina", "es", zone_where_it_is(12, utcnow()), "voice"
        )
    with rt.db.session() as s:
        announcement, _ = announcements.send(
            s, s.merge(group), EN, ES, request_key="form-voice", base_url=rt.settings.public_base_url
        )
    Worker(["alerts", "outbox"], connection=rt.redis, runtime=rt).work(burst=True)
    [call] = fake_twilio.wait_for_calls(1)
    assert call["params"]["To"] == rosa.phone and "kind=announcement" in call["params"]["Url"]
    status, twiml = fake_twilio.answer_call(call["sid"], "human")
    assert status == 200
    caller = CallWalker(
        http_post(rt.settings, None),
        rt.settings.public_base_url,
        FROM_NUMBER,
        rosa.phone,
        ACCOUNT_SID,
        call_sid=call["sid"],
        direction="outbound-api",
    )
    caller.resume(twiml)  # "is this Rosa?" first: a family member who answers hears nothing of the group
    step = caller.say("sí, soy yo")
    assert step.said[:2] == [
        "Hola Rosa, habla Checkin de Tuesday Group.",
        f"Un mensaje de Tuesday Group: {ES}",
    ]
    with rt.db.session() as s:
        assert s.scalar(select(OutboxItem.state)) == "sent"
    assert progress(rt.db, announcement.id).percent == 100


def test_paused_members_are_skipped_and_a_pause_after_it_was_written_cancels_it(runtime, fake_twilio, group):
    from datetime import timedelta

    from checkin.schedules.service import pause_member

    night = zone_where_it_is(2, utcnow())
    add_members(runtime.db, group, 3, language="en", zone=night)
    with runtime.db.session() as s:
        pause_member(s, "+12025550000", (utcnow() + timedelta(days=3)).date())  # through a date
    with runtime.db.session() as s:
        planned = announcements.preview(s, s.merge(group), EN, None)
    assert planned.skipped == {"paused": 1} and len(planned.sending) == 2
    announcement, _ = send(runtime.db, group, text_es=None)
    assert announcement.recipients == 2
    # Paused while it waits for their morning: it is not sent.
    with runtime.db.session() as s:
        pause_member(s, "+12025550001", (utcnow() + timedelta(days=3)).date())
    with runtime.db.session() as s:
        morning = s.scalar(select(OutboxItem.next_attempt_at).where(OutboxItem.to_number == "+12025550002"))
    assert deliver_due(runtime, morning) == {"sent": 1}
    assert [m["params"]["To"] for m in fake_twilio.messages()] == ["+12025550002"]
    assert progress(runtime.db, announcement.id).as_dict() == dict(
        total=2, waiting=0, sent=1, delivered=0, failed=0, cancelled=1, done=2, percent=100
    )

"""No automated message in a member's night, at the moment of sending: a planned reminder, prompt, nudge
or change notice (text or call) that a backlog, a Redis outage or a retry's backoff delayed into the
member's quiet hours waits for their window to open, or is dropped if it would then be too late.
Replies, crisis handling and staff alerts are never held.

The rule is unit-tested through outbox.deliver with an explicit `now`; end to end, a real `rq worker`
process runs on the real clock, so its members live where it is night (or day) right now."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checkin import outbox
from checkin.db import utcnow
from checkin.directory import add_member, add_staff
from checkin.models import OutboxItem
from checkin.schedules import set_plan
from checkin.schedules.models import OccurrenceOverride
from checkin.schedules.planning import voice_url
from checkin.schedules.recurrence import occurrence_key
from tests.conftest import FROM_NUMBER, REPO, deliver_item, said, zone_where_it_is
from webhooks.simulate import replies_from_twiml
from workers.queues import QUEUES, dispatch

LA = "America/Los_Angeles"  # the member's own zone; the group's is New York (three hours ahead)
DAY = date(2027, 1, 13)  # a Wednesday; PST is UTC-8
UTC = UTC


def la(hour, minute=0, day=DAY):
    return datetime.combine(day, time(hour, minute), ZoneInfo(LA)).astimezone(UTC)


EVENING_BEFORE = la(20, 58, DAY - timedelta(days=1))


@pytest.fixture
def pat(db, group):
    with db.session() as s:
        return add_member(s, group.name, "+12025550131", "Pat Lee", "en", LA)


def planned(
    db,
    member,
    kind,
    meeting,
    *,
    written,
    due,
    channel="sms",
    suffix="",
    base_url="https://checkin.example.org",
):
    """An outbox row exactly as the planner writes it, written at `written` and due at `due`."""
    occ = occurrence_key(meeting)
    with db.session() as s:
        item, _ = outbox.add(
            s,
            f"{kind}:{member.id}:{occ}{suffix}",
            to=member.phone,
            channel=channel,
            purpose=kind,
            member_id=member.id,
            from_number=FROM_NUMBER,
            body=None if channel == "voice" else f"A {kind} from Tuesday Group",
            twiml_url=voice_url(base_url, kind, member.id, occ) if channel == "voice" else None,
            not_before=due,
        )
        item.created_at = written
    return item


def deliver(runtime, item, now):
    return deliver_item(runtime, item.id, now=now)


def stored(db, item):
    with db.session() as s:
        return s.get(OutboxItem, item.id)


def to(fake_twilio, phone):
    return [m for m in fake_twilio.messages() if m["params"]["To"] == phone]


def test_a_prompt_due_at_2am_waits_until_8am_member_local_then_goes(runtime, fake_twilio, pat):
    # Written in the evening (in Pat's window), delayed by a backlog until 02:00 Pat's time.
    item = planned(
        runtime.db, pat, "prompt", la(18, 0, DAY - timedelta(days=2)), written=EVENING_BEFORE, due=la(2, 0)
    )
    outcome = deliver(runtime, item, la(2, 0))
    assert outcome.state == "held"
    row = stored(runtime.db, item)
    assert (row.state, row.next_attempt_at, row.attempts) == ("pending", la(8, 0), 0)
    assert fake_twilio.messages() == []
    # 07:59 in Los Angeles is 10:59 in the group's New York: still Pat's night.
    assert deliver(runtime, item, la(7, 59)).state == "skipped"
    assert deliver(runtime, item, la(8, 0)).state == "sent"
    [sent] = fake_twilio.messages()
    assert (sent["params"]["To"], sent["params"]["Body"]) == (pat.phone, "A prompt from Tuesday Group")


def test_the_window_is_the_groups_plan(runtime, fake_twilio, group, pat):
    with runtime.db.session() as s:
        set_plan(s, group.id, quiet_start="09:30", prompt_stale_hours=24)
    item = planned(
        runtime.db, pat, "nudge", la(18, 0, DAY - timedelta(days=3)), written=EVENING_BEFORE, due=la(8, 15)
    )
    assert deliver(runtime, item, la(8, 15)).state == "held"
    assert stored(runtime.db, item).next_attempt_at == la(9, 30)
    assert fake_twilio.messages() == []


def test_a_prompt_that_would_only_go_out_stale_is_cancelled(runtime, fake_twilio, pat):
    # Written at 18:00, stuck until 02:00: by 08:00 it is 14 hours old (the plan drops prompts after 12).
    item = planned(
        runtime.db,
        pat,
        "prompt",
        la(18, 0, DAY - timedelta(days=2)),
        written=la(18, 0, DAY - timedelta(days=1)),
        due=la(2, 0),
    )
    outcome = deliver(runtime, item, la(2, 0))
    assert (outcome.state, outcome.reason) == ("cancelled", "not sent: stale")
    assert (stored(runtime.db, item).state, stored(runtime.db, item).last_error) == (
        "cancelled",
        "not sent: stale",
    )
    assert fake_twilio.messages() == []


def test_a_reminder_whose_meeting_started_while_it_was_held_is_cancelled(runtime, fake_twilio, pat):
    # The plan's closest reminder (2 h before): no later reminder of this meeting could take its place.
    nine = planned(runtime.db, pat, "reminder", la(9, 0), written=EVENING_BEFORE, due=la(2, 0), suffix=":120")
    assert deliver(runtime, nine, la(2, 0)).state == "held"
    assert stored(runtime.db, nine).next_attempt_at == la(8, 0)
    # No worker got to it at 08:00; at 09:15 the meeting has started: never "meets at 9" at a quarter past.
    outcome = deliver(runtime, nine, la(9, 15))
    assert (outcome.state, outcome.reason) == ("cancelled", "not sent: meeting started")
    assert stored(runtime.db, nine).last_error == "not sent: meeting started"
    # A 07:30 meeting's reminder stuck at 02:00 could only go after it started: cancelled at once, saying
    # why (the meeting has not started yet: Pat's night lasts until it).
    early = planned(
        runtime.db, pat, "reminder", la(7, 30), written=EVENING_BEFORE, due=la(2, 0), suffix=":1440"
    )
    outcome = deliver(runtime, early, la(2, 0))
    assert (outcome.state, outcome.reason) == ("cancelled", "not sent: quiet hours until the meeting")
    assert fake_twilio.messages() == []


def test_a_held_reminder_goes_when_the_night_ends_if_its_meeting_is_still_ahead(runtime, fake_twilio, pat):
    # The day-before reminder of a 19:00 meeting, stuck since last evening: Pat's night ends at 08:00,
    # eleven hours before the meeting and long before the 2 h reminder (17:00), so it goes then.
    item = planned(
        runtime.db, pat, "reminder", la(19, 0), written=EVENING_BEFORE, due=la(2, 0), suffix=":1440"
    )
    assert deliver(runtime, item, la(2, 0)).state == "held"
    assert stored(runtime.db, item).next_attempt_at == la(8, 0)
    assert deliver(runtime, item, la(8, 0)).state == "sent"
    assert len(to(fake_twilio, pat.phone)) == 1


def test_a_held_reminder_gives_way_to_the_next_one_instead_of_going_with_it(runtime, fake_twilio, pat):
    # A 09:00 meeting (12:00 in the group's New York): its 2 h reminder is due at 07:00, in Pat's night, and
    # goes at 08:00. The day-before one, stuck overnight, would go at 08:00 too: it is dropped, saying why.
    item = planned(
        runtime.db, pat, "reminder", la(9, 0), written=EVENING_BEFORE, due=la(2, 0), suffix=":1440"
    )
    outcome = deliver(runtime, item, la(2, 0))
    assert (outcome.state, outcome.reason) == ("cancelled", "not sent: quiet hours until the next reminder")
    # Stuck in the day instead (no night in the way), it still gives way once the next one is near.
    noon = planned(
        runtime.db, pat, "reminder", la(14, 0), written=EVENING_BEFORE, due=la(9, 0), suffix=":1440"
    )
    assert deliver(runtime, noon, la(10, 0)).state == "cancelled"
    assert stored(runtime.db, noon).last_error == "not sent: superseded by the next reminder"
    assert fake_twilio.messages() == []


def test_a_reminder_for_a_meeting_moved_later_goes_after_the_original_time(runtime, fake_twilio, group, pat):
    with runtime.db.session() as s:  # moved to Thursday 12:00 New York (09:00 in Los Angeles)
        s.add(
            OccurrenceOverride(
                group_id=group.id,
                occurrence_key=occurrence_key(la(9, 0)),
                status="moved",
                new_start_local=datetime(2027, 1, 14, 12, 0),
                version=1,
            )
        )
    item = planned(runtime.db, pat, "reminder", la(9, 0), written=la(9, 0), due=la(9, 0), suffix=":1440:v1")
    assert deliver(runtime, item, la(9, 5)).state == "sent"
    assert len(to(fake_twilio, pat.phone)) == 1


def test_a_reminder_call_is_held_likewise(runtime, fake_twilio, db, group):
    with db.session() as s:
        lee = add_member(s, group.name, "+12025550132", "Lee Park", "en", LA, "voice")
    item = planned(
        db, lee, "reminder", la(18, 0), written=EVENING_BEFORE, due=la(2, 0), channel="voice", suffix=":1440"
    )
    assert deliver(runtime, item, la(2, 0)).state == "held"
    assert stored(db, item).next_attempt_at == la(8, 0)
    assert fake_twilio.calls() == []
    assert deliver(runtime, item, la(8, 0)).state == "sent"
    [call] = fake_twilio.calls()
    assert call["params"]["To"] == lee.phone and "kind=reminder" in call["params"]["Url"]


def test_a_message_that_is_not_planned_and_a_staff_alert_go_out_in_the_members_night(
    runtime, fake_twilio, db, group, pat
):
    with db.session() as s:
        dana = add_staff(s, "Dana", "dana@example.org", "facilitator", "+12025550201", [group.name])
        # e.g. an answer to something Pat asked: not one of the planner's kinds
        notice, _ = outbox.add(
            s, "notice:pat", to=pat.phone, body="Here is the address you asked for.", member_id=pat.id
        )
        alert, _ = outbox.add(
            s,
            "alert:1:crisis:0",
            to=dana.phone,
            staff_id=dana.id,
            purpose="alert",
            queue=outbox.ALERT_QUEUE,
            body="Checkin: crisis in Tuesday Group",
        )
    assert deliver(runtime, notice, la(2, 0)).state == "sent"
    assert deliver(runtime, alert, la(2, 0)).state == "sent"
    assert [m["params"]["To"] for m in fake_twilio.messages()] == [pat.phone, dana.phone]


def run_rq_worker(env):
    """One real `rq worker` process, on the real clock, until the queues are empty."""
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    done = subprocess.run(
        [
            rq,
            "worker",
            "--burst",
            "--worker-class",
            "workers.worker.Worker",
            "--url",
            env["REDIS_URL"],
            *QUEUES,
        ],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_real_worker_sends_nothing_planned_into_a_members_night_but_answers_and_alerts(
    runtime, env, fake_twilio, db, group, twilio
):
    now = utcnow()
    night, day = zone_where_it_is(3, now), zone_where_it_is(12, now)
    with db.session() as s:
        nina = add_member(s, group.name, "+12025550141", "Nina Night", "en", night)
        noel = add_member(s, group.name, "+12025550142", "Noel Night", "en", night, "voice")
        dora = add_member(s, group.name, "+12025550143", "Dora Day", "en", day)
        dana = add_staff(s, "Dana", "dana@example.org", "facilitator", "+12025550201", [group.name])
    # Written last evening and stuck since (Redis was down); the meeting is tomorrow.
    meeting = (now + timedelta(hours=20)).replace(minute=0, second=0, microsecond=0)
    stuck = dict(written=now - timedelta(hours=7), due=now - timedelta(hours=7), suffix=":1440")
    rows = [
        planned(db, nina, "reminder", meeting, **stuck),
        planned(db, noel, "reminder", meeting, channel="voice", **stuck),
        planned(db, dora, "reminder", meeting, **stuck),
    ]
    dispatch(runtime, rows)
    # Nina texts in her night: a question is answered, a cry for help gets crisis resources and reaches Dana.
    [answer] = said(twilio.sms(nina.phone, "WHEN"))
    assert answer
    run_rq_worker(env)
    # Her question's answer reaches her by REST now (a reply, never held); her reminder does not.
    assert [m["params"]["Body"] for m in to(fake_twilio, nina.phone)] == [answer]
    [crisis] = replies_from_twiml(
        twilio.sms(nina.phone, "I am going to kill myself tonight").get_data(as_text=True)
    )
    assert "988" in crisis
    run_rq_worker(env)
    assert [m["params"]["Body"] for m in to(fake_twilio, nina.phone)] == [answer]
    assert [c for c in fake_twilio.calls() if c["params"]["To"] == noel.phone] == []
    assert [m["params"]["Body"] for m in to(fake_twilio, dora.phone)] == ["A reminder from Tuesday Group"]
    assert to(fake_twilio, dana.phone), "the staff alert was held"
    opens = datetime.combine(now.astimezone(ZoneInfo(night)).date(), time(8, 0), ZoneInfo(night))
    with db.session() as s:
        held = s.scalars(
            select(OutboxItem).where(
                OutboxItem.member_id.in_([nina.id, noel.id]), OutboxItem.purpose == "reminder"
            )
        ).all()
    assert [(r.state, r.next_attempt_at, r.attempts) for r in held] == [("pending", opens, 0)] * 2

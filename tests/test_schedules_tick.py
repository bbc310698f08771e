"""The cron tick against real PostgreSQL and Redis, delivered through the outbox and the twilio library
to the loopback Twilio: each send exactly once (two cron processes at once, restarts), edits that change
only what is not yet sent, change notices once, prompts that open check-ins, nudges, missed check-ins.

The scenario is in January 2020, so delivery runs at the scenario's time too: a worker judges by
today's clock, and would rightly cancel a reminder for a meeting in 2020 (test_night_gate.py runs
planned sends through a real worker)."""

import os
import subprocess
import sys
import time as time_module
from datetime import UTC, date, datetime, time, timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from checkin import outbox
from checkin.checkins import CheckIn, record_answer
from checkin.directory import add_member
from checkin.models import Member, Message, OutboxItem
from checkin.schedules import cancel_occurrence, move_occurrence, set_plan, set_schedule
from checkin.schedules.service import pause_member_until_resumed, preview
from tests.conftest import REPO, deliver_due
from workers import schedule_jobs

UTC = UTC
# Tuesdays at 18:00 New York from Tue 7 January 2020 (EST, UTC-5). The tick, the edits and delivery are
# given their `now`.
MEETING = datetime(2020, 1, 14, 23, 0, tzinfo=UTC)
KEY = "20200114T2300Z"
EDITED = MEETING - timedelta(days=6)
DAY_BEFORE = MEETING - timedelta(hours=24)  # Mon 18:00 local: the 24 h reminder is due
TWO_HOURS = MEETING - timedelta(hours=2)


def schedule(db, group, start=time(18, 0), rrule="FREQ=WEEKLY;BYDAY=TU", now=EDITED):
    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule=rrule,
            start_local=start,
            duration_minutes=90,
            location="12 Main St",
            starts_on=date(2020, 1, 7),
            now=now,
        )


PROMPT_TIME = datetime(
    2020, 1, 16, 15, 0, tzinfo=UTC
)  # Thu 10:00 New York: the prompt after the 14 January meeting


def prompts_only(db, group, rrule="FREQ=WEEKLY;BYDAY=TU", **plan):
    """The weekly schedule with check-in prompts only (no reminders), plus any other `plan` keys."""
    schedule(db, group, rrule=rrule)
    with db.session() as s:
        set_plan(s, group.id, now=EDITED, reminder_offsets_minutes=[], **plan)


def tick_and_send(runtime, now):
    """A tick, then delivery of what it wrote (as the running service does within seconds)."""
    written = schedule_jobs.tick(now, runtime=runtime)
    deliver_due(runtime, now)
    return written


def outbox_rows(db, **where):
    with db.session() as s:
        query = select(OutboxItem).order_by(OutboxItem.id)
        for key, value in where.items():
            query = query.where(getattr(OutboxItem, key) == value)
        return s.scalars(query).all()


def texts_to(fake_twilio, phone):
    return [m["params"]["Body"] for m in fake_twilio.messages() if m["params"]["To"] == phone]


@pytest.fixture
def members(db, group):
    with db.session() as s:
        return [
            add_member(s, group.name, "+12025550101", "Sam Rivera"),
            add_member(s, group.name, "+12025550102", "Rosa Medina", "es"),
        ]


def test_reminders_go_out_once_and_a_restart_sends_nothing_again(runtime, fake_twilio, group, members):
    schedule(runtime.db, group)
    assert schedule_jobs.tick(DAY_BEFORE, runtime=runtime) == 2
    assert schedule_jobs.tick(DAY_BEFORE + timedelta(minutes=1), runtime=runtime) == 0  # the next tick
    deliver_due(runtime, DAY_BEFORE + timedelta(minutes=1))
    assert texts_to(fake_twilio, "+12025550101") == [
        "Reminder: Tuesday Group meets tomorrow, Tue, Jan 14 at 6:00 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop."
    ]
    assert texts_to(fake_twilio, "+12025550102") == [
        "Tuesday Group: mañana, 14 de enero, 6:00 p. m., en 12 Main St. 1 voy, 2 no voy. BAJA: parar"
    ]
    # A restarted cron process (fresh module state) plans the same sends and writes none of them again.
    from checkin.schedules.plan import load_config

    load_config.cache_clear()
    assert schedule_jobs.tick(DAY_BEFORE + timedelta(minutes=5), runtime=runtime) == 0
    deliver_due(runtime, DAY_BEFORE + timedelta(minutes=5))
    assert len(fake_twilio.messages()) == 2
    assert [r.idempotency_key for r in outbox_rows(runtime.db)] == [
        f"reminder:{members[0].id}:{KEY}:1440",
        f"reminder:{members[1].id}:{KEY}:1440",
    ]


TICK_SCRIPT = """
import sys, time
from datetime import datetime
from checkin.bootstrap import Runtime
from workers import schedule_jobs
start_at, now = float(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))
print(schedule_jobs.tick(now, runtime=Runtime.build()))
"""


def test_two_cron_processes_ticking_at_once_send_each_reminder_once(runtime, env, fake_twilio, group):
    with runtime.db.session() as s:
        phones = [f"+1202555{2000 + i:04d}" for i in range(60)]
        for i, phone in enumerate(phones):
            add_member(s, group.name, phone, f"Member {i}")
    schedule(runtime.db, group)
    start_at = time_module.time() + 4  # both processes import first, then tick at the same moment
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TICK_SCRIPT, str(start_at), DAY_BEFORE.isoformat()],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    written = sorted(int(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert sum(written) == 60  # split between them somehow, never doubled
    # One delivery job per row in Redis, and one text per member at the loopback Twilio.
    assert len(Queue("outbox", connection=runtime.redis)) == 60
    deliver_due(runtime, DAY_BEFORE)
    sent = sorted(m["params"]["To"] for m in fake_twilio.messages())
    assert sent == sorted(phones)


def test_an_edit_after_some_sends_changes_only_what_is_not_yet_sent(runtime, fake_twilio, group, members):
    schedule(runtime.db, group)
    tick_and_send(runtime, DAY_BEFORE)  # the day-before reminders went out
    schedule_jobs.tick(TWO_HOURS, runtime=runtime)  # the 2 h reminders are written, not yet delivered
    pending = outbox_rows(runtime.db, state="pending")
    assert len(pending) == 2
    # The coordinator moves the whole schedule to 19:00: the pending 2 h reminders for 18:00 are cancelled.
    schedule(runtime.db, group, start=time(19, 0), now=TWO_HOURS + timedelta(minutes=5))
    assert {
        r.state for r in outbox_rows(runtime.db, purpose="reminder") if r.idempotency_key.endswith(":120")
    } == {"cancelled"}
    assert [r.state for r in outbox_rows(runtime.db) if r.idempotency_key.endswith(":1440")] == [
        "sent",
        "sent",
    ]
    # The next tick reminds of 19:00 at 17:00 local (the new day-before reminder is superseded, not sent late).
    assert tick_and_send(runtime, MEETING - timedelta(hours=1)) == 2
    assert texts_to(fake_twilio, "+12025550101") == [
        "Reminder: Tuesday Group meets tomorrow, Tue, Jan 14 at 6:00 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop.",
        "Reminder: Tuesday Group meets today, Tue, Jan 14 at 7:00 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop.",
    ]


def test_cancelled_meeting_notice_once_and_no_reminder(runtime, fake_twilio, group, members):
    schedule(runtime.db, group)
    with runtime.db.session() as s:
        cancel_occurrence(s, group.id, KEY, now=EDITED)
        cancel_occurrence(s, group.id, KEY, now=EDITED)  # the same change twice is one change
    notice_time = MEETING - timedelta(days=3)
    assert tick_and_send(runtime, notice_time) == 2
    assert tick_and_send(runtime, notice_time + timedelta(hours=1)) == 0
    assert tick_and_send(runtime, DAY_BEFORE) == 0  # no reminder for a cancelled meeting
    assert (
        tick_and_send(runtime, MEETING + timedelta(days=2, hours=15)) == 0
    )  # and no check-in prompt after it
    assert texts_to(fake_twilio, "+12025550101") == [
        "Tuesday Group: Tuesday's meeting (Tue, Jan 14 at 6:00 pm) is canceled. Reply STOP to stop."
    ]
    assert texts_to(fake_twilio, "+12025550102") == [
        "Tuesday Group: la reunión del martes 14 de enero, 6:00 p. m., queda cancelada. BAJA para parar."
    ]


def test_moved_meeting_notice_once_per_change_and_reminders_for_the_new_time(
    runtime, fake_twilio, group, members
):
    schedule(runtime.db, group)
    sam = members[0]
    with runtime.db.session() as s:
        move_occurrence(s, group.id, KEY, datetime(2020, 1, 15, 18, 0), now=EDITED)
    tick_and_send(runtime, MEETING - timedelta(days=3))
    with runtime.db.session() as s:
        # Moved again: a second notice.
        move_occurrence(
            s, group.id, KEY, datetime(2020, 1, 16, 18, 30), now=MEETING - timedelta(days=2, minutes=5)
        )
    tick_and_send(runtime, MEETING - timedelta(days=2))
    tick_and_send(runtime, DAY_BEFORE)  # the old time's reminder is not sent
    tick_and_send(runtime, datetime(2020, 1, 15, 23, 30, tzinfo=UTC))  # 24 h before the new time
    tick_and_send(runtime, datetime(2020, 1, 16, 21, 30, tzinfo=UTC))  # 2 h before the new time
    assert texts_to(fake_twilio, sam.phone) == [
        "Tuesday Group: Tuesday's meeting is moved to Wed, Jan 15 at 6:00 pm, at 12 Main St. Reply STOP to stop.",
        "Tuesday Group: Tuesday's meeting is moved to Thu, Jan 16 at 6:30 pm, at 12 Main St. Reply STOP to stop.",
        "Reminder: Tuesday Group meets tomorrow, Thu, Jan 16 at 6:30 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop.",
        "Reminder: Tuesday Group meets today, Thu, Jan 16 at 6:30 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop.",
    ]


def test_a_newer_change_cancels_the_unsent_notice_of_the_older_one(runtime, group, members):
    schedule(runtime.db, group)
    with runtime.db.session() as s:
        move_occurrence(s, group.id, KEY, datetime(2020, 1, 15, 18, 0), now=EDITED)
    schedule_jobs.tick(MEETING - timedelta(days=3), runtime=runtime)  # written, not delivered
    with runtime.db.session() as s:
        cancel_occurrence(s, group.id, KEY, now=MEETING - timedelta(days=3))
    assert {r.state for r in outbox_rows(runtime.db, purpose="change")} == {"cancelled"}
    assert schedule_jobs.tick(MEETING - timedelta(days=3, minutes=-1), runtime=runtime) == 2
    assert [r.idempotency_key.rsplit(":", 1)[1] for r in outbox_rows(runtime.db, state="pending")] == [
        "2",
        "2",
    ]


def test_prompt_opens_a_checkin_then_one_nudge_then_missed_at_the_next_prompt(
    runtime, fake_twilio, group, members
):
    prompts_only(runtime.db, group)
    sam, rosa = members
    prompt_time = PROMPT_TIME
    assert tick_and_send(runtime, prompt_time) == 2
    with runtime.db.session() as s:
        checkins = s.scalars(select(CheckIn).order_by(CheckIn.member_id)).all()
        assert [(c.member_id, c.prompt_key, c.state) for c in checkins] == [
            (sam.id, f"prompt:{sam.id}:{KEY}", "open"),
            (rosa.id, f"prompt:{rosa.id}:{KEY}", "open"),
        ]
        record_answer(s, rosa.id, channel="sms", score=4, now=prompt_time + timedelta(hours=2))
    assert tick_and_send(runtime, prompt_time + timedelta(hours=23)) == 0
    assert tick_and_send(runtime, prompt_time + timedelta(hours=24)) == 1  # Sam only: Rosa answered
    assert tick_and_send(runtime, prompt_time + timedelta(hours=30)) == 0  # one nudge, never two
    assert texts_to(fake_twilio, sam.phone) == [
        "How are you doing this week? Reply 1 to 5 (1 = very bad, 5 = very good). Add words if you like. Reply STOP to stop.",
        "Just checking in. Reply 1 to 5 when you're ready (1 = very bad, 5 = very good), or STOP to stop.",
    ]
    assert tick_and_send(runtime, prompt_time + timedelta(days=7)) == 2  # next week's prompt
    with runtime.db.session() as s:
        states = s.execute(
            select(CheckIn.member_id, CheckIn.prompt_key, CheckIn.state).order_by(CheckIn.id)
        ).all()
    assert [(m, st) for m, _, st in states] == [
        (sam.id, "missed"),
        (rosa.id, "answered"),
        (sam.id, "open"),
        (rosa.id, "open"),
    ]
    with runtime.db.session() as s:  # when each closed: what the digest reads as a run of misses growing
        closed = s.execute(
            select(CheckIn.state, CheckIn.closed_at).where(CheckIn.state != "open").order_by(CheckIn.id)
        ).all()
    assert closed == [
        ("missed", prompt_time + timedelta(days=7)),
        ("answered", prompt_time + timedelta(hours=2)),
    ]


def test_the_last_prompt_of_a_schedule_that_ended_becomes_missed_after_the_answer_window(
    runtime, fake_twilio, group, members
):
    prompts_only(
        runtime.db, group, rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=2", nudge_after_hours=0
    )  # 7 and 14 January, then no more
    sam, rosa = members
    prompt_time = PROMPT_TIME  # after the last meeting
    assert tick_and_send(runtime, prompt_time) == 2
    with runtime.db.session() as s:
        record_answer(s, rosa.id, channel="sms", score=4, now=prompt_time + timedelta(hours=2))
    # No next prompt will ever close Sam's: it stays open while he can still answer it...
    assert tick_and_send(runtime, prompt_time + timedelta(days=6, hours=23)) == 0
    with runtime.db.session() as s:
        assert dict(s.execute(select(CheckIn.member_id, CheckIn.state)).all()) == {
            sam.id: "open",
            rosa.id: "answered",
        }
    # ...and is missed once an answer would no longer count as his answer to it.
    assert tick_and_send(runtime, prompt_time + timedelta(days=7, minutes=1)) == 0
    with runtime.db.session() as s:
        assert dict(s.execute(select(CheckIn.member_id, CheckIn.state)).all()) == {
            sam.id: "missed",
            rosa.id: "answered",
        }


def test_a_prompt_that_was_never_sent_is_not_counted_as_missed_nor_nudged(
    runtime, fake_twilio, group, members
):
    prompts_only(runtime.db, group)
    sam, rosa = members
    prompt_time = PROMPT_TIME
    assert schedule_jobs.tick(prompt_time, runtime=runtime) == 2  # written, not yet delivered...
    with runtime.db.session() as s:
        pause_member_until_resumed(s, sam.phone)  # ...when Sam is paused: his prompt is cancelled
    assert tick_and_send(runtime, prompt_time + timedelta(minutes=1)) == 0
    with runtime.db.session() as s:
        resume = s.get(Member, sam.id)
        resume.status = "active"  # resumed before the nudge would be due: still nothing to nudge about
    assert tick_and_send(runtime, prompt_time + timedelta(hours=24)) == 1  # Rosa's nudge; none for Sam
    assert texts_to(fake_twilio, sam.phone) == []
    with runtime.db.session() as s:
        assert dict(s.execute(select(CheckIn.member_id, CheckIn.state)).all()) == {
            sam.id: "unsent",
            rosa.id: "open",
        }


def test_opted_out_paused_and_voice_members(runtime, group):
    with runtime.db.session() as s:
        active = add_member(s, group.name, "+12025550101", "Sam Rivera")
        voice = add_member(s, group.name, "+12025550103", "Lee Park", channel="voice")
        gone = add_member(s, group.name, "+12025550104", "Ana Ruiz")
        away = add_member(s, group.name, "+12025550105", "Bo Chan")
        s.get(Member, gone.id).status = "opted_out"
        s.get(Member, away.id).paused_until = MEETING + timedelta(days=3)
    schedule(runtime.db, group)
    schedule_jobs.tick(DAY_BEFORE, runtime=runtime)
    rows = outbox_rows(runtime.db)
    assert [(r.member_id, r.channel, r.purpose) for r in rows] == [
        (active.id, "sms", "reminder"),
        (voice.id, "voice", "reminder"),
    ]
    assert rows[1].body is None and rows[1].twiml_url == (
        f"https://checkin.example.org/twilio/voice/outbound?kind=reminder&member={voice.id}&occurrence={KEY}"
    )


def member_texted(db, member, group, *, at):
    """The member texted the group at `at` (stored as the webhook stores an inbound text)."""
    with db.session() as s:
        s.add(
            Message(
                direction="inbound",
                member_id=member.id,
                from_number=member.phone,
                to_number=group.phone_number,
                body="still here",
                status="received",
                created_at=at,
            )
        )


def test_a_member_texting_right_now_gets_the_prompt_when_the_exchange_is_over(runtime, group, members):
    schedule(runtime.db, group)
    with runtime.db.session() as s:
        set_plan(s, group.id, now=EDITED, reminder_offsets_minutes=[])
    sam = members[0]
    prompt_time = datetime(2020, 1, 16, 15, 0, tzinfo=UTC)
    member_texted(runtime.db, sam, group, at=prompt_time - timedelta(minutes=4))
    assert schedule_jobs.tick(prompt_time, runtime=runtime) == 1  # Rosa only
    # Meanwhile the console's preview lists Sam's prompt as held, and why; Rosa's is written already.
    during = prompt_time + timedelta(minutes=3)
    with runtime.db.session() as s:
        today = [
            p
            for p in preview(s, group.id, during, 14, now=during)
            if p.send_at_utc < during + timedelta(hours=12)
        ]
    assert [(p.member_id, p.kind, p.send_at_utc, p.held_reason) for p in today] == [
        (sam.id, "prompt", prompt_time, "live exchange")
    ]
    assert (
        schedule_jobs.tick(prompt_time + timedelta(minutes=7), runtime=runtime) == 1
    )  # Sam, ten minutes after his message
    assert {r.member_id for r in outbox_rows(runtime.db, purpose="prompt")} == {m.id for m in members}
    after = prompt_time + timedelta(minutes=8)
    with runtime.db.session() as s:
        shown = [
            p
            for p in preview(s, group.id, after, 14, now=after)
            if p.send_at_utc < after + timedelta(hours=12)
        ]
    assert shown == []  # written: nothing left to show for today


def test_a_prompt_held_by_an_exchange_that_runs_into_the_night_goes_in_the_morning(
    runtime, fake_twilio, group, members
):
    """Not at night, and not dropped: the exchange ends in quiet hours, so the prompt waits for the morning."""
    prompts_only(runtime.db, group, prompt_time="20:55")
    sam = members[0]
    due = PROMPT_TIME + timedelta(hours=10, minutes=55)  # Thu 20:55 New York
    member_texted(runtime.db, sam, group, at=due - timedelta(minutes=5))
    assert tick_and_send(runtime, due) == 1  # Rosa; Sam is texting with us until 21:00
    assert texts_to(fake_twilio, sam.phone) == []
    assert tick_and_send(runtime, due + timedelta(minutes=5)) == 1  # Sam's, written when the exchange ends
    assert texts_to(fake_twilio, sam.phone) == []  # but 21:00 is night for him
    deliver_due(runtime, due + timedelta(hours=2))
    assert texts_to(fake_twilio, sam.phone) == []
    deliver_due(runtime, PROMPT_TIME + timedelta(days=1, hours=-2))  # Fri 08:00 New York
    assert len(texts_to(fake_twilio, sam.phone)) == 1


def test_next_meeting_and_occurrences_per_contract(runtime, group):
    from checkin.schedules import next_meeting, occurrences

    schedule(runtime.db, group)
    with runtime.db.session() as s:
        cancel_occurrence(s, group.id, KEY, now=EDITED)
        upcoming = next_meeting(s, group.id, MEETING - timedelta(days=1))
        listed = occurrences(s, group.id, MEETING - timedelta(hours=1), MEETING + timedelta(days=8))
    assert upcoming.key == "20200121T2300Z" and upcoming.status == "scheduled"
    assert upcoming.local_start.isoformat() == "2020-01-21T18:00:00-05:00"
    assert (
        upcoming.ends_at - upcoming.starts_at == timedelta(minutes=90) and upcoming.location == "12 Main St"
    )
    assert [(o.key, o.status) for o in listed] == [(KEY, "cancelled"), ("20200121T2300Z", "scheduled")]


def test_the_tick_on_sqlite_as_make_run_uses_it(tmp_path, runtime):
    """`make run` keeps its data in SQLite: the tick's other write path, same outcome."""
    from checkin import crypto
    from checkin.db import Database
    from checkin.directory import add_group
    from checkin.schedules.tick import write_due
    from migrations import upgrade

    url = f"sqlite:///{tmp_path / 'dev.sqlite3'}"
    upgrade(url)
    db = Database(url)
    crypto.install(db.engine, runtime.settings.encryption_keys)  # as the composition root does
    try:
        with db.session() as s:
            local_group = add_group(s, "Dev Group", "America/New_York", "+15005550006")
            add_member(s, local_group.name, "+12025550101", "Sam Rivera")
        schedule(db, local_group)
        with db.session() as s:
            first = write_due(s, DAY_BEFORE)
        with db.session() as s:
            again = write_due(s, DAY_BEFORE)
        assert len(first.created) == 1 and again.created == []
        [row] = outbox_rows(db)
        assert row.idempotency_key.endswith(f":{KEY}:1440") and row.body.startswith(
            "Reminder: Dev Group meets tomorrow"
        )
    finally:
        db.dispose()


def test_a_plan_edit_cancels_pending_reminders_at_an_offset_it_dropped(runtime, group, members):
    schedule(runtime.db, group)
    schedule_jobs.tick(DAY_BEFORE, runtime=runtime)  # written, not yet delivered
    with runtime.db.session() as s:
        set_plan(s, group.id, now=DAY_BEFORE + timedelta(minutes=1), reminder_offsets_minutes=[120])
    assert {(r.state, r.last_error) for r in outbox_rows(runtime.db)} == {("cancelled", "schedule changed")}
    assert schedule_jobs.tick(DAY_BEFORE + timedelta(minutes=2), runtime=runtime) == 0
    assert schedule_jobs.tick(TWO_HOURS, runtime=runtime) == 2


def test_a_send_not_delivered_in_time_waits_for_morning_or_is_dropped(runtime, group, members):
    """Written when allowed, then stuck (no worker, Redis down): it must not go out at night or after the meeting."""

    schedule(runtime.db, group)
    with runtime.db.session() as s:
        # Reminders at 20:50 the evening before (21 h 10 min ahead) and 2 h before.
        set_plan(s, group.id, now=EDITED, reminder_offsets_minutes=[1270, 120])
    evening = MEETING - timedelta(minutes=1270)  # Mon 20:50 New York
    assert schedule_jobs.tick(evening, runtime=runtime) == 2
    schedule_jobs.tick(
        evening + timedelta(minutes=15), runtime=runtime
    )  # 21:05: quiet hours have begun, nothing was delivered
    morning = datetime(2020, 1, 14, 13, 0, tzinfo=UTC)  # Tue 08:00 New York
    assert {(r.state, r.next_attempt_at) for r in outbox_rows(runtime.db)} == {("pending", morning)}
    # A worker (woken by the queued job or the sweeper) cannot take them overnight, and can in the morning.
    s = runtime.db.sessions()
    try:
        ids = [r.id for r in outbox_rows(runtime.db)]
        assert [outbox.claim(s, i, evening + timedelta(hours=5), 120) for i in ids] == [None, None]
        assert all(outbox.claim(s, i, morning, 120) for i in ids)
    finally:
        s.rollback()
        s.close()
    # Still stuck when the meeting has started: never "meets today at 6 PM" at 7 PM.
    schedule_jobs.tick(MEETING + timedelta(minutes=30), runtime=runtime)
    assert {(r.state, r.last_error) for r in outbox_rows(runtime.db)} == {
        ("cancelled", "not sent: meeting started")
    }


def test_one_groups_broken_schedule_does_not_stop_the_others(runtime, group, members):
    from sqlalchemy import update

    from checkin.directory import add_group
    from checkin.schedules.models import Schedule

    with runtime.db.session() as s:
        other = add_group(s, "Other Group", "America/New_York", "+15005550007")
        add_member(s, other.name, "+12025550109", "Kim Lee")
    schedule(runtime.db, group)
    schedule(runtime.db, other)
    with runtime.db.session() as s:  # edited behind the app's back
        s.execute(update(Schedule).where(Schedule.group_id == other.id).values(rrule="FREQ=WEEKLY;BYDAY=XX"))
    assert schedule_jobs.tick(DAY_BEFORE, runtime=runtime) == 2
    assert {r.member_id for r in outbox_rows(runtime.db)} == {m.id for m in members}


def test_a_tick_planned_in_parts_sends_each_prompt_once_and_opens_each_checkin(
    runtime, fake_twilio, group, members, monkeypatch
):
    from checkin.directory import add_group
    from checkin.schedules import tick as tick_module

    # One group a part (a part's rows are written while the next is planned): what a big tick does.
    monkeypatch.setattr(tick_module, "PART_MEMBERS", 1)
    with runtime.db.session() as s:
        other = add_group(s, "Other Group", "America/New_York", "+15005550007")
        kim = add_member(s, other.name, "+12025550109", "Kim Lee")
    prompts_only(runtime.db, group)
    prompts_only(runtime.db, other)
    assert tick_and_send(runtime, PROMPT_TIME) == 3
    assert tick_and_send(runtime, PROMPT_TIME + timedelta(minutes=1)) == 0
    for phone in (members[0].phone, members[1].phone, kim.phone):
        assert len(texts_to(fake_twilio, phone)) == 1
    with runtime.db.session() as s:
        opened = s.execute(select(CheckIn.member_id, CheckIn.group_id, CheckIn.state)).all()
        sent = {(r.member_id, r.idempotency_key, r.state) for r in s.scalars(select(OutboxItem))}
    assert sorted(opened) == sorted(
        [(members[0].id, group.id, "open"), (members[1].id, group.id, "open"), (kim.id, other.id, "open")]
    )
    assert sent == {(m.id, f"prompt:{m.id}:{KEY}", "sent") for m in (*members, kim)}

"""The planner's next-due index and planning spread over workers, against real PostgreSQL and Redis: an idle
tick plans no group and a due reminder still goes at its time; an edit re-plans exactly the groups it
touches (and a send it makes due goes at its time); a tick planned from state older than an edit does not
hide the edit; planning jobs on the planning queue, where one group failing does not stop the others and
a job run twice sends once.

Scenario as in test_schedules_tick.py: Tuesdays at 18:00 New York, January 2020, every `now` given."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from rq import Queue
from sqlalchemy import select

from checkin.directory import add_group, add_member
from checkin.models import Group, Member, Message, OutboxItem
from checkin.schedules import due_index, set_plan, set_schedule
from checkin.schedules.service import pause_member
from checkin.schedules.tick import write_due
from tests.conftest import deliver_due
from workers import schedule_jobs
from workers.worker import Worker

MEETING = datetime(2020, 1, 14, 23, 0, tzinfo=UTC)  # Tue 14 January 2020, 18:00 New York
EDITED = MEETING - timedelta(days=6)
DAY_BEFORE = MEETING - timedelta(hours=24)
SAM, KIM = "+12025550101", "+12025550109"


def schedule(db, group_id, start=time(18, 0), now=EDITED):
    with db.session() as s:
        set_schedule(
            s,
            group_id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=start,
            duration_minutes=90,
            location="12 Main St",
            starts_on=date(2020, 1, 7),
            now=now,
        )


@pytest.fixture
def two_groups(db, group):
    """The Tuesday Group (Sam) and the Other Group (Kim), both meeting Tuesdays at 18:00."""
    with db.session() as s:
        other = add_group(s, "Other Group", "America/New_York", "+15005550007")
        add_member(s, group.name, SAM, "Sam Rivera")
        add_member(s, other.name, KIM, "Kim Lee")
    schedule(db, group.id)
    schedule(db, other.id)
    return group.id, other.id


def tick(runtime, now):
    """One whole tick as `schedule_jobs.tick` runs it; returns (rows written, ids of the groups it planned)."""
    with runtime.db.session() as s:
        result = write_due(s, now, base_url=runtime.settings.public_base_url)
    with runtime.db.session() as s:
        due_index.record(s, result.next_due)
    return len(result.created), sorted(result.next_due)


def due(db, now):
    with db.session() as s:
        return [gid for gid, _ in due_index.due_groups(s, now)]


def texts_to(fake_twilio, phone):
    return [m["params"]["Body"] for m in fake_twilio.messages() if m["params"]["To"] == phone]


def test_an_idle_tick_plans_no_group_and_the_reminder_still_goes_at_its_time(
    runtime, fake_twilio, two_groups
):
    before = DAY_BEFORE - timedelta(minutes=30)
    assert tick(runtime, before) == (0, list(two_groups))  # never planned: both are planned once
    for minute in range(1, 30):  # nothing due before the day-before reminder: no group is even loaded
        assert tick(runtime, before + timedelta(minutes=minute)) == (0, [])
    assert tick(runtime, DAY_BEFORE) == (2, list(two_groups))
    deliver_due(runtime, DAY_BEFORE)
    assert len(texts_to(fake_twilio, SAM)) == len(texts_to(fake_twilio, KIM)) == 1
    assert tick(runtime, DAY_BEFORE + timedelta(minutes=1)) == (0, [])


def test_a_plan_edit_replans_only_its_group_and_its_new_reminder_goes_at_its_time(
    runtime, fake_twilio, two_groups
):
    mine, other = two_groups
    start = MEETING - timedelta(days=3)
    tick(runtime, start)
    assert due(runtime.db, start + timedelta(hours=12)) == []
    # A reminder 3 days less an hour before the meeting: due an hour after `start`, long before the index
    # would have looked at the group again.
    with runtime.db.session() as s:
        set_plan(s, mine, now=start + timedelta(minutes=5), reminder_offsets_minutes=[4260, 1440, 120])
    assert due(runtime.db, start + timedelta(minutes=6)) == [mine]
    assert tick(runtime, start + timedelta(minutes=6)) == (0, [mine])
    assert tick(runtime, start + timedelta(minutes=59)) == (0, [])
    assert tick(runtime, start + timedelta(hours=1)) == (1, [mine])
    deliver_due(runtime, start + timedelta(hours=1))
    assert texts_to(fake_twilio, SAM) == [
        "Reminder: Tuesday Group meets Tue, Jan 14 at 6:00 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop."
    ]
    assert texts_to(fake_twilio, KIM) == []


def test_a_schedule_move_makes_a_reminder_due_sooner_and_it_goes_at_its_time(
    runtime, fake_twilio, two_groups
):
    mine, other = two_groups
    start = MEETING - timedelta(days=3)
    tick(runtime, start)
    # Moved to Sunday 12 January 18:00: its day-before reminder is Saturday 18:00, 3 hours from `start`.
    with runtime.db.session() as s:
        set_schedule(
            s,
            mine,
            rrule="FREQ=WEEKLY;BYDAY=SU",
            start_local=time(18, 0),
            duration_minutes=90,
            starts_on=date(2020, 1, 5),
            now=start + timedelta(minutes=1),
        )
    assert due(runtime.db, start + timedelta(minutes=2)) == [mine]
    saturday = datetime(2020, 1, 11, 23, 0, tzinfo=UTC)
    assert tick(runtime, saturday - timedelta(minutes=1)) == (0, [mine])
    assert tick(runtime, saturday) == (1, [mine])
    deliver_due(runtime, saturday)
    assert len(texts_to(fake_twilio, SAM)) == 1
    assert texts_to(fake_twilio, KIM) == []


@pytest.mark.parametrize("edit", ["member zone", "group zone", "pause", "join", "new member"])
def test_each_change_the_planner_reads_replans_exactly_the_groups_it_touches(runtime, two_groups, edit):
    mine, other = two_groups
    start = MEETING - timedelta(days=3)
    tick(runtime, start)
    with runtime.db.session() as s:
        sam = s.scalar(select(Member).where(Member.phone == SAM))
        if edit == "member zone":
            sam.timezone = "Europe/Madrid"
        elif edit == "group zone":
            s.get(Group, mine).timezone = "America/Chicago"
        elif edit == "pause":
            pause_member(s, SAM, date(2020, 1, 12))
        elif edit == "join":  # Kim joins Sam's group too
            kim = s.scalar(select(Member).where(Member.phone == KIM))
            kim.groups.append(s.get(Group, mine))
        else:
            add_member(s, "Tuesday Group", "+12025550111", "Lee Park")
    assert due(runtime.db, start + timedelta(minutes=1)) == [mine]
    assert tick(runtime, start + timedelta(minutes=1))[1] == [mine]
    assert due(runtime.db, start + timedelta(minutes=2)) == []


def test_a_tick_that_planned_before_an_edit_committed_does_not_hide_it(runtime, fake_twilio, two_groups):
    mine, other = two_groups
    start = MEETING - timedelta(days=3)
    with runtime.db.session() as s:  # a tick reads the state...
        result = write_due(s, start)
    with runtime.db.session() as s:  # ...an edit commits meanwhile (a reminder due an hour from now)...
        set_plan(s, mine, now=start, reminder_offsets_minutes=[4260, 1440, 120])
    with runtime.db.session() as s:  # ...and the tick stores the times it planned from the older state
        due_index.record(s, result.next_due)
    assert due(runtime.db, start + timedelta(minutes=1)) == [mine]
    assert tick(runtime, start + timedelta(hours=1))[0] == 1
    deliver_due(runtime, start + timedelta(hours=1))
    assert len(texts_to(fake_twilio, SAM)) == 1


def test_storing_a_ticks_times_skips_a_group_being_edited_instead_of_waiting_for_it(runtime, two_groups):
    from sqlalchemy import text

    mine, other = two_groups
    start = MEETING - timedelta(days=3)
    with runtime.db.session() as s:
        seq = due_index.seqs(s, [mine, other])
    editing = runtime.db.sessions()  # a coordinator's edit, not yet committed, holds its group's row
    try:
        set_plan(editing, mine, now=start, reminder_offsets_minutes=[4260, 1440, 120])
        editing.flush()
        with runtime.db.session() as s:
            s.execute(text("SET LOCAL lock_timeout = '10s'"))  # a wait would fail here, not hang
            later = start + timedelta(hours=6)
            assert due_index.record(s, {mine: (seq[mine], later), other: (seq[other], later)}) == 1
        editing.commit()
    finally:
        editing.close()
    assert due(runtime.db, start) == [mine]


# --- planning jobs on the planning queue ---------------------------------------------------------


def test_the_leader_hands_due_groups_to_workers_and_a_second_leader_hands_out_nothing(
    runtime, fake_twilio, two_groups
):
    assert schedule_jobs.dispatch(DAY_BEFORE, runtime=runtime) == 1  # one shard of two groups
    assert schedule_jobs.dispatch(DAY_BEFORE, runtime=runtime) == 0  # claimed: not handed out again
    jobs = Queue("planning", connection=runtime.redis).jobs
    assert [job.args for job in jobs] == [(list(two_groups), DAY_BEFORE)]
    Worker(["planning"], connection=runtime.redis, runtime=runtime).work(burst=True)
    deliver_due(runtime, DAY_BEFORE)
    assert len(texts_to(fake_twilio, SAM)) == len(texts_to(fake_twilio, KIM)) == 1
    # Planned: the next tick finds nothing due; a lost job's groups are handed out again when the claim ends.
    assert schedule_jobs.dispatch(DAY_BEFORE + timedelta(minutes=1), runtime=runtime) == 0


def test_a_planning_job_run_twice_sends_each_reminder_once(runtime, fake_twilio, two_groups):
    assert schedule_jobs.plan_groups(list(two_groups), DAY_BEFORE, runtime=runtime) == 2
    assert (
        schedule_jobs.plan_groups(list(two_groups), DAY_BEFORE + timedelta(seconds=30), runtime=runtime) == 0
    )
    deliver_due(runtime, DAY_BEFORE + timedelta(minutes=1))
    assert len(fake_twilio.messages()) == 2


def test_one_group_failing_in_a_planning_job_does_not_stop_the_others(
    runtime, fake_twilio, two_groups, monkeypatch
):
    from checkin.schedules import tick as tick_module

    mine, other = two_groups
    real = tick_module.load_state

    def broken_for_other(session, now, group_ids=None):
        if group_ids is not None and other in group_ids:
            raise RuntimeError("the database said no")  # a failure no planner rule catches
        return real(session, now, group_ids)

    monkeypatch.setattr(tick_module, "load_state", broken_for_other)
    with pytest.raises(schedule_jobs.PlanningFailed, match=f"groups \\[{other}\\]"):
        schedule_jobs.plan_groups([mine, other], DAY_BEFORE, runtime=runtime)
    deliver_due(runtime, DAY_BEFORE)
    assert len(texts_to(fake_twilio, SAM)) == 1
    assert texts_to(fake_twilio, KIM) == []
    # The failed group is still due, so the next tick tries it again (and, working again, sends).
    assert due(runtime.db, DAY_BEFORE + timedelta(minutes=1)) == [other]
    monkeypatch.setattr(tick_module, "load_state", real)
    assert schedule_jobs.tick(DAY_BEFORE + timedelta(minutes=1), runtime=runtime) == 1
    deliver_due(runtime, DAY_BEFORE + timedelta(minutes=1))
    assert len(texts_to(fake_twilio, KIM)) == 1
    with runtime.db.session() as s:
        assert s.scalar(select(OutboxItem.id).where(OutboxItem.state != "sent")) is None


def test_in_a_planning_job_a_member_texting_right_now_gets_the_prompt_when_the_exchange_is_over(
    runtime, fake_twilio, two_groups
):
    """The job reads who texted in the last 2 hours for its own groups' members: Sam, texting 4 minutes
    before Thursday's prompt, gets his when the exchange is over; Kim, who texted 3 hours before, on time."""
    prompt_time = datetime(2020, 1, 16, 15, 0, tzinfo=UTC)  # Thu 10:00 New York, after the 14 January meeting
    with runtime.db.session() as s:
        for gid in two_groups:
            set_plan(s, gid, now=EDITED, reminder_offsets_minutes=[])
        group_number = {g.id: g.phone_number for g in s.scalars(select(Group))}
        for phone, ago in ((SAM, timedelta(minutes=4)), (KIM, timedelta(hours=3))):
            member = s.scalars(select(Member).where(Member.phone == phone)).one()
            s.add(
                Message(
                    direction="inbound",
                    member_id=member.id,
                    from_number=phone,
                    to_number=group_number[two_groups[phone == KIM]],
                    body="rough day",
                    status="received",
                    created_at=prompt_time - ago,
                )
            )
    assert schedule_jobs.plan_groups(list(two_groups), prompt_time, runtime=runtime) == 1
    deliver_due(runtime, prompt_time)
    assert texts_to(fake_twilio, SAM) == [] and len(texts_to(fake_twilio, KIM)) == 1
    later = prompt_time + timedelta(minutes=7)  # ten minutes after Sam's message
    assert schedule_jobs.plan_groups(list(two_groups), later, runtime=runtime) == 1
    deliver_due(runtime, later)
    assert len(texts_to(fake_twilio, SAM)) == 1

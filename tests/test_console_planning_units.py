"""The planning pages' building blocks: schedule builder <-> RRULE, the calendar feed, the simulator."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import func, select

from checkin.escalation.models import Escalation
from checkin.models import Message, OutboxItem
from webhooks.console import recurrence, simulator
from webhooks.console.recurrence import Recurrence, RecurrenceError

CRISIS_TEXT = "I am going to kill myself tonight"


# --- schedule builder -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rec, rule, words",
    [
        (Recurrence("weekly", "TU"), "FREQ=WEEKLY;BYDAY=TU", "Every Tuesday"),
        (Recurrence("biweekly", "TH"), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "Every other Thursday"),
        (Recurrence("monthly", "TU", 2), "FREQ=MONTHLY;BYDAY=+2TU", "The 2nd Tuesday of each month"),
        (Recurrence("monthly", "FR", -1), "FREQ=MONTHLY;BYDAY=-1FR", "The last Friday of each month"),
    ],
)
def test_builder_writes_the_rule_and_reads_it_back(rec, rule, words):
    assert rec.rrule() == rule
    assert recurrence.parse(rule) == rec
    assert recurrence.parse("RRULE:" + rule) == rec
    assert rec.describe() == words


def test_first_meeting_is_the_first_matching_day_on_or_after_the_chosen_date():
    # 1 January 2026 is a Thursday; the 2nd Tuesday of January 2026 is the 13th.
    assert Recurrence("weekly", "TU").first_on_or_after(date(2026, 1, 1), time(18)) == datetime(
        2026, 1, 6, 18
    )
    assert Recurrence("weekly", "TH").first_on_or_after(date(2026, 1, 1), time(18)) == datetime(
        2026, 1, 1, 18
    )
    second_tuesday = Recurrence("monthly", "TU", 2)
    assert second_tuesday.first_on_or_after(date(2026, 1, 1), time(18, 30)) == datetime(2026, 1, 13, 18, 30)
    assert second_tuesday.first_on_or_after(date(2026, 1, 14), time(18, 30)) == datetime(2026, 2, 10, 18, 30)


def test_every_other_week_skips_a_week_when_expanded_by_dateutil():
    rec = Recurrence("biweekly", "MO")
    start = rec.first_on_or_after(date(2026, 3, 1), time(19))
    dates = [d.date() for d in rrulestr(rec.rrule(), dtstart=start)[:3]]
    assert dates == [date(2026, 3, 2), date(2026, 3, 16), date(2026, 3, 30)]


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=MO,TH",
        "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
        "FREQ=MONTHLY;BYMONTHDAY=15",
        "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO",
        "not a rule",
        "",
    ],
)
def test_rules_the_builder_cannot_express_are_not_forced_into_it(rule):
    assert recurrence.parse(rule) is None


@pytest.mark.parametrize(
    "form, field",
    [
        ({"repeat": "daily", "weekday": "TU"}, "repeat"),
        ({"repeat": "weekly", "weekday": "XX"}, "weekday"),
        ({"repeat": "monthly", "weekday": "TU", "nth": "5"}, "week of the month"),
        ({"repeat": "monthly", "weekday": "TU", "nth": ""}, "week of the month"),
    ],
)
def test_bad_builder_input_names_the_field(form, field):
    with pytest.raises(RecurrenceError, match=field):
        recurrence.from_form(form)


# --- simulator --------------------------------------------------------------------------------


@pytest.fixture
def facilitator(db, group):
    from checkin.directory import add_staff

    with db.session() as s:
        return add_staff(s, "Dana Ortiz", "dana@example.org", "facilitator", "+12025550201", [group.name])


def _counts(db):
    with db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Message, OutboxItem, Escalation))


def test_simulated_crisis_shows_the_reply_and_the_alerts_and_keeps_nothing(
    app, db, group, member, facilitator
):
    before = _counts(db)
    [turn] = simulator.run(
        db, member.id, group.id, [CRISIS_TEXT], context=app.extensions["checkin.escalation"]
    )
    assert turn.level == "crisis"
    assert "988" in turn.reply and "911" in turn.reply
    texts = [a for a in turn.alerts if a.channel == "sms"]
    assert [a.to for a in texts] == ["Dana Ortiz"]
    assert "(crisis): Sam, Tuesday Group" in texts[0].body
    assert any(a.channel == "voice" for a in turn.alerts)  # the alert call facilitators would get too
    # Nothing survives: no message, no escalation, nothing in the outbox for a worker to send.
    assert _counts(db) == before


def test_a_conversation_is_replayed_so_later_texts_see_earlier_ones(app, db, group, member):
    turns = simulator.run(
        db, member.id, group.id, ["STOP", "START"], context=app.extensions["checkin.escalation"]
    )
    assert "no more texts" in turns[0].reply
    assert turns[1].reply.startswith("Welcome back, Sam")
    # The real member was never opted out.
    with db.session() as s:
        from checkin.models import Member

        assert s.get(Member, member.id).status == "active"


@pytest.fixture
def laptop(tmp_path):
    """A SQLite database as `make run` has it, with a group, a member and a facilitator: (db, group, member)."""
    from checkin import crypto
    from checkin.db import Database
    from checkin.directory import add_group, add_member, add_staff
    from migrations import upgrade
    from tests.conftest import ENCRYPTION_KEY

    url = f"sqlite:///{tmp_path / 'sim.sqlite3'}"
    upgrade(url)
    lite = Database(url)
    crypto.install(lite.engine, [ENCRYPTION_KEY])  # as the composition root does
    with lite.session() as s:
        group = add_group(s, "Laptop Group", "Europe/London", "+15005550006")
        member = add_member(s, group.name, "+12025550177", "Kit Jones")
        add_staff(s, "Dana Ortiz", "dana@example.org", "facilitator", "+12025550201", [group.name])
    yield lite, group, member
    lite.dispose()


def test_on_sqlite_too_the_simulation_is_rolled_back(app, laptop):
    """`make run` uses SQLite, whose driver would otherwise commit at the first savepoint release."""
    lite, group, member = laptop
    turns = simulator.run(
        lite, member.id, group.id, ["STOP", CRISIS_TEXT], context=app.extensions["checkin.escalation"]
    )
    assert turns[1].level == "crisis" and turns[1].alerts
    assert _counts(lite) == (0, 0, 0)
    with lite.session() as s:
        from checkin.models import Member

        assert s.get(Member, member.id).status == "active"


def test_on_sqlite_too_a_simulated_call_is_rolled_back(app, laptop, settings):
    """The call's nested savepoints (its row, each answer) are undone as well."""
    from checkin.voice.models import VoiceCall
    from webhooks.console.call_simulator import run_call

    lite, group, member = laptop
    call = run_call(
        lite,
        member.id,
        group.id,
        ["key:1", "key:2", "transcript:" + CRISIS_TEXT],
        context=app.extensions["checkin.escalation"],
        base=settings.public_base_url + "/twilio/voice",
    )
    assert call.turns[-1].level == "crisis" and call.turns[-1].alerts
    assert _counts(lite) == (0, 0, 0)
    with lite.session() as s:
        assert s.scalar(select(func.count()).select_from(VoiceCall)) == 0


# --- calendar feed ----------------------------------------------------------------------------


def _events(body: bytes):
    from icalendar import Calendar

    cal = Calendar.from_ical(body)
    return cal, sorted(cal.walk("VEVENT"), key=lambda e: e.decoded("dtstart"))


def _feed(db, group_id, start, end):
    from checkin import calendar_feed, schedules
    from checkin.models import Group

    with db.session() as s:
        group = s.get(Group, group_id)
        return calendar_feed.build(
            group.name, group.timezone, schedules.occurrences(s, group_id, start, end), host="checkin.test"
        )


def test_feed_keeps_the_groups_wall_clock_time_across_both_dst_changes(db, group):

    from checkin import schedules

    rec = Recurrence("weekly", "TU")
    first = rec.first_on_or_after(date(2027, 3, 1), time(18))
    with db.session() as s:
        schedules.set_schedule(
            s,
            group.id,
            rrule=rec.rrule(),
            start_local=time(18),
            duration_minutes=90,
            starts_on=first.date(),
            location="Grace Church, Room 204",
            dial_in="+12025550123",
        )
    utc = UTC
    cal, spring = _events(
        _feed(db, group.id, datetime(2027, 3, 1, tzinfo=utc), datetime(2027, 3, 20, tzinfo=utc))
    )
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    assert cal.decoded("refresh-interval") == timedelta(hours=1)
    starts = [e.decoded("dtstart") for e in spring]
    # 14 March 2027: clocks go forward. 18:00 local every week; 23:00 UTC before, 22:00 UTC after.
    assert [(d.date(), d.hour, d.minute, str(d.tzinfo)) for d in starts] == [
        (date(2027, 3, 2), 18, 0, "America/New_York"),
        (date(2027, 3, 9), 18, 0, "America/New_York"),
        (date(2027, 3, 16), 18, 0, "America/New_York"),
    ]
    assert [d.astimezone(utc).hour for d in starts] == [23, 23, 22]
    assert all(e.decoded("dtend") - e.decoded("dtstart") == timedelta(minutes=90) for e in spring)
    assert str(spring[0]["location"]) == "Grace Church, Room 204" and "+12025550123" in str(
        spring[0]["description"]
    )
    _, autumn = _events(
        _feed(db, group.id, datetime(2027, 10, 30, tzinfo=utc), datetime(2027, 11, 13, tzinfo=utc))
    )
    # 7 November 2027: clocks go back.
    assert [(e.decoded("dtstart").hour, e.decoded("dtstart").astimezone(utc).hour) for e in autumn] == [
        (18, 22),
        (18, 23),
    ]


def test_feed_marks_a_cancelled_meeting_and_moves_a_moved_one_under_the_same_uid(db, group):

    from checkin import schedules

    utc = UTC
    with db.session() as s:
        schedules.set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(18),
            duration_minutes=60,
            starts_on=date(2027, 3, 2),
        )
    window = (datetime(2027, 3, 1, tzinfo=utc), datetime(2027, 3, 20, tzinfo=utc))
    _, before = _events(_feed(db, group.id, *window))
    uids = [str(e["uid"]) for e in before]
    with db.session() as s:
        occ = schedules.occurrences(s, group.id, *window)
        schedules.cancel_occurrence(s, group.id, occ[0].key)
        schedules.move_occurrence(s, group.id, occ[1].key, datetime(2027, 3, 11, 19, 30))
    _, after = _events(_feed(db, group.id, *window))
    by_uid = {str(e["uid"]): e for e in after}
    assert set(by_uid) == set(uids)  # calendar apps update the same events
    cancelled, moved = by_uid[uids[0]], by_uid[uids[1]]
    assert str(cancelled["status"]) == "CANCELLED" and str(cancelled["summary"]).startswith("Cancelled")
    assert moved.decoded("dtstart").replace(tzinfo=None) == datetime(2027, 3, 11, 19, 30)
    assert "Moved from Tuesday 09 March 18:00" in str(moved["description"])
    assert str(by_uid[uids[2]]["status"]) == "CONFIRMED"

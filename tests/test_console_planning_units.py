"""The planning pages' building blocks: schedule builder <-> RRULE, the calendar feed, the simulator."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import func, select

from checkin.escalation.models import Escalation
from checkin.models import Message, OutboxItem
from webhooks.console_planning import recurrence, simulator
from webhooks.console_planning.recurrence import Recurrence, RecurrenceError

CRISIS_TEXT = "I am going to kill myself tonight"


# --- schedule builder -------------------------------------------------------------------------

@pytest.mark.parametrize("rec, rule, words", [
    (Recurrence("weekly", "TU"), "FREQ=WEEKLY;BYDAY=TU", "Every Tuesday"),
    (Recurrence("biweekly", "TH"), "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "Every other Thursday"),
    (Recurrence("monthly", "TU", 2), "FREQ=MONTHLY;BYDAY=+2TU", "The 2nd Tuesday of each month"),
    (Recurrence("monthly", "FR", -1), "FREQ=MONTHLY;BYDAY=-1FR", "The last Friday of each month"),
])
def test_builder_writes_the_rule_and_reads_it_back(rec, rule, words):
    assert rec.rrule() == rule
    assert recurrence.parse(rule) == rec
    assert recurrence.parse("RRULE:" + rule) == rec
    assert rec.describe() == words


def test_first_meeting_is_the_first_matching_day_on_or_after_the_chosen_date():
    # 1 January 2026 is a Thursday; the 2nd Tuesday of January 2026 is the 13th.
    assert Recurrence("weekly", "TU").first_on_or_after(date(2026, 1, 1), time(18)) == datetime(2026, 1, 6, 18)
    assert Recurrence("weekly", "TH").first_on_or_after(date(2026, 1, 1), time(18)) == datetime(2026, 1, 1, 18)
    second_tuesday = Recurrence("monthly", "TU", 2)
    assert second_tuesday.first_on_or_after(date(2026, 1, 1), time(18, 30)) == datetime(2026, 1, 13, 18, 30)
    assert second_tuesday.first_on_or_after(date(2026, 1, 14), time(18, 30)) == datetime(2026, 2, 10, 18, 30)


def test_every_other_week_skips_a_week_when_expanded_by_dateutil():
    rec = Recurrence("biweekly", "MO")
    start = rec.first_on_or_after(date(2026, 3, 1), time(19))
    dates = [d.date() for d in rrulestr(rec.rrule(), dtstart=start)[:3]]
    assert dates == [date(2026, 3, 2), date(2026, 3, 16), date(2026, 3, 30)]


@pytest.mark.parametrize("rule", ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=WEEKLY;BYDAY=MO;COUNT=4",
                                  "FREQ=MONTHLY;BYMONTHDAY=15", "FREQ=WEEKLY;INTERVAL=3;BYDAY=MO", "not a rule", ""])
def test_rules_the_builder_cannot_express_are_not_forced_into_it(rule):
    assert recurrence.parse(rule) is None


@pytest.mark.parametrize("form, field", [
    ({"repeat": "daily", "weekday": "TU"}, "repeat"),
    ({"repeat": "weekly", "weekday": "XX"}, "weekday"),
    ({"repeat": "monthly", "weekday": "TU", "nth": "5"}, "week of the month"),
    ({"repeat": "monthly", "weekday": "TU", "nth": ""}, "week of the month"),
])
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


def test_simulated_crisis_shows_the_reply_and_the_alerts_and_keeps_nothing(app, db, group, member, facilitator):
    before = _counts(db)
    [turn] = simulator.run(db, member.id, group.id, [CRISIS_TEXT], context=app.extensions["checkin.escalation"])
    assert turn.level == "crisis"
    assert "988" in turn.reply and "911" in turn.reply
    texts = [a for a in turn.alerts if a.channel == "sms"]
    assert [a.to for a in texts] == ["Dana Ortiz"]
    assert "(crisis): Sam, Tuesday Group" in texts[0].body
    assert any(a.channel == "voice" for a in turn.alerts)  # the alert call facilitators would get too
    # Nothing survives: no message, no escalation, nothing in the outbox for a worker to send.
    assert _counts(db) == before


def test_a_conversation_is_replayed_so_later_texts_see_earlier_ones(app, db, group, member):
    turns = simulator.run(db, member.id, group.id, ["STOP", "START"], context=app.extensions["checkin.escalation"])
    assert "no more texts" in turns[0].reply
    assert turns[1].reply.startswith("Welcome back, Sam")
    # The real member was never opted out.
    with db.session() as s:
        from checkin.models import Member

        assert s.get(Member, member.id).status == "active"


def test_on_sqlite_too_the_simulation_is_rolled_back(app, tmp_path):
    """`make run` uses SQLite, whose driver would otherwise commit at the first savepoint release."""
    from checkin.db import Database
    from checkin.directory import add_group, add_member, add_staff
    from migrations import upgrade

    url = f"sqlite:///{tmp_path / 'sim.sqlite3'}"
    upgrade(url)
    lite = Database(url)
    with lite.session() as s:
        group = add_group(s, "Laptop Group", "Europe/London", "+15005550006")
        member = add_member(s, group.name, "+12025550177", "Kit Jones")
        add_staff(s, "Dana Ortiz", "dana@example.org", "facilitator", "+12025550201", [group.name])
    turns = simulator.run(lite, member.id, group.id, ["STOP", CRISIS_TEXT], context=app.extensions["checkin.escalation"])
    assert turns[1].level == "crisis" and turns[1].alerts
    assert _counts(lite) == (0, 0, 0)
    with lite.session() as s:
        from checkin.models import Member

        assert s.get(Member, member.id).status == "active"
    lite.dispose()

"""The weekly report's figures (checkin.reports.weekly), on PostgreSQL and on SQLite (as `make run` keeps
its data), from check-ins and escalations seeded across weeks in Chicago around the end of daylight
saving time (Sunday 1 November 2026, 02:00 CDT -> 01:00 CST)."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta

import pytest

from checkin.checkins import CheckIn
from checkin.directory import add_group, add_member
from checkin.errors import ValidationError
from checkin.escalation.models import Escalation
from checkin.reports import weekly

ZONE = "America/Chicago"
OCT_19, OCT_26, NOV_2 = date(2026, 10, 19), date(2026, 10, 26), date(2026, 11, 2)
# Sunday 1 Nov 23:30 CST, the last half hour of the 169-hour week of Oct 26 (a fixed offset from the
# week's start, CDT, would put it in the next week); and Monday 2 Nov 00:30 CST, in the next week.
SUNDAY_LATE = datetime(2026, 11, 2, 5, 30, tzinfo=UTC)
MONDAY_EARLY = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
OCT_26_END = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # Monday 2 Nov 00:00 CST


def utc(month, day, hour=15, minute=0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite database, copied for each test (migrating takes longer than a test)."""
    from migrations import upgrade

    path = tmp_path_factory.mktemp("reports") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request, tmp_path):
    runtime = request.getfixturevalue("runtime")
    if request.param == "postgresql":
        request.getfixturevalue("postgres_only")
        yield runtime.db
        return
    from checkin import crypto
    from checkin.db import Database

    path = tmp_path / "reports.sqlite3"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    db = Database(f"sqlite:///{path}")
    crypto.install(db.engine, runtime.settings.encryption_keys)
    try:
        yield db
    finally:
        db.engine.dispose()


def seed(db) -> dict:
    """Four members of a Chicago group (and one check-in of another group that must not count)."""
    with db.session() as s:
        group = add_group(s, "Chicago Group", ZONE, "+15005550006")
        other = add_group(s, "Other Group", "America/New_York", "+15005550007")
        ana, ben, cy, dee = (
            add_member(s, group.name, f"+1202555010{i}", name)
            for i, name in enumerate(("Ana Ruiz", "Ben Ode", "Cy Park", "Dee Moss"))
        )
        eve = add_member(s, other.name, "+12025550109", "Eve Other")
        s.flush()
        n = iter(range(1000))

        def prompt(member, at, state, score=None, answered_at=None, group_id=group.id):
            answered_at = answered_at or (at + timedelta(hours=1) if state == "answered" else None)
            s.add(
                CheckIn(
                    member_id=member.id,
                    group_id=group_id,
                    prompt_key=f"prompt:{member.id}:{next(n)}",
                    prompted_at=at,
                    state=state,
                    score=score,
                    answered_at=answered_at,
                    closed_at=answered_at or (at + timedelta(days=7) if state != "open" else None),
                )
            )

        # Week of Oct 19: two sent, one answered (3).
        prompt(ana, utc(10, 20), "answered", 3)
        prompt(cy, utc(10, 20), "missed")
        # Week of Oct 26: five sent (Dee's first was never sent; her second at 23:45 on Sunday local time),
        # four answered: 4 and 2 on Tuesday, Ana's 5 late on Sunday (this week's), Dee's 1 just after
        # midnight (the next week's scores, though it answers this week's prompt).
        prompt(ana, utc(10, 27), "answered", 4)
        prompt(ben, utc(10, 27), "answered", 2)
        prompt(cy, utc(10, 27), "missed")
        prompt(dee, utc(10, 27), "unsent")
        prompt(ana, utc(11, 1), "answered", 5, answered_at=SUNDAY_LATE)
        prompt(dee, utc(11, 2, 5, 45), "answered", 1, answered_at=MONDAY_EARLY)
        # Week of Nov 2: three sent, one answered (3), Ben's still open.
        prompt(ana, utc(11, 3), "answered", 3)
        prompt(ben, utc(11, 3), "open")
        prompt(cy, utc(11, 3), "missed")
        # Another group's prompt, in the same week, answered 5: not this group's figures.
        prompt(eve, utc(11, 3), "answered", 5, group_id=other.id)

        def escalation(member, level, opened, ack_after=None, group_id=group.id):
            acked = opened + ack_after if ack_after is not None else None
            s.add(
                Escalation(
                    member_id=member.id,
                    group_id=group_id,
                    level=level,
                    state="resolved" if acked else "open",
                    opened_at=opened,
                    acknowledged_at=acked,
                    resolved_at=acked,
                )
            )

        escalation(ben, "urgent", SUNDAY_LATE + timedelta(minutes=10), timedelta(hours=1))  # week of Oct 26
        escalation(ana, "crisis", utc(11, 3, 10), timedelta(minutes=2))
        escalation(ben, "crisis", utc(11, 4, 3), timedelta(minutes=10))
        escalation(cy, "crisis", utc(11, 5, 22))  # nobody has acknowledged it
        escalation(dee, "urgent", utc(11, 6, 9), timedelta(minutes=30))
        escalation(eve, "crisis", utc(11, 3, 11), timedelta(hours=5), group_id=other.id)
    return {"group": group, "cy": cy}


def test_each_figure_week_by_week_in_local_weeks_across_the_dst_change(database):
    seeded = seed(database)
    with database.session() as s:
        report = weekly.weekly_report(s, seeded["group"], date(2026, 11, 4), weeks=4)

    assert [w.week.monday for w in report.weeks] == [date(2026, 10, 12), OCT_19, OCT_26, NOV_2]
    dst_week = report.weeks[2].week
    assert dst_week.ends_at - dst_week.starts_at == timedelta(hours=169)
    assert dst_week.ends_at == OCT_26_END

    empty, oct_19, oct_26, nov_2 = report.weeks
    # A week with nothing: zeros and "no figure", never a division by zero.
    assert (empty.sent, empty.answered, empty.reply_rate, empty.mean_score, empty.escalations_opened) == (
        0,
        0,
        None,
        None,
        0,
    )
    assert (oct_19.sent, oct_19.answered, oct_19.reply_rate, oct_19.mean_score) == (2, 1, 0.5, 3)
    assert (oct_26.sent, oct_26.answered, oct_26.reply_rate) == (5, 4, 0.8)
    assert sorted(oct_26.scores) == [2, 4, 5]  # the Sunday-night 5 belongs to its local week
    assert (nov_2.sent, nov_2.answered) == (3, 1)
    assert sorted(nov_2.scores) == [1, 3]  # Monday 00:30 local starts the next week
    assert nov_2.mean_score == 2

    levels = {f.level: f for f in nov_2.escalations}
    crisis, urgent = levels["crisis"], levels["urgent"]
    assert (crisis.opened, crisis.acknowledged, crisis.not_acknowledged) == (3, 2, 1)
    assert crisis.p50_seconds == pytest.approx(360)  # between 2 and 10 minutes
    assert crisis.p90_seconds == pytest.approx(120 + 0.9 * 480)
    assert (urgent.opened, urgent.acknowledged, urgent.p50_seconds, urgent.p90_seconds) == (1, 1, 1800, 1800)
    oct_levels = {f.level: f for f in oct_26.escalations}
    assert oct_levels["urgent"].opened == 1 and oct_levels["urgent"].p50_seconds == pytest.approx(3600)
    assert oct_levels["crisis"].opened == 0 and oct_levels["crisis"].p50_seconds is None

    # Cy missed three in a row by the end of the week of Nov 2 (two by the end of the week before).
    assert [(r.name, r.missed) for r in nov_2.missed_runs] == [("Cy Park", 3)]
    with database.session() as s:
        assert weekly.missed_runs(s, seeded["group"].id, OCT_26_END) == []

    # Means 3, 3.67, 2 over three weeks: falling, i.e. getting worse (higher is better).
    assert report.trend.direction == "falling" and report.trend.weeks_with_scores == 3
    assert "getting worse" in report.trend.words and "higher is better" in report.trend.words


def test_a_new_group_reads_as_nothing_yet(database):
    with database.session() as s:
        group = add_group(s, "New Group", ZONE)
    with database.session() as s:
        report = weekly.weekly_report(s, group, NOV_2)
        rows = weekly.csv_rows(s, group, weekly.weeks_between(ZONE, NOV_2, NOV_2))
    assert all(w.sent == 0 and w.reply_rate is None and w.mean_score is None for w in report.weeks)
    assert report.trend.direction == "unknown" and "Not enough weeks" in report.trend.words
    assert (
        rows[0]["prompts_sent"] == 0 and rows[0]["reply_rate_percent"] == "" and rows[0]["mean_score"] == ""
    )


def test_csv_rows_carry_the_same_figures(database):
    seeded = seed(database)
    with database.session() as s:
        rows = weekly.csv_rows(
            s, seeded["group"], weekly.weeks_between(ZONE, OCT_26, NOV_2 + timedelta(days=6))
        )
    assert [r["week_starts"] for r in rows] == ["2026-10-26", "2026-11-02"]
    assert rows[0]["members_3_or_more_missed_in_a_row"] == 0  # Cy had missed two by then
    last = rows[-1]
    assert last["reply_rate_percent"] == "33.3" and last["mean_score"] == "2.00"
    assert last["members_3_or_more_missed_in_a_row"] == 1 and last["those_members"] == "Cy Park (3)"
    assert (last["crisis_escalations"], last["crisis_not_acknowledged"]) == (3, 1)
    assert last["crisis_minutes_to_acknowledge_p50"] == "6.0"


def test_too_many_weeks_or_backwards_is_refused():
    with pytest.raises(ValidationError, match="at most 53 weeks"):
        weekly.weeks_between(ZONE, date(2025, 1, 1), date(2026, 11, 2))
    with pytest.raises(ValidationError, match="must not come before"):
        weekly.weeks_between(ZONE, NOV_2, OCT_26)

"""The rota rule: weekly shifts in the group's zone (overnight, across both DST changes), dated
cover and absence, no windows meaning always, and the OFFCALL switch overriding all of it."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from checkin import rota
from checkin.errors import ValidationError
from checkin.models import GroupStaff, OnCallWindow

NY = ZoneInfo("America/New_York")
UTC = UTC


def weekly(days: str, start: str, end: str, span: int = 0) -> OnCallWindow:
    h1, m1 = map(int, start.split(":"))
    h2, m2 = map(int, end.split(":"))
    return OnCallWindow(
        kind="weekly", days=days, start_minute=h1 * 60 + m1, end_minute=h2 * 60 + m2, span_days=span
    )


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_office_hours_cover_weekdays_nine_to_five_local():
    office = weekly("12345", "09:00", "17:00")
    # Tuesday 1 December 2026.
    assert rota.contains(office, NY, ny(2026, 12, 1, 9, 0))
    assert rota.contains(office, NY, ny(2026, 12, 4, 16, 59))  # Friday
    assert not rota.contains(office, NY, ny(2026, 12, 4, 17, 0))  # the end is not in it
    assert not rota.contains(office, NY, ny(2026, 12, 1, 8, 59))
    assert not rota.contains(office, NY, ny(2026, 12, 5, 12, 0))  # Saturday
    # 14:30 UTC is 09:30 in New York in winter: the instant is read in the group's zone.
    assert rota.contains(office, NY, utc(2026, 12, 1, 14, 30))
    assert not rota.contains(office, NY, utc(2026, 12, 1, 13, 30))


def test_a_shift_that_crosses_midnight_belongs_to_the_day_it_starts():
    nights = weekly("1234", "22:00", "06:00")  # Mon-Thu nights
    assert rota.contains(nights, NY, ny(2026, 12, 1, 3, 0))  # Tuesday 03:00: Monday's night
    assert rota.contains(nights, NY, ny(2026, 12, 4, 5, 59))  # Friday 05:59: Thursday's night
    assert not rota.contains(nights, NY, ny(2026, 11, 30, 3, 0))  # Monday 03:00: Sunday has no night
    assert not rota.contains(nights, NY, ny(2026, 12, 4, 22, 30))  # Friday 22:30


def test_the_weekend_shift_across_the_autumn_dst_change_ends_at_nine_on_the_wall_clock():
    # Friday 30 October 18:00 EDT to Monday 2 November 09:00 EST: clocks go back on Sunday 1 November.
    weekend = weekly("5", "18:00", "09:00", span=3)
    assert not rota.contains(weekend, NY, utc(2026, 10, 30, 21, 59))  # 17:59 EDT
    assert rota.contains(weekend, NY, utc(2026, 10, 30, 22, 0))  # 18:00 EDT
    assert rota.contains(weekend, NY, utc(2026, 11, 1, 7, 0))  # 3 a.m. Sunday, after the change
    assert rota.contains(weekend, NY, utc(2026, 11, 2, 13, 30))  # 08:30 EST (read as EDT it would be over)
    assert not rota.contains(weekend, NY, utc(2026, 11, 2, 14, 0))  # 09:00 EST
    assert not rota.contains(weekend, NY, ny(2026, 10, 29, 20, 0))  # Thursday evening


def test_an_overnight_shift_across_the_spring_dst_change_is_an_hour_shorter():
    # Saturday 7 March 2026 22:00 EST to Sunday 06:00 EDT: seven hours, not eight.
    saturday_night = weekly("6", "22:00", "06:00")
    assert rota.contains(saturday_night, NY, utc(2026, 3, 8, 3, 0))  # 22:00 EST
    assert rota.contains(saturday_night, NY, utc(2026, 3, 8, 9, 59))  # 05:59 EDT
    assert not rota.contains(saturday_night, NY, utc(2026, 3, 8, 10, 0))  # 06:00 EDT
    assert not rota.contains(saturday_night, NY, utc(2026, 3, 8, 10, 30))  # read as EST it would still run


def test_windows_in_words():
    assert rota.describe(weekly("12345", "09:00", "17:00"), NY) == "Mon–Fri 9:00 am–5:00 pm"
    assert rota.describe(weekly("5", "18:00", "09:00", span=3), NY) == "Fri 6:00 pm to Mon 9:00 am"
    assert rota.describe(weekly("1234", "22:00", "06:00"), NY) == "Mon–Thu 10:00 pm to 6:00 am the next day"
    assert rota.describe(weekly("136", "08:00", "12:00"), NY) == "Mon, Wed, Sat 8:00 am–12:00 pm"
    assert (
        rota.describe(weekly("1234567", "00:00", "00:00"), NY)
        == "Every day 12:00 am to 12:00 am the next day"
    )
    away = OnCallWindow(kind="away", starts_at=utc(2026, 12, 24, 14, 0), ends_at=utc(2026, 12, 27, 14, 0))
    assert rota.describe(away, NY) == "Away: Thu, Dec 24, 2026, 9:00 am to Sun, Dec 27, 2026, 9:00 am"


def place(on_call=True) -> GroupStaff:
    return GroupStaff(group_id=1, staff_id=1, tier="primary", on_call=on_call)


def test_no_windows_means_always_and_off_call_means_never():
    at = ny(2026, 12, 6, 3, 0)  # 3 a.m. on a Sunday
    assert rota.is_on_call(place(), [], NY, at)
    assert not rota.is_on_call(place(on_call=False), [], NY, at)
    # OFFCALL beats a shift that covers the instant.
    assert not rota.is_on_call(place(on_call=False), [weekly("7", "00:00", "12:00")], NY, at)


def test_cover_adds_time_and_absence_takes_it_away():
    office = weekly("12345", "09:00", "17:00")
    cover = OnCallWindow(kind="cover", starts_at=utc(2026, 12, 5, 0, 0), ends_at=utc(2026, 12, 7, 0, 0))
    away = OnCallWindow(kind="away", starts_at=utc(2026, 12, 2, 0, 0), ends_at=utc(2026, 12, 3, 0, 0))
    saturday, wednesday, thursday = ny(2026, 12, 5, 12, 0), ny(2026, 12, 2, 12, 0), ny(2026, 12, 3, 12, 0)
    assert not rota.is_on_call(place(), [office], NY, saturday)
    assert rota.is_on_call(place(), [office, cover], NY, saturday)
    assert not rota.is_on_call(place(), [office, away], NY, wednesday)
    assert rota.is_on_call(place(), [office, away], NY, thursday)
    # Only an absence: on call always, except then.
    assert not rota.is_on_call(place(), [away], NY, wednesday)
    assert rota.is_on_call(place(), [away], NY, saturday)


def test_bad_windows_are_refused_naming_the_field():
    from sqlalchemy.orm import Session

    with Session() as s:  # refused before anything is stored: no database needed
        link = GroupStaff(group_id=1, staff_id=1)
        with pytest.raises(ValidationError, match="^starts on: "):
            rota.add_weekly(s, link, [], time(9), time(17))
        with pytest.raises(ValidationError, match="^starts on: "):
            rota.add_weekly(s, link, [8], time(9), time(17))
        with pytest.raises(ValidationError, match="^ends: "):
            rota.add_weekly(s, link, [1], time(9), time(17), span_days=7)
        with pytest.raises(ValidationError, match="^to: must be after from"):
            rota.add_dated(s, link, "cover", datetime(2026, 12, 5, 9), datetime(2026, 12, 5, 9), NY)
        assert not s.new


def test_on_call_asks_the_database_by_tier_and_instant(db, group):
    from checkin.directory import add_staff

    with db.session() as s:
        dana = add_staff(s, "Dana", "dana@example.org", "facilitator", "+12025550201", [group.name])
        fay = add_staff(
            s, "Fay", "fay@example.org", "facilitator", "+12025550203", [group.name], tier="backup"
        )
        nat = add_staff(s, "Nat", "nat@example.org", "facilitator", None, [group.name])  # no phone
        rota.add_weekly(s, s.get(GroupStaff, (group.id, dana.id)), [1, 2, 3, 4, 5], time(9), time(17))
        s.commit()
        weekday, sunday = ny(2026, 12, 1, 10, 0), ny(2026, 12, 6, 3, 0)
        assert [p.id for p in rota.on_call(s, group.id, weekday)] == [dana.id, fay.id]
        assert [p.id for p in rota.on_call(s, group.id, sunday)] == [fay.id]
        assert [p.id for p in rota.on_call(s, group.id, weekday, tier="primary")] == [dana.id]
        # The console sees Nat's place on call too, though Nat cannot be rung.
        assert [(p.staff.id, p.on_call) for p in rota.places(s, s.get(type(group), group.id), sunday)] == [
            (dana.id, False),
            (nat.id, True),
            (fay.id, True),
        ]
        s.get(GroupStaff, (group.id, fay.id)).on_call = False  # OFFCALL
        assert rota.on_call(s, group.id, sunday) == []

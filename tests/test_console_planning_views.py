"""The planning pages as staff use them: groups and meetings, plan and preview, calendar feed, simulator,
and who may do what (coordinators edit; a facilitator sees only their own groups, 404 for others)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from checkin import schedules
from checkin.db import utcnow
from checkin.escalation.models import Escalation
from checkin.models import (  # first: importing checkin.directory first is circular on the console branch
    Group,
    Message,
    OutboxItem,
)
from checkin.schedules.models import ReminderPlan
from tests.console_helpers import PLAN_FORM, Console, make_staff
from tests.test_schedules_tick import member_texted

CRISIS_TEXT = "I am going to kill myself tonight"


@pytest.fixture(autouse=True)
def _plain_http(app):
    app.config["SESSION_COOKIE_SECURE"] = False


@pytest.fixture
def at(request, time_machine):
    """The clock (the test's and the app's: one process) from `request.param` on, ticking; asked for first,
    so that signing in and every row are at that time too."""
    time_machine.move_to(request.param)
    return request.param


@pytest.fixture
def other_group(db):
    from checkin.directory import add_group, add_member

    with db.session() as s:
        g = add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
        add_member(s, g.name, "+12025550150", "Omar Other")
        return g


@pytest.fixture
def coordinator(app, client, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


@pytest.fixture
def facilitator(app, client, db, group):
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], phone="+12025550177")
    return Console(client, "frankie@example.org")


def whole_preview(coordinator, group_id: int) -> str:
    """The plan page's preview over all its days (it shows a day a page)."""
    return "\n".join(text(coordinator.get(f"/console/groups/{group_id}/plan?day={n}")) for n in range(14))


def weekly(db, group_id, day=date(2027, 3, 2), at=time(18), **more):
    with db.session() as s:
        schedules.set_schedule(
            s,
            group_id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=at,
            duration_minutes=90,
            starts_on=day,
            **more,
        )


def text(response) -> str:
    return response.get_data(as_text=True)


# --- authorisation --------------------------------------------------------------------------


def test_pages_need_sign_in(client, group):
    for path in (
        "/console/groups",
        f"/console/groups/{group.id}",
        f"/console/groups/{group.id}/plan",
        "/console/simulator",
        "/console/simulator/call",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"], path


def test_a_facilitator_sees_only_their_groups_and_cannot_edit(facilitator, group, other_group, member):
    listing = text(facilitator.get("/console/groups"))
    assert "Tuesday Group" in listing and "Thursday Group" not in listing and "New group" not in listing
    own = facilitator.get(f"/console/groups/{group.id}")
    assert (
        own.status_code == 200 and "Save schedule" not in text(own) and "Cancel this meeting" not in text(own)
    )
    assert "/console/calendar/" in text(own) and "Make a new address" not in text(
        own
    )  # may subscribe, not rotate
    assert "Save plan" not in text(facilitator.get(f"/console/groups/{group.id}/plan"))
    for path in (
        f"/console/groups/{other_group.id}",
        f"/console/groups/{other_group.id}/plan",
        "/console/groups/999999",
    ):
        assert facilitator.get(path).status_code == 404, path
    writes = {
        "/console/groups": {"name": "Mine", "timezone": "UTC"},
        f"/console/groups/{group.id}": {"name": "Renamed", "timezone": "UTC"},
        f"/console/groups/{group.id}/schedule": {
            "repeat": "weekly",
            "weekday": "MO",
            "time": "18:00",
            "duration": "60",
            "starts_on": "2027-03-01",
        },
        f"/console/groups/{group.id}/plan": {"reminders": "1"},
        f"/console/groups/{group.id}/plan/defaults": {},
        f"/console/groups/{group.id}/plan/texts": {"en.reminder": "Hi {group}"},
        f"/console/groups/{group.id}/calendar/rotate": {},
    }
    for path, data in writes.items():
        assert facilitator.post(path, data=data).status_code == 403, path
    # Nothing changed.
    assert "Renamed" not in text(facilitator.get("/console/groups"))


def test_a_facilitator_can_simulate_only_members_of_their_groups(facilitator, group, other_group, member, db):
    page = text(facilitator.get("/console/simulator"))
    assert "Sam Rivera" in page and "Omar Other" not in page
    with db.session() as s:
        omar = s.scalar(select(Group).where(Group.id == other_group.id)).members[0]
    response = facilitator.post(
        "/console/simulator", data={"who": f"{other_group.id}:{omar.id}", "text": "hello"}
    )
    assert response.status_code == 404
    # Naming one's own group with another group's member does not work either.
    assert (
        facilitator.post(
            "/console/simulator", data={"who": f"{group.id}:{omar.id}", "text": "hello"}
        ).status_code
        == 404
    )


def test_pages_are_not_cached_or_framed_and_errors_use_the_console_page(
    facilitator, group, other_group, member
):
    page = facilitator.get(f"/console/groups/{group.id}/plan")
    assert page.headers["Cache-Control"] == "no-store" and page.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    missing = facilitator.get(f"/console/groups/{other_group.id}")
    assert missing.status_code == 404 and "Sign out" in text(missing)  # inside the console layout


def test_forms_need_a_csrf_token(coordinator, group):
    response = coordinator.client.post(f"/console/groups/{group.id}/plan", data={"reminders": "24"})
    assert response.status_code == 400


# --- groups and meetings --------------------------------------------------------------------


def test_coordinator_creates_a_group_and_bad_input_is_refused_with_a_reason(coordinator, db):
    bad = coordinator.post(
        "/console/groups", data={"name": "Evening", "timezone": "Mars/Olympus", "phone_number": ""}
    )
    assert bad.status_code == 400 and "is not a time zone we know" in text(bad)
    assert 'value="Evening"' in text(bad)  # what was typed is still there
    ok = coordinator.post(
        "/console/groups",
        data={"name": "Evening", "timezone": "Europe/London", "phone_number": "+15005550010"},
    )
    assert ok.status_code == 302
    with db.session() as s:
        g = s.scalar(select(Group).where(Group.name == "Evening"))
        assert (g.timezone, g.phone_number) == ("Europe/London", "+15005550010")
    duplicate = coordinator.post("/console/groups", data={"name": "Evening", "timezone": "UTC"})
    assert duplicate.status_code == 400 and "already exists" in text(duplicate)


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Chicago", "America/Chicago"),
        ("new york", "America/New_York"),
        ("Seattle, WA", "America/Los_Angeles"),
    ],
)
def test_a_group_is_created_with_the_us_city_a_coordinator_types(coordinator, db, typed, zone):
    ok = coordinator.post("/console/groups", data={"name": "Evening", "timezone": typed, "phone_number": ""})
    assert ok.status_code == 302
    with db.session() as s:
        assert s.scalar(select(Group.timezone).where(Group.name == "Evening")) == zone


def test_a_near_miss_city_is_refused_with_the_city_meant_and_kept_as_typed(coordinator, db):
    bad = coordinator.post(
        "/console/groups", data={"name": "Evening", "timezone": "Sacremento", "phone_number": ""}
    )
    assert bad.status_code == 400
    assert "&#39;Sacremento&#39; is not a time zone we know; did you mean Sacramento?" in text(bad)
    assert 'value="Sacremento"' in text(bad)
    with db.session() as s:
        assert s.scalar(select(Group.id).where(Group.name == "Evening")) is None


def test_an_emptied_time_zone_stays_empty_next_to_its_error(coordinator):
    assert 'id="timezone" name="timezone" required list="zones" autocomplete="off" value="New York"' in text(
        coordinator.get("/console/groups")
    )  # a new form suggests New York
    bad = coordinator.post("/console/groups", data={"name": "Evening", "timezone": "", "phone_number": ""})
    assert bad.status_code == 400
    page = text(bad)
    assert re.search(r'id="timezone" name="timezone" required list="zones" autocomplete="off" value=""', page)
    box = re.search(r'<input[^>]*id="timezone"[^>]*>', page).group(0)
    assert "New York" not in box and 'aria-invalid="true"' in box, box


def test_coordinator_edits_a_group(coordinator, group, other_group, db):
    taken = coordinator.post(
        f"/console/groups/{group.id}",
        data={
            "name": "Tuesday Group",
            "timezone": "America/New_York",
            "phone_number": other_group.phone_number,
        },
    )
    assert taken.status_code == 400 and "Another group already uses this phone number." in text(taken)
    ok = coordinator.post(
        f"/console/groups/{group.id}",
        data={"name": "Tuesday Night", "timezone": "America/Denver", "phone_number": "(500) 555-0011"},
    )
    assert ok.status_code == 302
    with db.session() as s:
        g = s.get(Group, group.id)
        assert (g.name, g.timezone, g.phone_number) == ("Tuesday Night", "America/Denver", "+15005550011")


def test_moving_a_group_to_another_zone_keeps_its_wall_clock_meetings(coordinator, group, db):
    weekly(db, group.id, at=time(18))
    response = coordinator.post(
        f"/console/groups/{group.id}",
        data={"name": group.name, "timezone": "America/Denver", "phone_number": group.phone_number},
    )
    assert response.status_code == 302
    with db.session() as s:
        occ = schedules.occurrences(
            s, group.id, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 11, tzinfo=UTC)
        )
    assert [(o.local_start.hour, str(o.local_start.tzinfo)) for o in occ] == [
        (18, "America/Denver"),
        (18, "America/Denver"),
    ]
    assert [o.starts_at.hour for o in occ] == [1, 1]  # 18:00 MST is 01:00 UTC the next day


@pytest.mark.parametrize(
    "form, rule, first",
    [
        ({"repeat": "weekly", "weekday": "TU"}, "FREQ=WEEKLY;BYDAY=TU", date(2027, 3, 2)),
        ({"repeat": "biweekly", "weekday": "TH"}, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", date(2027, 3, 4)),
        ({"repeat": "monthly", "weekday": "TU", "nth": "2"}, "FREQ=MONTHLY;BYDAY=+2TU", date(2027, 3, 9)),
    ],
)
def test_schedule_builder_writes_the_rrule(coordinator, group, db, form, rule, first):
    response = coordinator.post(
        f"/console/groups/{group.id}/schedule",
        data=dict(form, time="18:30", duration="90", starts_on="2027-03-01", location="12 Main St"),
    )
    assert response.status_code == 302
    with db.session() as s:
        schedule = schedules.get_schedule(s, group.id)
        assert (schedule.rrule, schedule.starts_on, schedule.start_local, schedule.location) == (
            rule,
            first,
            time(18, 30),
            "12 Main St",
        )
    # The page reads the rule back into the builder for editing.
    page = text(coordinator.get(f"/console/groups/{group.id}"))
    # The time zone is shown as one types it, by city (the server resolves "New York" back).
    assert 'name="timezone" required list="zones" autocomplete="off" value="New York"' in page
    assert '<option value="Chicago">' in page
    assert (
        f'<option value="{form["weekday"]}" selected>' in page
        and f'<option value="{form["repeat"]}" selected>' in page
    )


def test_a_start_date_that_has_passed_says_which_meeting_comes_next(coordinator, group, db):
    zone = ZoneInfo(group.timezone)
    today = utcnow().astimezone(zone).date()
    # Every other Wednesday, counted from a Wednesday five weeks ago (the coordinator's "we began then").
    began = today - timedelta(days=(today.weekday() - 2) % 7 + 35)
    response = coordinator.post(
        f"/console/groups/{group.id}/schedule",
        data={
            "repeat": "biweekly",
            "weekday": "WE",
            "time": "18:30",
            "duration": "90",
            "starts_on": str(began),
        },
    )
    assert response.status_code == 302
    with db.session() as s:
        assert schedules.get_schedule(s, group.id).starts_on == began  # kept: the fortnights count from it
    # The next meeting is a whole number of fortnights after it, and on or after today (or tonight's).
    after = [began + timedelta(weeks=2 * n) for n in range(1, 8)]
    nxt = next(
        d for d in after if d > today or (d == today and utcnow().astimezone(zone).time() < time(18, 30))
    )
    said = f"{nxt:%a}, {nxt:%b} {nxt.day}, {nxt.year}"
    passed = f"{began:%a}, {began:%b} {began.day}, {began.year} has passed: counting from it, the next meeting is {said}."
    page = text(coordinator.get(f"/console/groups/{group.id}"))
    assert f"Schedule saved: meets every other Wednesday at 6:30 pm, New York time. {passed}" in page
    # ... and at the date's own box, for as long as it shows a date that has passed.
    assert f'<small class="hint" id="starts_on-passed">{passed}</small>' in page
    assert re.search(
        r'id="starts_on" name="starts_on" required value="[0-9-]+" aria-describedby="starts_on-passed"', page
    )


def field_errors(page: str) -> dict[str, str]:
    """A refused form's sentences by the field they sit next to (forms.Problems, _problems.html)."""
    return dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">(.*?)</p>', page))


def test_schedule_builder_refuses_every_mistake_at_once_next_to_its_field(coordinator, group, db):
    typed = {
        "repeat": "weekly",
        "weekday": "TU",
        "time": "25:00",
        "duration": "2",
        "starts_on": "next tuesday",
        "location": "Community Hall, Room 4",
        "dial_in": "+1 202 555 0199 " * 4,
    }
    response = coordinator.post(f"/console/groups/{group.id}/schedule", data=typed)
    assert response.status_code == 400  # shown in place, not redirected: a reload sends it again
    page = text(response)
    assert field_errors(page) == {
        "time": "A time of day as HH:MM, e.g. 18:30",
        "duration": "A whole number from 5 to 1440",
        "starts_on": "A date as YYYY-MM-DD",
        "dial_in": "At most 40 characters",
    }
    assert list(field_errors(page)) == ["time", "duration", "starts_on", "dial_in"]  # as the page lists them
    assert "There are 4 problems to fix" in page
    assert re.search(
        r'<input type="time" id="time" name="time" required value="25:00" aria-invalid="true"', page
    )
    assert 'value="Community Hall, Room 4"' in page and 'value="next tuesday"' in page  # as typed
    with db.session() as s:
        assert schedules.get_schedule(s, group.id) is None


def test_a_dial_in_that_is_not_a_phone_number_is_refused_at_its_field(coordinator, group, db):
    typed = {
        "repeat": "weekly",
        "weekday": "TU",
        "time": "18:30",
        "duration": "90",
        "starts_on": "2030-01-01",
        "dial_in": "call me",
    }
    response = coordinator.post(f"/console/groups/{group.id}/schedule", data=typed)
    assert response.status_code == 400
    assert field_errors(text(response)) == {
        "dial_in": "Only digits, spaces and + - ( ) . belong in a phone number (no extension), e.g. 312 555 0199"
    }
    assert 'value="call me"' in text(response)  # kept as typed
    typed["dial_in"] = "(202) 555-0123"
    assert coordinator.post(f"/console/groups/{group.id}/schedule", data=typed).status_code == 302
    with db.session() as s:
        assert schedules.get_schedule(s, group.id).dial_in == "+12025550123"  # as members can dial it


def test_upcoming_meetings_can_be_cancelled_or_moved(coordinator, group, db):
    now = utcnow()
    weekly(db, group.id, day=now.date())
    page = text(coordinator.get(f"/console/groups/{group.id}"))
    keys = re.findall(rf"/console/groups/{group.id}/meetings/(\w+)/cancel", page)
    assert len(keys) >= 4
    assert coordinator.post(f"/console/groups/{group.id}/meetings/{keys[1]}/cancel").status_code == 302
    with db.session() as s:
        occ = {o.key: o for o in schedules.occurrences(s, group.id, now, now + timedelta(weeks=5))}
    target = occ[keys[2]].local_start.replace(tzinfo=None) + timedelta(days=1, hours=1)
    moved = coordinator.post(
        f"/console/groups/{group.id}/meetings/{keys[2]}/move",
        data={"new_start": target.strftime("%Y-%m-%dT%H:%M")},
    )
    assert moved.status_code == 302
    with db.session() as s:
        occ = {o.key: o for o in schedules.occurrences(s, group.id, now, now + timedelta(weeks=5))}
    assert occ[keys[1]].status == "cancelled"
    assert occ[keys[2]].status == "moved" and occ[keys[2]].local_start.replace(tzinfo=None) == target
    past = coordinator.post(
        f"/console/groups/{group.id}/meetings/{keys[3]}/move", data={"new_start": "2020-01-01T10:00"}
    )
    assert past.status_code == 400
    # Next to that meeting's box, which keeps what was typed and stays open.
    assert field_errors(text(past)) == {
        f"move-{keys[3]}": "The new time has already passed: choose a time still to come."
    }
    assert re.search(
        rf'<input type="datetime-local" id="move-{keys[3]}" name="new_start" required value="2020-01-01T10:00" aria-invalid',
        text(past),
    )
    unknown = coordinator.post(f"/console/groups/{group.id}/meetings/20990101T0000Z/cancel")
    assert unknown.status_code == 400 and "has no meeting" in text(unknown)


# --- plan and preview -----------------------------------------------------------------------


# Monday 7 December 2026 in New York: 18:25, when the 24-hour reminder of Tuesday's 18:00 meeting is already
# past (it goes at once, a catch-up), and 21:00, when the planner's 14 x 24 hours reach a 15th local day.
EVENING = datetime(2026, 12, 7, 18, 25, tzinfo=ZoneInfo("America/New_York"))
NIGHT = datetime(2026, 12, 7, 21, 0, tzinfo=ZoneInfo("America/New_York"))


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 7, 0, 30, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 12, 7, 12, 0, tzinfo=ZoneInfo("America/New_York")),
        EVENING,
        datetime(2026, 12, 7, 23, 30, tzinfo=ZoneInfo("America/New_York")),
        # Saturday before the clocks go back (1 November 2026): the 14 days span the change.
        datetime(2026, 10, 31, 18, 25, tzinfo=ZoneInfo("America/New_York")),
    ],
    ids=lambda at: f"{at:%Y-%m-%dT%H:%M}",
    indirect=True,
)
def test_plan_is_saved_and_the_preview_shows_each_send_in_the_members_local_time(
    at, coordinator, group, member, db
):
    weekly(db, group.id, day=at.date() + timedelta(days=1), at=time(18))
    response = coordinator.post(
        f"/console/groups/{group.id}/plan",
        data={
            "reminders": "24, 3",
            "prompt_days_after": "1",
            "prompt_time": "11:00",
            "nudge_after_hours": "0",
            "quiet_start": "09:00",
            "quiet_end": "20:00",
            "prompt_stale_hours": "12",
        },
    )
    assert response.status_code == 302
    # The planner as of after the edit, as the page asks it: a reminder whose time had passed before the
    # meeting was planned goes at the edit (a catch-up), which a `now` from before the edit cannot know.
    now = utcnow()
    with db.session() as s:
        plan = schedules.get_plan(s, group.id)
        assert (
            plan.reminder_offsets_minutes == (1440, 180)
            and plan.prompt_time == time(11)
            and plan.quiet_start == time(9)
        )
        expected = schedules.preview(s, group.id, now, 14, now=now)
    page = text(coordinator.get(f"/console/groups/{group.id}/plan"))
    assert 'value="24, 3"' in page
    # Every send the planner lists is on the page, at the member's local time.
    first_day = expected[0].local_time.date() if expected else None
    today = utcnow().astimezone(ZoneInfo(group.timezone)).date()
    expected = [p for p in expected if (p.local_time.date() - today).days < 14]  # the 14 days shown
    days = {(p.local_time.date() - today).days for p in expected}
    day_links = re.findall(r'href="[^"]*/plan\?day=(\d+)#preview"', page)
    assert sorted(set(map(int, day_links))) == list(range(14))  # "The next 14 days": 14 of them, not 15
    for n in sorted(days):  # the preview shows a day a page
        day_page = text(coordinator.get(f"/console/groups/{group.id}/plan?day={n}"))
        on_day = [p for p in expected if (p.local_time.date() - today).days == n]
        assert all(
            f"{p.local_time.hour % 12 or 12}:{p.local_time:%M} {'am' if p.local_time.hour < 12 else 'pm'} {p.local_time:%Z}"
            in day_page
            for p in on_day
        )
    assert expected and first_day is not None
    # At 18:25 the 24-hour reminder's time had passed when the plan was saved: it goes then, not later.
    if at == EVENING:
        assert [p.local_time.strftime("%H:%M") for p in expected if p.kind == "reminder"][:1] == ["18:25"]
    prompts = [p for p in expected if p.kind == "prompt"]
    assert prompts and all(
        p.local_time.hour == 11 and p.local_time.tzinfo == ZoneInfo("America/New_York") for p in prompts
    )
    assert "text message long" in whole_preview(coordinator, group.id)
    assert coordinator.post(f"/console/groups/{group.id}/plan/defaults").status_code == 302
    with db.session() as s:
        assert schedules.get_plan(s, group.id) == schedules.load_config().defaults


def test_bad_plan_values_are_refused_in_the_forms_words(coordinator, group, db):
    response = coordinator.post(
        f"/console/groups/{group.id}/plan",
        data=PLAN_FORM | {"quiet_start": "21:00", "quiet_end": "08:00"},
    )
    assert response.status_code == 400
    # Next to the field, the other one in the form's words: never a config key such as quiet_start.
    assert field_errors(text(response)) == {
        "quiet_end": "Must be later than &#34;Sending window opens at&#34; (21:00)"
    }
    bad = coordinator.post(
        f"/console/groups/{group.id}/plan",
        data=PLAN_FORM | {"reminders": "a day", "prompt_time": "10am", "nudge_after_hours": "-1"},
    )
    assert bad.status_code == 400  # every mistake at once, each at its field, as typed
    assert field_errors(text(bad)) == {
        "reminders": "Hours before the meeting separated by commas, e.g. 24, 2",
        "prompt_time": "A time of day as HH:MM, e.g. 18:30",
        "nudge_after_hours": "A number from 0 to 144",
    }
    assert 'value="a day"' in text(bad) and 'value="10am"' in text(bad)
    with db.session() as s:
        assert schedules.get_plan(s, group.id) == schedules.load_config().defaults


def test_a_prompt_time_in_members_night_that_would_never_be_sent_is_refused_at_its_field(
    coordinator, group, db
):
    # 22:00 waits 10 hours for 08:00, longer than a 6-hour limit for a held prompt: the planner would drop
    # every prompt, so the plan is refused rather than saved to ask nobody.
    refused = coordinator.post(
        f"/console/groups/{group.id}/plan",
        data=PLAN_FORM | {"prompt_time": "22:00", "prompt_stale_hours": "6"},
    )
    assert refused.status_code == 400
    said = field_errors(text(refused))["prompt_time"]
    assert "10:00 pm is in members&#39; night" in said and "no check-in prompt would ever be sent" in said
    assert 'value="22:00"' in text(refused)
    with db.session() as s:
        assert schedules.get_plan(s, group.id) == schedules.load_config().defaults


def test_a_prompt_time_before_the_window_is_saved_saying_it_moves_to_the_windows_start(
    coordinator, group, db
):
    saved = coordinator.post(f"/console/groups/{group.id}/plan", data=PLAN_FORM | {"prompt_time": "06:30"})
    assert saved.status_code == 302
    page = text(coordinator.get(saved.headers["Location"]))
    assert (
        "Check-in prompt time: 6:30 am is in members&#39; night (before the sending window, 8:00 am to "
        "9:00 pm), and no automated message goes out then: check-in prompts go out 8:00 am instead"
    ) in page
    assert 'id="prompt-night"' in page  # and at the field, whenever the page is opened
    assert 'id="prompt-night"' not in text(
        coordinator.post(f"/console/groups/{group.id}/plan", data=PLAN_FORM, follow_redirects=True)
    )


def test_a_saved_plan_is_audited_with_what_changed_old_to_new(coordinator, group, db):
    from checkin.accounts.models import AuditEvent

    form = PLAN_FORM | {"prompt_time": "11:00", "reminders": "24"}
    assert coordinator.post(f"/console/groups/{group.id}/plan", data=form).status_code == 302
    with db.session() as s:
        detail = s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "setting_changed"))
    assert detail == (
        f"group:{group.id} reminder plan saved: reminders before each meeting: 24, 2 → 24; "
        "check-in prompt time: 10:00 → 11:00"
    )


# --- texts ----------------------------------------------------------------------------------

OUR_REMINDER = (
    "Hi from {group}: we meet {when}{date} at {time}{where}. Text 1 if you come. Reply STOP to stop."
)


def test_coordinator_saves_a_groups_texts_and_the_preview_uses_them(
    coordinator, group, other_group, member, spanish_member, db
):
    tomorrow = utcnow().astimezone(ZoneInfo(group.timezone)).date() + timedelta(days=1)
    weekly(db, group.id, day=tomorrow, at=time(18))
    weekly(db, other_group.id, day=tomorrow, at=time(18))
    page = text(coordinator.get(f"/console/groups/{group.id}/plan"))
    # Each text is a labelled box prefilled with the file's text, with its placeholders listed.
    assert '<label for="t-en-reminder">Meeting reminder</label>' in page
    assert 'name="en.reminder"' in page and "Reminder: {group} meets {when}{date}" in page
    # ... with a button per placeholder, named in words, and the raw forms in a toggle.
    assert 'data-insert="{date}" data-target="t-en-reminder">Meeting date</button>' in page
    # "Meeting day and time" inserts the day and the time ({when} alone was only "tomorrow, ").
    assert (
        'data-insert="{when}{date} at {time}" data-target="t-en-reminder">Meeting day and time</button>'
        in page
    )
    assert 'data-insert="{when}" data-target="t-en-reminder">Today or tomorrow (if it is)</button>' in page
    assert "<code>{where}</code> Where (address or dial-in line)" in page
    assert "changed from the default" not in page
    saved = coordinator.post(
        f"/console/groups/{group.id}/plan/texts",
        data={
            "en.reminder": OUR_REMINDER,
            "es.reminder": schedules.load_config().templates["es"]["reminder"],
        },
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith("#preview")
    page = text(coordinator.get(f"/console/groups/{group.id}/plan"))
    assert "Texts saved" in page
    preview = whole_preview(coordinator, group.id)
    assert (
        "Hi from Tuesday Group: we meet tomorrow, " in preview
    )  # the English member's reminder in the preview
    assert "Tuesday Group: mañana, " in preview  # the Spanish one is the file's still
    assert page.count("changed from the default") == 1 and "1 changed for this group" in page
    assert "Reminder: Thursday Group meets tomorrow" in whole_preview(coordinator, other_group.id)
    # "Back to the default" wins over the text in the box.
    back = coordinator.post(
        f"/console/groups/{group.id}/plan/texts", data={"en.reminder": OUR_REMINDER, "default": "en.reminder"}
    )
    assert back.status_code == 302
    with db.session() as s:
        assert schedules.get_templates(s, group.id) == schedules.load_config().templates


def test_a_refused_text_comes_back_as_typed_with_the_reason_and_nothing_is_saved(
    coordinator, group, member, db
):
    weekly(db, group.id)
    with db.session() as s:
        schedules.set_templates(s, group.id, {"en": {"nudge": "Still there, {name}? Reply 1-5 or STOP."}})
    typed = "Hola {nombre}, {group} se reune {date}"
    response = coordinator.post(
        f"/console/groups/{group.id}/plan/texts",
        data={"en.nudge": "Still there? Reply 1-5 or STOP.", "es.reminder": typed},
    )
    assert response.status_code == 400
    page = text(response)
    assert (
        "Spanish meeting reminder: {nombre} is not something we can fill in; use the buttons: Meeting date, "
        "Group name, Meeting time, Meeting weekday, Today or tomorrow (if it is), Where (address or dial-in line)"
        in page
    )
    # The box that is wrong is marked and keeps what was typed; so does the other one.
    assert re.search(
        r'<textarea id="t-es-reminder" name="es.reminder"[^>]*aria-invalid="true"[^>]*>' + re.escape(typed),
        page,
    )
    assert "Still there? Reply 1-5 or STOP.</textarea>" in page
    # Every refused text at once, each at its box, in the page's order (English first).
    both = coordinator.post(
        f"/console/groups/{group.id}/plan/texts",
        data={
            "es.reminder": typed,
            "en.prompt": "How are you doing this week? " * 12 + "Reply STOP to stop.",
        },
    )
    assert both.status_code == 400 and "There are 2 problems to fix" in text(both)
    assert list(field_errors(text(both))) == ["t-en-prompt", "t-es-reminder"]
    assert field_errors(text(both))["t-en-prompt"].startswith("English check-in prompt: 3 text messages long")
    too_long = coordinator.post(
        f"/console/groups/{group.id}/plan/texts",
        data={"en.prompt": "How are you doing this week? " * 12 + "Reply STOP to stop."},
    )
    assert (
        too_long.status_code == 400
        and "English check-in prompt: 3 text messages long with sample values (at most 2)" in text(too_long)
    )
    with db.session() as s:
        texts = schedules.get_templates(s, group.id)
    assert (
        texts["en"]["nudge"] == "Still there, {name}? Reply 1-5 or STOP."
        and texts["es"] == schedules.load_config().templates["es"]
    )


def test_a_text_that_does_not_say_how_to_stop_is_refused_at_its_box(coordinator, group, member, db):
    weekly(db, group.id)
    response = coordinator.post(
        f"/console/groups/{group.id}/plan/texts",
        data={
            "en.nudge": "Still there, {name}? Reply 1-5.",
            "es.prompt": "¿Qué tal tu semana? Responde del 1 al 5.",
        },
    )
    assert response.status_code == 400
    errors = field_errors(text(response))
    assert errors == {
        "t-en-nudge": "English nudge: must say how to stop the texts: add “Reply STOP to stop.”",
        "t-es-prompt": "Spanish check-in prompt: must say how to stop the texts: add “BAJA para parar.”",
    }
    with db.session() as s:
        assert schedules.get_templates(s, group.id) == schedules.load_config().templates


def test_every_mistake_of_a_text_is_said_at_once_and_the_example_fills_only_what_it_can_use(
    coordinator, group, member, db
):
    import html
    import json

    from checkin.templates import segments

    weekly(db, group.id)
    typed = "Hi {name}, {group} meets {when}{date} at {time}{where}."  # a reminder cannot say {name}
    page = text(coordinator.post(f"/console/groups/{group.id}/plan/texts", data={"en.reminder": typed}))
    said = field_errors(page)["t-en-reminder"]
    # Both mistakes together: fixing the one does not reveal the other.
    assert "{name} is not something we can fill in" in said and "add “Reply STOP to stop.”" in said
    example = re.search(r'<span id="e-en-reminder" aria-live="polite">(.*?)</span>', page).group(1)
    assert html.unescape(example).startswith("Hi {name}, Tuesday")  # left as typed, not "Hi Maximiliano"
    assert 'data-allowed="date group time weekday when where"' in page
    # The counter is given every set of values the save measures with (it shows the longest), so the
    # Spanish one counts the accented names as the save does.
    sets = [
        json.loads(html.unescape(raw)) for raw in re.findall(r'<details[^>]* data-samples="([^"]*)"', page)
    ]
    spanish = sets[1]
    assert isinstance(spanish, list) and any(v["name"] == "Ángela Muñoz" for v in spanish)
    es_example = re.search(r'<span id="e-es-reminder" aria-live="polite">(.*?)</span>', page).group(1)
    default = schedules.load_config().templates["es"]["reminder"]
    longest = max(segments(default.format(**values))[1:][::-1] for values in spanish)
    assert segments(html.unescape(es_example))[1:][::-1] == longest  # as long as the save measures it


def test_a_stored_text_without_stop_is_shown_at_its_box_and_members_get_the_standard_text(
    coordinator, group, spanish_member, db
):
    tomorrow = utcnow().astimezone(ZoneInfo(group.timezone)).date() + timedelta(days=1)
    weekly(db, group.id, day=tomorrow, at=time(18))
    saved_before_the_rule = "Hola de {group}: nos vemos {when}{date}, {time}{where}."
    with db.session() as s:  # as a text saved before the rule was, or edited outside the app
        s.merge(
            ReminderPlan(
                group_id=group.id, overrides={"templates": {"es": {"reminder": saved_before_the_rule}}}
            )
        )
        s.commit()
    page = text(coordinator.get(f"/console/groups/{group.id}/plan"))
    assert field_errors(page) == {
        "t-es-reminder": "Spanish meeting reminder: must say how to stop the texts: add “BAJA para parar.” "
        "Until it does, members get the standard text."
    }
    assert re.search(
        r'<textarea id="t-es-reminder" name="es.reminder"[^>]*aria-invalid="true"[^>]*>'
        + re.escape(saved_before_the_rule),
        page,
    )
    preview = whole_preview(coordinator, group.id)
    assert "Hola de Tuesday Group" not in preview and "1 voy, 2 no voy. BAJA: parar" in preview


def test_a_facilitator_sees_the_texts_but_cannot_save_them(facilitator, group, db):
    page = text(facilitator.get(f"/console/groups/{group.id}/plan"))
    assert 'name="en.reminder"' in page and "Save texts" not in page
    assert re.search(
        r'action="/console/groups/\d+/plan/texts#texts" class="stack" novalidate>\s*<input[^>]*>\s*<fieldset disabled>',
        page,
    )
    assert (
        facilitator.post(
            f"/console/groups/{group.id}/plan/texts", data={"en.reminder": "Hi {group}"}
        ).status_code
        == 403
    )
    with db.session() as s:
        assert schedules.get_templates(s, group.id) == schedules.load_config().templates


# --- calendar -------------------------------------------------------------------------------


def test_calendar_feed_at_a_secret_url_and_rotation(coordinator, client, group, db):
    weekly(db, group.id)
    page = text(coordinator.get(f"/console/groups/{group.id}"))
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', page).group(1)
    path = url.split("checkin.example.org", 1)[1]
    coordinator.post("/console/logout")
    feed = client.get(path)  # no sign-in: calendar apps cannot sign in
    assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    events = list(Calendar.from_ical(feed.data).walk("VEVENT"))
    assert events and all(str(e["summary"]) == "Tuesday Group" for e in events)
    assert all(
        e.decoded("dtstart").astimezone(ZoneInfo("America/New_York")).time() == time(18) for e in events
    )
    assert b"Sam" not in feed.data and b"+1202" not in feed.data  # no member detail
    assert client.get("/console/calendar/not-a-token.ics").status_code == 404
    again = Console(client, "casey@example.org")
    assert again.post(f"/console/groups/{group.id}/calendar/rotate").status_code == 302
    assert client.get(path).status_code == 404  # the old address stops working
    new_url = re.search(
        r'id="feed-url" readonly value="([^"]+)"', text(again.get(f"/console/groups/{group.id}"))
    ).group(1)
    assert new_url != url and client.get(new_url.split("checkin.example.org", 1)[1]).status_code == 200


# --- simulator ------------------------------------------------------------------------------


def _counts(db):
    with db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Message, OutboxItem, Escalation))


def test_simulator_shows_the_reply_and_the_alert_and_sends_nothing(
    coordinator, group, member, db, fake_twilio
):
    make_staff(db, "Dana Ortiz", "dana@example.org", "facilitator", [group.name], phone="+12025550201")
    before = _counts(db)
    response = coordinator.post(
        "/console/simulator", data={"who": f"{group.id}:{member.id}", "text": CRISIS_TEXT}
    )
    page = text(response)
    assert response.status_code == 200
    assert "If you are in danger call 911" in page  # the crisis reply on the phone
    assert "Dana Ortiz" in page and "ALERT" in page and "(crisis): Sam, Tuesday Group" in page
    assert "/console/escalations/" not in page  # no link to a case that was undone
    assert _counts(db) == before
    assert fake_twilio.messages() == [] and fake_twilio.calls() == []
    # The conversation goes on: the earlier text is posted back and replayed.
    who = f"{group.id}:{member.id}"
    follow = coordinator.post(
        "/console/simulator", data={"who": who, "history_for": who, "history": [CRISIS_TEXT], "text": "STOP"}
    )
    assert "You will get no more texts" in text(follow) and "If you are in danger call 911" in text(follow)
    # Switching to another member starts a new conversation: the first member's texts are not replayed as theirs.
    from checkin.directory import add_member

    with db.session() as s:
        kim = add_member(s, group.name, "+12025550160", "Kim Lee")
    other = coordinator.post(
        "/console/simulator",
        data={"who": f"{group.id}:{kim.id}", "history_for": who, "history": [CRISIS_TEXT], "text": "hi"},
    )
    assert CRISIS_TEXT not in text(other) and "Thanks, Kim" in text(other)
    empty = coordinator.post("/console/simulator", data={"who": f"{group.id}:{member.id}", "text": "  "})
    assert empty.status_code == 400 and "type something" in text(empty)


# --- call simulator --------------------------------------------------------------------------


def _call_counts(db):
    from checkin.voice.models import VoiceCall

    with db.session() as s:
        return _counts(db) + (s.scalar(select(func.count()).select_from(VoiceCall)),)


def _history(page: str) -> list[str]:
    """The call so far as the first form after the phone's screen posts it back."""
    first_form = page.split('class="thread"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'name="history" value="([^"]*)"', first_form)


def test_call_simulator_presses_keys_and_shows_the_alert_and_keeps_nothing(
    coordinator, group, member, db, fake_twilio
):
    make_staff(db, "Dana Ortiz", "dana@example.org", "facilitator", [group.name], phone="+12025550201")
    before = _call_counts(db)
    page = text(coordinator.get("/console/simulator/call"))
    assert (
        "Call as" in page and "Sam Rivera" in page and 'aria-label="Press 1"' not in page
    )  # no keypad before the call
    who = f"{group.id}:{member.id}"
    start = coordinator.post("/console/simulator/call", data={"who": who, "call": "1"})
    page = text(start)
    assert start.status_code == 200 and "Hi Sam. This is Checkin for Tuesday Group." in page
    assert '<li class="bubble theirs" lang="es-US">Para español, oprime 8.</li>' in page
    assert all(f'aria-label="Press {key}"' in page for key in "0123456789*#")
    assert _history(page) == []
    # 9: help now. The call so far (nothing yet) is posted back with the key.
    helped = coordinator.post("/console/simulator/call", data={"who": who, "history_for": who, "key": "9"})
    page = text(helped)
    assert "Pressed 9" in page and "If you are in danger now, hang up and call 9 1 1." in page
    assert "We are letting the on-call facilitator know now." in page and "9 8 8 crisis line" in page
    assert "After pressing 9: assessed" in page and "(crisis): Sam, Tuesday Group" in page
    assert _history(page) == ["key:9"] and 'aria-label="Press 1"' in page  # the offer waits for a key
    # 3: a facilitator instead of the crisis line.
    facilitator = coordinator.post(
        "/console/simulator/call", data={"who": who, "history_for": who, "history": ["key:9"], "key": "3"}
    )
    page = text(facilitator)
    assert "Rings Dana Ortiz for up to 20 s (not placed here: no answer)." in page
    assert "(the caller would now leave a recording of up to 60 s)" in page and "The call ends." in page
    assert (
        _history(page) == ["key:9", "key:3"]
        and "Transcript of the recording" in page
        and 'aria-label="Press 1"' not in page
    )
    # After the call, Twilio's transcript is read like a text: a crisis in it is escalated too.
    transcript = coordinator.post(
        "/console/simulator/call",
        data={"who": who, "history_for": who, "history": ["key:9", "key:3"], "transcript": CRISIS_TEXT},
    )
    assert transcript.status_code == 200 and "(crisis): Sam, Tuesday Group" in text(transcript)
    assert _call_counts(db) == before
    assert fake_twilio.messages() == [] and fake_twilio.calls() == []


def test_call_simulator_speech_and_a_new_call(coordinator, group, member, spanish_member):
    who = f"{group.id}:{member.id}"
    checked_in = coordinator.post(
        "/console/simulator/call",
        data={"who": who, "history_for": who, "history": ["key:1"], "speech": "four, a good week"},
    )
    page = text(checked_in)
    assert "“four, a good week”" in page and "If you like, leave a short message after the tone" in page
    # Calling again (or as someone else) starts from the greeting, without the first call's keys.
    rosa = f"{group.id}:{spanish_member.id}"
    again = coordinator.post(
        "/console/simulator/call", data={"who": rosa, "history_for": who, "history": ["key:1"], "key": "8"}
    )
    page = text(again)
    assert "Hola Rosa." in page and _history(page) == ["key:8"] and "To check in, press 1." in page


def test_a_call_step_that_fails_keeps_the_call_so_far_on_the_phone(coordinator, group, member, monkeypatch):
    from webhooks.console import views_simulator

    real = views_simulator.run_call

    def fails_on_the_second_key(db, member_id, group_id, inputs, **kw):
        if len(inputs) >= 2:
            raise RuntimeError("the flow broke")  # a bug in one step, say
        return real(db, member_id, group_id, inputs, **kw)

    monkeypatch.setattr(views_simulator, "run_call", fails_on_the_second_key)
    who = f"{group.id}:{member.id}"
    failed = coordinator.post(
        "/console/simulator/call", data={"who": who, "history_for": who, "history": ["key:1"], "key": "4"}
    )
    page = text(failed)
    assert failed.status_code == 503 and "went wrong on our side" in page
    # The greeting and the step before stay shown, and the keypad carries them to try the key again.
    assert "Hi Sam. This is Checkin for Tuesday Group." in page and "Pressed 1" in page
    assert _history(page) == ["key:1"] and 'aria-label="Press 4"' in page
    assert "The call so far is shown: give your last answer again" in page

    def always_fails(*args, **kw):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(views_simulator, "run_call", always_fails)
    failed = coordinator.post(
        "/console/simulator/call", data={"who": who, "history_for": who, "history": ["key:1"], "key": "4"}
    )
    # Even when the call cannot be replayed, what the caller did is still listed.
    assert failed.status_code == 503 and '<li class="bubble mine">Pressed 1</li>' in text(failed)


def test_a_text_that_fails_keeps_the_conversation_so_far_with_its_replies(
    coordinator, group, member, monkeypatch
):
    from webhooks.console import views_simulator

    real = views_simulator.run

    def fails_on_the_second_text(db, member_id, group_id, texts, **kw):
        if len(texts) >= 2:
            raise RuntimeError("the flow broke")
        return real(db, member_id, group_id, texts, **kw)

    monkeypatch.setattr(views_simulator, "run", fails_on_the_second_text)
    who = f"{group.id}:{member.id}"
    failed = coordinator.post(
        "/console/simulator", data={"who": who, "history_for": who, "history": ["WHEN"], "text": "4 good"}
    )
    page = text(failed)
    assert failed.status_code == 503 and "went wrong on our side" in page
    assert "WHEN" in page and "No meeting is scheduled yet" in page  # the earlier text and its reply
    assert "4 good</textarea>" in page or 'value="4 good"' in page  # the failed text is given back


@pytest.mark.parametrize(
    "data, reason",
    [
        ({"key": "A"}, "not a key on a phone keypad"),
        ({"key": "11"}, "not a key on a phone keypad"),
        ({"speech": "x" * 1001}, "at most 1000 characters"),
        ({"speech": "  "}, "type what the caller says"),
        ({"history": ["key:0"] * 40, "key": "0"}, "at most 40"),
        ({"transcript": "hello"}, "only after a recording"),
        ({"history": ["key:1", "key:4"], "key": "1"}, "the call is over"),
    ],
)
def test_call_simulator_bad_input_is_a_400_with_the_reason(coordinator, group, member, db, data, reason):
    before = _call_counts(db)
    who = f"{group.id}:{member.id}"
    response = coordinator.post("/console/simulator/call", data={"who": who, "history_for": who, **data})
    page = text(response)
    assert response.status_code == 400 and reason in page
    assert "Hi Sam. This is Checkin" in page  # the call so far is still shown
    assert _call_counts(db) == before


def test_a_facilitator_can_call_only_as_members_of_their_groups(facilitator, group, other_group, member, db):
    page = text(facilitator.get("/console/simulator/call"))
    assert "Sam Rivera" in page and "Omar Other" not in page
    with db.session() as s:
        omar = s.scalar(select(Group).where(Group.id == other_group.id)).members[0]
    for who in (f"{other_group.id}:{omar.id}", f"{group.id}:{omar.id}"):
        response = facilitator.post("/console/simulator/call", data={"who": who, "call": "1"})
        assert response.status_code == 404 and "no such member in your groups" in text(response)
    assert (
        facilitator.post(
            "/console/simulator/call", data={"who": f"{group.id}:{member.id}", "call": "1"}
        ).status_code
        == 200
    )


def test_upcoming_meetings_show_who_said_they_are_coming(facilitator, group, member, spanish_member, db):
    from checkin.answers.models import Rsvp

    weekly(db, group.id, day=utcnow().date())
    with db.session() as s:
        first, second = schedules.occurrences(s, group.id, utcnow(), utcnow() + timedelta(weeks=3))[:2]
        s.add_all(
            [
                Rsvp(member_id=member.id, group_id=group.id, occurrence_key=first.key, answer="yes"),
                Rsvp(member_id=spanish_member.id, group_id=group.id, occurrence_key=first.key, answer="no"),
            ]
        )
    page = text(facilitator.get(f"/console/groups/{group.id}"))
    meetings = page.split('id="meetings"', 1)[1].split("</section>", 1)[0]
    items = meetings.split("<li")[1:]
    assert "1 coming</span> Sam Rivera" in items[0] and "1 not coming</span> Rosa Medina" in items[0]
    assert "coming" not in items[1]


def test_the_preview_shows_the_words_a_voice_member_hears(coordinator, group, db):
    # The walk-through's preview said only "spoken on the call" for a voice member.
    from checkin.directory import add_member

    with db.session() as s:
        add_member(s, group.name, "+12025550188", "Vera Voice", channel="voice")
    weekly(db, group.id, day=utcnow().astimezone(ZoneInfo(group.timezone)).date())
    page = whole_preview(coordinator, group.id)
    assert "Phone call, spoken:" in page and "spoken on the call" not in page
    assert "Hi Vera, this is Checkin for Tuesday Group. A reminder: your next meeting is" in page
    assert "On a scale of 1 to 5" in page  # the check-in question, as asked on the call


@pytest.mark.time_machine(NIGHT)
def test_the_preview_says_what_the_call_we_place_says_once_the_member_answers(
    app, coordinator, twilio, settings, group, db
):
    """The preview's words for a phone call are the call's own: each voice send it lists (a reminder of a
    meeting with its place, a cancelled meeting, the check-in question, in English and Spanish), placed
    and answered by the member, opens with exactly the words the preview quotes."""
    from html import unescape
    from urllib.parse import quote

    from checkin.directory import add_member
    from tests.voice_helpers import placed_call

    with db.session() as s:
        vera = add_member(s, group.name, "+12025550188", "Vera Voice", channel="voice")
        rosa = add_member(s, group.name, "+12025550189", "Rosa Ruiz", language="es", channel="voice")
    weekly(db, group.id, day=utcnow().astimezone(ZoneInfo(group.timezone)).date(), location="12 Main Street")
    with db.session() as s:
        schedules.set_plan(s, group.id, quiet_start="00:00", quiet_end="23:59")
        now = utcnow()
        later = schedules.occurrences(s, group.id, now + timedelta(days=3), now + timedelta(days=13))
        schedules.cancel_occurrence(s, group.id, later[0].key)
        sends = schedules.preview(s, group.id, now, 14, now=now, base_url=settings.public_base_url)
    page = unescape(whole_preview(coordinator, group.id))
    cfg = app.extensions["checkin"].voice
    # The page shows today and the 13 days after it; the planner's 14 x 24 hours from 21:00 reach a 15th day.
    last = now.astimezone(ZoneInfo(group.timezone)).date() + timedelta(days=13)
    sends = [s for s in sends if s.local_time.date() <= last]
    calls = {(s.member_id, s.kind, s.occurrence_key) for s in sends if s.channel == "voice"}
    assert {kind for _member, kind, _occ in calls} >= {"reminder", "change", "prompt"}
    assert {member for member, _kind, _occ in calls} == {vera.id, rosa.id}
    for member_id, kind, occurrence in sorted(calls, key=str):
        member = vera if member_id == vera.id else rosa
        caller = placed_call(twilio, settings, member.phone)
        caller.start(
            f"/twilio/voice/outbound?kind={kind}&member={member.id}&occurrence={quote(occurrence or '', safe='')}",
            AnsweredBy="human",
        )
        said = caller.press("1").said  # "yes, it is me": the opening, then the menu on a reminder
        menu = cfg.text("menu", member.language).strip()
        opening = " ".join(said[: said.index(menu)] if menu in said else said)
        assert f"“{opening}”" in page, (kind, opening)


def test_the_preview_shows_a_prompt_waiting_while_the_member_is_texting(coordinator, group, member, db):
    """A prompt due a few minutes ago, held because the member texted us just now, is listed as waiting
    (it goes when the exchange ends), not left out of the preview."""
    now = utcnow()
    # A zone where it is not around midnight, so "five minutes ago" is today there.
    zone = next(
        z
        for z in ("America/New_York", "Europe/London", "Asia/Tokyo", "Pacific/Honolulu")
        if 1 <= now.astimezone(ZoneInfo(z)).hour <= 22
    )
    here = now.astimezone(ZoneInfo(zone))
    yesterday = here.date() - timedelta(days=1)
    with db.session() as s:
        s.get(Group, group.id).timezone = zone
    with db.session() as s:
        schedules.set_schedule(
            s,
            group.id,
            rrule=f"FREQ=WEEKLY;BYDAY={['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'][yesterday.weekday()]}",
            start_local=time(0, 0),
            duration_minutes=60,
            starts_on=yesterday,
        )
        schedules.set_plan(
            s,
            group.id,
            reminder_offsets_minutes=[],
            prompt_days_after=1,
            prompt_time=f"{here - timedelta(minutes=5):%H:%M}",
            quiet_start="00:00",
            quiet_end="23:59",
        )
    member_texted(db, member, group, at=now - timedelta(minutes=2))
    page = text(coordinator.get(f"/console/groups/{group.id}/plan"))
    assert "Sam Rivera" in page
    assert "waits: the member is texting with us right now" in page


def test_the_address_a_refused_form_leaves_answers_a_reload_with_its_forms_page(coordinator, group, member):
    """A reload (a GET) of a form's POST address leads back to the form's page, not "Method Not Allowed"."""
    for path, lands in (
        (f"/console/groups/{group.id}/schedule", f"/console/groups/{group.id}#schedule"),
        (f"/console/groups/{group.id}/meetings/20990101T0000Z/move", f"/console/groups/{group.id}#meetings"),
        (f"/console/groups/{group.id}/announce/preview", f"/console/groups/{group.id}/announce"),
        ("/console/staff/new", "/console/staff#invite"),
        (f"/console/reports/{group.id}/export", f"/console/reports?group={group.id}"),
        (f"/console/members/{member.id}/reply", f"/console/members/{member.id}/conversation"),
    ):
        response = coordinator.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == lands, path


def test_the_preview_says_sent_for_what_already_went_out_today(coordinator, group, member, db, runtime):
    """A meeting moved this morning: its notice went out at once, and the preview says "sent" for it, not
    "will send"."""
    from sqlalchemy import update

    from checkin.models import Member, OutboxItem
    from workers import schedule_jobs

    now = utcnow()
    zone = next(
        z
        for z in ("America/New_York", "Europe/London", "Asia/Tokyo", "Pacific/Honolulu")
        if 9 <= now.astimezone(ZoneInfo(z)).hour <= 19
    )
    here = now.astimezone(ZoneInfo(zone))
    with db.session() as s:
        s.get(Group, group.id).timezone = zone
        s.get(Member, member.id).timezone = zone
    weekly(db, group.id, day=here.date())
    with db.session() as s:
        first = schedules.occurrences(s, group.id, now, now + timedelta(weeks=2))[0]
        schedules.move_occurrence(
            s, group.id, first.key, first.local_start.replace(tzinfo=None) + timedelta(days=1)
        )
    assert schedule_jobs.tick(utcnow() + timedelta(seconds=1), runtime=runtime)
    with db.session() as s:
        assert s.execute(
            update(OutboxItem).where(OutboxItem.idempotency_key.like("change:%")).values(state="sent")
        ).rowcount
    page = text(coordinator.get(f"/console/groups/{group.id}/plan"))
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*is moved to(?:(?!</tr>).)*</tr>", page, re.S)
    assert row, page[page.find('id="preview"') :][:3000]
    assert ">sent</span>" in row.group(0) and "will send" not in row.group(0)

"""Moving one meeting from the group page in a real browser: a move to the time it already has changes
nothing and tells nobody; a time already gone is refused in plain words."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from checkin.db import utcnow
from checkin.schedules import set_schedule
from checkin.schedules.models import OccurrenceOverride
from tests.browser.test_form_errors import _no_axe_violations, _with_axe


def _weekly(console_server, group):
    zone = ZoneInfo(group.timezone)
    with console_server.db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(18, 30),
            duration_minutes=90,
            starts_on=(utcnow().astimezone(zone) + timedelta(days=1)).date(),
        )


def _first_move_form(page):
    meeting = page.locator("#meetings li").first
    meeting.get_by_text("Cancel or move").click()
    return meeting


def test_a_move_to_the_meetings_own_time_is_refused_and_nothing_is_sent(
    browser_page, console_server, group, member
):
    _weekly(console_server, group)
    page = browser_page
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    meeting = _first_move_form(page)
    meeting.get_by_role("button", name="Move").click()  # the box still holds the meeting's own time
    expect(page.get_by_role("alert")).to_contain_text("That is already the meeting's time; nothing changed.")
    expect(page.get_by_text("Meeting moved to")).to_have_count(0)
    with console_server.db.session() as s:
        assert s.scalar(select(OccurrenceOverride.id)) is None  # no change, so no notice to members


def test_a_move_to_a_time_already_gone_says_so_in_plain_words(browser_page, console_server, group):
    _weekly(console_server, group)
    page = browser_page
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    meeting = _first_move_form(page)
    meeting.locator('input[type="datetime-local"]').fill("2020-01-07T18:30")
    meeting.get_by_role("button", name="Move").click()
    expect(page.get_by_role("alert")).to_contain_text("The new time has already passed")


def test_a_refused_move_keeps_the_typed_time_next_to_its_meeting(
    browser_page, console_server, group, screenshot
):
    _weekly(console_server, group)
    page = _with_axe(browser_page)
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    meeting = _first_move_form(page)
    box = meeting.locator('input[type="datetime-local"]')
    field = box.get_attribute("id")
    box.fill("2020-01-07T18:30")
    meeting.get_by_role("button", name="Move").click()
    message = page.locator(f"#{field}-error")
    expect(message).to_have_text("The new time has already passed: choose a time still to come.")
    expect(message).to_be_visible()  # its meeting's box is open
    expect(page.locator(f"#{field}")).to_have_value("2020-01-07T18:30")
    expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    _no_axe_violations(page)
    screenshot(page, "refused-move")

"""A check-in prompt time in members' night (06:30, before an 08:00 window): the plan form says so when it is
saved and what the planner does with it (the prompt goes when the window opens), at the field whenever the
page is opened, and the preview shows each prompt at 8:00 am, moved from 6:30 am."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from checkin.db import utcnow
from checkin.schedules import set_schedule
from tests.browser.test_accessibility import AXE, _axe


def test_a_prompt_at_6_30_is_said_to_move_to_8_at_save_and_in_the_preview(
    browser_page, console_server, group, member, screenshot
):
    yesterday = (utcnow().astimezone(ZoneInfo(group.timezone)) - timedelta(days=1)).date()
    with console_server.db.session() as s:
        # every day, so a prompt (the day after a meeting) is in the preview's first days
        set_schedule(
            s,
            group.id,
            rrule="FREQ=DAILY",
            start_local=time(18, 30),
            duration_minutes=60,
            starts_on=yesterday,
        )
        s.commit()
    page = browser_page
    page.add_init_script(path=str(AXE))  # axe-core in every page it opens, as test_accessibility
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    page.get_by_label("Check-in prompt, days after each meeting").fill("1")
    page.get_by_label("Check-in prompt time").fill("06:30")
    page.get_by_role("button", name="Save plan").click()

    warning = page.locator(".flash.warning", has_text="Check-in prompt time")
    expect(warning).to_contain_text(
        "6:30 am is in members' night (before the sending window, 8:00 am to 9:00 pm)"
    )
    expect(warning).to_contain_text("check-in prompts go out 8:00 am instead, when the window opens")
    expect(page.locator("#prompt-night")).to_contain_text("go out 8:00 am instead")
    expect(page.get_by_label("Check-in prompt time")).to_have_attribute("aria-describedby", "prompt-night")

    page.goto(console_server.url(f"/console/groups/{group.id}/plan?day=1#preview"))
    prompt = page.locator("#preview tr", has_text="Check-in prompt")
    expect(prompt.first).to_contain_text("8:00 am")
    expect(prompt.first).to_contain_text("moved from 6:30 am: their night")
    screenshot(page, "plan-night-prompt")
    assert _axe(page) == []  # the new parts pass WCAG 2.1 A/AA too


def test_reminders_in_members_night_are_each_said_moved_or_not_sent(
    browser_page, console_server, group, screenshot
):
    """A 7:30 am meeting with reminders a day and an hour before: the day-before one (7:30 am) waits for
    the window to open at 8:00 am; the hour-before one (6:30 am) would wait past the meeting, so it is not
    sent. The plan page says both, in the group's zone, as the planner plans them."""
    with console_server.db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(7, 30),
            duration_minutes=60,
            starts_on=utcnow().date(),
        )
        s.commit()
    page = browser_page
    page.add_init_script(path=str(AXE))
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    reminders = page.get_by_label("Reminders before each meeting (hours, separated by commas)")
    # The standard plan (24 and 2 hours before) already lands both in the night: said on opening the page.
    expect(page.locator("#plan-nights li")).to_have_count(2)
    expect(page.locator("#plan-nights li").last).to_contain_text(
        "The 2-hour reminder before a 7:30 am meeting"
    )
    reminders.fill("23")  # 8:30 am the day before: in the window
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_text("Plan saved.")).to_be_visible()
    expect(page.locator("#plan-nights")).to_have_count(0)

    page.get_by_label("Reminders before each meeting (hours, separated by commas)").fill("24, 1")
    page.get_by_role("button", name="Save plan").click()
    expect(page.locator(".flash.warning", has_text="members' night")).to_contain_text(
        "Sends of this plan that land in members' night: 2. The planner holds them"
    )
    nights = page.locator("#plan-nights li")
    expect(nights).to_have_text(
        [
            "The 1-day reminder before a 7:30 am meeting is due at 7:30 am, before the sending window, "
            "8:00 am to 9:00 pm: it is held until 8:00 am, when the window opens.",
            "The 1-hour reminder before a 7:30 am meeting is due at 6:30 am, before the sending window, "
            "8:00 am to 9:00 pm: it is not sent, since the window opens only after the meeting starts.",
        ]
    )
    expect(page.locator("#plan-nights")).to_contain_text("In members' night (New York time)")
    described = page.get_by_label("Reminders before each meeting (hours, separated by commas)")
    expect(described).to_have_attribute("aria-describedby", "reminders-help plan-nights")
    screenshot(page, "plan-night-reminders")
    assert _axe(page) == []

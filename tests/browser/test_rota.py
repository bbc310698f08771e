"""The rota in a real browser: a coordinator adds a shift for now and sees it in words, on call now."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from checkin.db import utcnow
from checkin.rota import DAY_NAMES


def test_add_a_shift_and_see_on_call_now(browser_page, console_server, group, screenshot):
    page = browser_page
    page.goto(console_server.url("/console/staff"))
    row = page.locator(f"#group-{group.id} tr", has_text="Frankie Facilitator")
    expect(row).to_contain_text("at all times")
    expect(row).to_contain_text("on call now")

    # A shift from an hour ago to an hour from now, on the day it starts (which may be yesterday, around midnight).
    start = utcnow().astimezone(ZoneInfo(group.timezone)) - timedelta(hours=1)
    end = start + timedelta(hours=2)
    form = page.locator("details", has_text="Add a weekly shift in Tuesday Group")
    form.get_by_text("Add a weekly shift in Tuesday Group").click()
    form.get_by_label("Who").select_option(label="Frankie Facilitator")
    form.get_by_label(DAY_NAMES[start.isoweekday() - 1], exact=True).check()
    form.get_by_label("From").fill(start.strftime("%H:%M"))
    form.get_by_label("To").fill(end.strftime("%H:%M"))
    form.get_by_label("To").press("Enter")  # keyboard submits the form

    expect(page.get_by_role("status")).to_have_text("Rota updated.")
    words = f"{DAY_NAMES[start.isoweekday() - 1]} {start.hour % 12 or 12}:{start:%M} {'am' if start.hour < 12 else 'pm'}"
    row = page.locator(f"#group-{group.id} tr", has_text="Frankie Facilitator")
    expect(row).to_contain_text(words)
    expect(row).to_contain_text("on call now")
    expect(row).not_to_contain_text("at all times")
    screenshot(page, "rota")

    # A refused shift says which field is wrong and keeps the form open.
    form = page.locator("details", has_text="Add a weekly shift in Tuesday Group")
    form.get_by_text("Add a weekly shift in Tuesday Group").click()
    form.get_by_role("button", name="Add shift").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick at least one day.")
    expect(page.locator("fieldset", has_text="Starts on")).to_contain_text("Tick at least one day.")  # at it
    screenshot(page, "rota-refused")

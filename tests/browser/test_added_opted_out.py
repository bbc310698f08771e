"""A number that texted STOP before it was a member's is added opted out (checkin.consent): the coordinator
who adds it is told why, at once and on the member's page, with the date of that STOP."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import said

STRANGER = "+12025550179"  # not the facilitator's (+12025550177), whose STOP is staff business


def test_adding_a_number_that_said_stop_says_why_it_is_opted_out_and_when(
    browser_page, console_server, group, twilio, screenshot
):
    from sqlalchemy import select

    from checkin.models import Message

    assert said(twilio.sms(STRANGER, "STOP"))  # confirmed to the number, remembered
    with console_server.db.session() as s:
        stop_at = s.scalar(select(Message.created_at).where(Message.from_number == STRANGER))
    from webhooks.console import words

    on = words.when(stop_at, group.timezone, year=True, zone=False) + " New York time"  # its zone named

    page = browser_page
    page.goto(console_server.url(f"/console/members/new?group={group.id}"))
    page.get_by_label("Phone number").fill("202-555-0179")
    page.get_by_label("Name (first name or alias is enough)").fill("Robin")
    page.get_by_role("button", name="Add member").click()

    warning = page.locator(".flash.warning", has_text="added opted out")
    expect(warning).to_contain_text(
        f"Robin was added opted out: their number texted STOP on {on}, before they were added. "
        "Nothing automated is sent to them (no welcome text) until they text START."
    )
    expect(page.locator("#opted-out-why")).to_have_text(
        f"Their number texted STOP on {on}, before they were added: nothing automated is sent to them "
        "until they text START."
    )
    expect(
        page.get_by_role("listitem").filter(has_text="added opted out: their number texted STOP")
    ).to_be_visible()
    screenshot(page, "member-added-opted-out")

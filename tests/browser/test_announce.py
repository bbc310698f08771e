"""An announcement sent from the console in a real browser, at phone and desktop sizes: the preview names
who gets it and when, Send goes once, and the progress bar (polling, no reload) reaches 100% as the worker
sends through the loopback Twilio and its delivery reports come back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from checkin.db import utcnow
from checkin.models import Member
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import zone_where_it_is
from workers.worker import Worker


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_send_an_announcement_and_watch_the_bar_reach_100(
    browser_page, console_server, group, fake_twilio, screenshot, viewport
):
    from checkin.directory import add_member

    page = browser_page
    page.set_viewport_size(viewport)
    day = zone_where_it_is(12, utcnow())
    with console_server.db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera", timezone=day)
        add_member(s, group.name, "+12025550102", "Rosa Medina", "es", day)
        add_member(s, group.name, "+12025550104", "Lee Park", timezone=day)
        gone = add_member(s, group.name, "+12025550103", "Ana Ruiz", timezone=day)
        s.get(Member, gone.id).status = "opted_out"
    # Delivery reports a second after each send, as Twilio's come (one in the same instant as the worker's
    # record of the send would race it: the webhook spools such a report and stores it on replay).
    fake_twilio.set_auto_status(("sent", "delivered"), delay=1.0)

    page.goto(console_server.url(f"/console/groups/{group.id}"))
    page.get_by_role("link", name="Announce to the group").click()
    page.get_by_label("English text").fill("No meeting tonight: the building is closed.")
    expect(page.locator("#c-en")).to_contain_text("1 text message long")
    page.get_by_role("button", name="Preview").click()
    # Spanish speakers and no Spanish text: refused, saying why, with the words kept.
    expect(page.get_by_role("alert")).to_contain_text("write the Spanish text too")
    expect(page.get_by_label("English text")).to_have_value("No meeting tonight: the building is closed.")
    # ...marked at the empty Spanish box, not at the English one that is filled in.
    expect(page.get_by_label("Spanish text")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("English text")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#text_es-error")).to_have_text(
        "Tuesday Group has 1 Spanish-speaking member: write the Spanish text too"
    )
    if viewport is PHONE:
        screenshot(page, "announce-refused")
    page.get_by_label("Spanish text").fill("No hay reunion esta noche: el edificio esta cerrado.")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#announce-summary")).to_have_text("3 members get it: 3 now; 1 skipped (opted out).")
    expect(page.get_by_text("skipped: opted out")).to_be_visible()
    if viewport is PHONE:  # (screenshot takes both sizes)
        screenshot(page, "announce-preview")
    page.get_by_role("button", name="Send to 3 members").click()
    page.wait_for_url("**/announcements/*")
    expect(page.locator("#announce-total")).to_have_text("3")

    # The worker sends them (paced per number); the page is not reloaded: it polls.
    Worker(
        ["alerts", "outbox"], connection=console_server.runtime.redis, runtime=console_server.runtime
    ).work(burst=True)
    expect(page.locator("#announce-percent")).to_have_text("100%")
    expect(page.locator("#announce-bar")).to_have_attribute("value", "3")
    expect(page.locator("#announce-delivered")).to_have_text("3")
    expect(page.locator("#announce-failed")).to_have_text("0")
    if viewport is PHONE:
        screenshot(page, "announce-progress")
    sent = fake_twilio.messages()
    assert sorted(m["params"]["To"] for m in sent) == ["+12025550101", "+12025550102", "+12025550104"]

"""A new crisis is on every console page from its first minute, not only once a whole round of the policy
has gone unanswered: the banner, a count on the Escalations link and the tab title, live on a page
already open, until someone takes it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import crisis_text_from_a_member


def test_a_new_crisis_shows_on_every_page_at_once_and_on_a_page_already_open(
    browser_page, console_server, group, screenshot
):
    page = browser_page
    page.goto(console_server.url("/console/members"))
    badge = page.locator("#escalations-waiting")
    expect(badge).to_be_hidden()
    expect(page.locator(".alarm")).to_have_count(0)

    esc = crisis_text_from_a_member(console_server, group)
    assert esc.state == "open"  # its first minute: nobody has had time to take it
    # The page already open says so by itself (live), then every page the coordinator opens.
    banner = page.locator("p.alarm")
    expect(banner).to_contain_text("1 crisis case waits for someone")
    expect(badge).to_have_text(re.compile(r"^1"))
    expect(page).to_have_title(re.compile(r"^1 crisis waiting · Members"))
    for path in (f"/console/groups/{group.id}/plan", "/console/staff", "/console/inbox"):
        page.goto(console_server.url(path))
        expect(banner).to_contain_text("1 crisis case waits for someone")
        expect(banner.get_by_role("link", name=f"#{esc.id}")).to_be_visible()
        expect(page.get_by_role("link", name=re.compile(r"^Escalations 1"))).to_be_visible()
        assert page.title().startswith("1 crisis waiting · "), page.title()
    screenshot(page, "alarm-new-crisis")

    page.goto(console_server.url(f"/console/escalations/{esc.id}"))
    page.get_by_role("button", name="Acknowledge: I am on it").click()
    expect(page.get_by_role("status").filter(has_text=f"You have escalation {esc.id}")).to_be_visible()
    page.goto(console_server.url("/console/members"))
    expect(page.locator("p.alarm")).to_have_count(0)
    expect(badge).to_be_hidden()
    assert not page.title().startswith("1 crisis"), page.title()

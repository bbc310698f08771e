"""Words a coordinator met that were wrong: "Pacific" was called an abbreviation, and a consent date of 1890
was taken."""

from __future__ import annotations

from playwright.sync_api import expect


def test_pacific_is_called_a_band_of_zones_not_an_abbreviation(browser_page, console_server):
    page = browser_page
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Name").fill("Evening")
    form.get_by_label("Time zone").fill("Pacific")
    form.get_by_role("button", name="Create group").click()
    error = page.locator("#timezone-error")
    expect(error).to_contain_text("names a band of time zones, not a place")
    expect(error).to_contain_text("did you mean Los Angeles (America/Los_Angeles)?")
    expect(error).not_to_contain_text("abbreviation")
    expect(page.get_by_label("Time zone")).to_have_value("Pacific")  # as typed


def test_a_consent_date_of_1890_is_refused_naming_the_field(browser_page, console_server, group, screenshot):
    page = browser_page
    page.goto(console_server.url("/console/members/new"))
    page.get_by_label("Phone number").fill("202-555-0144")
    page.get_by_label("Name (first name or alias is enough)").fill("Lee")
    page.get_by_label("When they agreed").fill("1890-05-01")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#error-summary")).to_contain_text("When they agreed: '1890-05-01' is before 2000")
    expect(page.locator("#consent_date-error")).to_contain_text("is before 2000")
    expect(page.get_by_label("When they agreed")).to_have_value("1890-05-01")
    screenshot(page, "member-consent-1890")

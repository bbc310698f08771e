"""Signing in and out of the console in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect


def test_sign_in_shows_home_and_sign_out_ends_the_session(anonymous_page, console_server, screenshot):
    page = anonymous_page
    page.goto(console_server.url("/console/members"))
    # Not signed in: sent to the sign-in page, and back to the asked-for page afterwards.
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "signin")
    page.get_by_label("Email").fill(console_server.coordinator_email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Email or password is not right.")

    page.get_by_label("Password").fill(console_server.password_by_email[console_server.coordinator_email])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(console_server.url("/console/members"))
    expect(page.get_by_role("heading", name="Members")).to_be_visible()
    expect(page.locator("header")).to_contain_text("Casey Coordinator")

    page.get_by_role("button", name="Sign out").click()
    # The sign-out's answer first: a goto now would cancel its POST and the session would live on.
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(console_server.url("/console/"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

"""Staff accounts in a real browser, at desktop and phone width: a coordinator invites a facilitator, who
opens the link, chooses a password (a common one is refused first, with the reason), sets up an
authenticator app by reading the key off the page, saves the recovery codes, signs out, and signs in
again with password and code."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE

NEW_PASSWORD = "copper kettle meadow"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_invited_facilitator_sets_a_password_and_an_authenticator_app(
    browser_page, console_server, group, screenshot, viewport
):
    coordinator = browser_page  # signed in as the coordinator
    coordinator.set_viewport_size(viewport)
    invited = coordinator.context.browser.new_context(  # nobody's cookies
        viewport=viewport, permissions=["clipboard-read", "clipboard-write"]
    ).new_page()
    invited.set_default_timeout(60_000)
    try:
        coordinator.goto(console_server.url("/console/staff"))
        form = coordinator.locator("form", has=coordinator.get_by_role("button", name="Invite", exact=True))
        form.get_by_label("Name").fill("Robin Rivera")
        form.get_by_label("Email").fill("robin@example.org")
        form.get_by_label("Role").select_option("facilitator")
        form.get_by_label("Phone for alerts (facilitators)").fill("202-555-0188")
        form.get_by_label(group.name).check()
        form.get_by_role("button", name="Invite", exact=True).click()
        expect(coordinator.get_by_role("heading", name="Invited Robin Rivera")).to_be_visible()
        expect(coordinator.get_by_role("button", name="Text the link to +12025550188")).to_be_visible()
        if viewport == PHONE:
            screenshot(coordinator, "staff-invited")
        link = coordinator.locator("#invite-link").inner_text().strip()
        assert link.startswith(console_server.url("/console/welcome/"))

        invited.goto(link)
        expect(invited.get_by_role("heading", name="Welcome, Robin Rivera")).to_be_visible()
        invited.get_by_label("New password").fill("Password123")
        invited.get_by_label("The same password again").fill("Password123")
        invited.get_by_role("button", name="Set my password").click()
        expect(invited.get_by_role("alert")).to_contain_text("passwords people use most often")
        invited.get_by_label("New password").fill(NEW_PASSWORD)
        invited.get_by_label("The same password again").fill(NEW_PASSWORD)
        invited.get_by_role("button", name="Set my password").click()

        expect(invited.get_by_role("heading", name="Set up an authenticator app")).to_be_visible()
        expect(invited.locator("figure.qr svg")).to_be_visible()
        if viewport == PHONE:
            screenshot(invited, "account-authenticator-app")
        secret = invited.locator("#totp-secret").inner_text().replace(" ", "")
        groups = [g.bounding_box()["height"] for g in invited.locator("#totp-secret span").all()]
        assert len(groups) == 8 and max(groups) < 1.5 * min(groups)  # no group of four broken over two lines
        key, qr = invited.locator(".by-key").bounding_box(), invited.locator("figure.qr").bounding_box()
        if viewport == PHONE:  # the phone that shows the page cannot scan it: the key comes first
            assert key["y"] < qr["y"]
        totp = pyotp.TOTP(secret)
        invited.get_by_label("Code from the app").fill("000000")
        invited.get_by_role("button", name="Turn on").click()
        expect(invited.get_by_role("alert")).to_contain_text("does not match")
        expect(
            invited.get_by_role("link", name="Skip for now")
        ).to_be_visible()  # still the welcome's way out
        invited.get_by_label("Code from the app").fill(totp.now())
        invited.get_by_role("button", name="Turn on").click()
        expect(invited.get_by_role("heading", name="Your authenticator app is on")).to_be_visible()
        expect(invited.locator("#recovery-codes li")).to_have_count(10)
        first = invited.locator("#recovery-codes li").first.bounding_box()
        marker_room = invited.evaluate(
            "parseFloat(getComputedStyle(document.getElementById('recovery-codes')).paddingLeft)"
        )
        assert first["x"] - marker_room >= 0 and marker_room >= 30  # room for "10." inside the screen
        invited.get_by_role("button", name="Copy codes").click()
        expect(invited.locator("#recovery-codes-copied")).to_contain_text("Copied")
        assert invited.evaluate("navigator.clipboard.readText()").splitlines()[0] == (
            invited.locator("#recovery-codes li code").first.inner_text()
        )
        invited.get_by_role("link", name="I have saved them").click()
        expect(invited.locator("header")).to_contain_text("Robin Rivera")

        invited.get_by_role("button", name="Sign out").click()
        expect(invited.get_by_role("status")).to_have_text("You are signed out.")
        invited.get_by_label("Email").fill("robin@example.org")
        invited.get_by_label("Password").fill(NEW_PASSWORD)
        invited.get_by_role("button", name="Sign in").click()
        expect(invited.get_by_role("heading", name="Sign-in code")).to_be_visible()
        # The enrolment's code is spent; the next 30-second step's code is within the allowed drift.
        invited.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
        invited.get_by_role("button", name="Sign in", exact=True).click()
        invited.wait_for_url(console_server.url("/console/"))
        expect(invited.locator("header")).to_contain_text("Robin Rivera")

        # The coordinator's staff list now says Robin has an app, and offers to reset it.
        coordinator.goto(console_server.url("/console/staff"))
        expect(
            coordinator.get_by_role("button", name="Reset the authenticator app of Robin Rivera")
        ).to_be_visible()
    finally:
        invited.context.close()

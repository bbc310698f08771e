"""The console in a real browser: check and apply a CSV with one bad row, take and resolve an escalation, every main page."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from checkin.escalation.models import Escalation
from checkin.models import Member
from tests.browser.conftest import crisis_text_from_a_member
from tests.console_helpers import CRISIS_TEXT


def test_csv_import_with_one_bad_row_shows_the_dry_run_and_writes_nothing_until_applied(
    browser_page, console_server, group, tmp_path, screenshot
):
    page = browser_page
    csv = tmp_path / "members.csv"
    csv.write_text(
        "group,phone,name,language\n"
        f"{group.name},202-555-0161,Ana Diaz,es\n"
        f"{group.name},555-CALL-ME-MAYBE,Ben Ode,en\n"
        f"{group.name},202-555-0163,Cy Young,en\n"
    )
    page.goto(console_server.url("/console/members"))
    page.get_by_role("link", name="Import or update from CSV").click()
    screenshot(page, "import")
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Check the file (dry run)").click()
    page.wait_for_url(re.compile(r".*/console/members/import/[0-9a-f]+$"))
    report = page.locator("#report-errors")
    report.wait_for()
    assert "Dry run: nothing is saved yet" in page.locator("#result").inner_text()
    assert report.locator("tbody tr").count() == 1
    assert report.locator("tbody td").first.inner_text() == "3"
    assert "'555-CALL-ME-MAYBE' is not a phone number" in report.inner_text()
    screenshot(page, "import-report")
    with console_server.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 0
    page.get_by_role("button", name="Apply: add 2, update 0").click()
    page.get_by_text("Applied: 2 added, 0 updated, 0 unchanged, 1 row with problems skipped.").wait_for()
    page.get_by_role("link", name="See the members").click()
    expect(page.get_by_role("link", name="Cy Young")).to_be_visible()
    screenshot(page, "members")


def test_acknowledge_and_resolve_an_escalation(browser_page, console_server, group, screenshot):
    esc = crisis_text_from_a_member(console_server, group)  # the member's text arrives the real way

    page = browser_page
    page.goto(console_server.url("/console/"))
    expect(page.get_by_role("heading", name="Open escalations (1)")).to_be_visible()
    screenshot(page, "home")
    page.locator("#live-home").get_by_role("link", name=f"#{esc.id}").click()  # the banner links it too
    expect(page.get_by_role("heading", name=re.compile(f"Escalation #{esc.id}"))).to_be_visible()
    expect(page.locator("#messages").get_by_text(CRISIS_TEXT)).to_be_visible()  # the context, with our reply
    expect(page.locator("#messages").get_by_text("Our reply: We hear you.")).to_be_visible()
    screenshot(page, "escalation-open")

    page.get_by_role("button", name="Acknowledge: I am on it").click()
    expect(page.get_by_role("status").filter(has_text=f"You have escalation {esc.id}")).to_be_visible()
    expect(page.locator("dl.facts").get_by_text("Casey Coordinator")).to_be_visible()

    page.get_by_label("Resolution note").fill("Called Sam; he is safe with his sister tonight.")
    # Keyboard only: the button is reached with Tab and pressed with Enter.
    page.get_by_label("Resolution note").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_text(f"Escalation {esc.id} resolved. Thank you.").wait_for()
    expect(page.get_by_text("Called Sam; he is safe with his sister tonight.")).to_be_visible()
    screenshot(page, "escalation-resolved")
    with console_server.db.session() as s:
        assert s.get(Escalation, esc.id).state == "resolved"

    page.goto(console_server.url("/console/escalations?state=all"))
    screenshot(page, "escalations")
    page.goto(console_server.url(f"/console/members/{esc.member_id}"))
    expect(page.get_by_text("No check-in answers yet.")).to_be_visible()
    assert page.locator("svg.chart").count() == 0
    screenshot(page, "member")


def test_staff_page_and_facilitator_view(anonymous_page, browser_page, console_server, screenshot):
    page = browser_page
    page.goto(console_server.url("/console/staff"))
    expect(page.get_by_role("heading", name="Staff and rota")).to_be_visible()
    screenshot(page, "staff")
    page.get_by_role("link", name="Audit").click()
    expect(
        page.locator("#audit").get_by_text("Casey Coordinator signed in").first
    ).to_be_visible()  # waits for the new page
    screenshot(page, "audit")
    page.get_by_role("button", name="Sign out").click()
    # Signed out for real before the next sign-in (a goto now would cancel the sign-out's POST).
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url("/console/staff"))
    expect(page.get_by_role("heading", name="Staff and rota")).to_be_visible()
    # The buttons' accessible name is their aria-label, "Reset password of <name>".
    expect(page.get_by_role("button", name=re.compile("Reset password"))).to_have_count(0)
    screenshot(page, "staff-facilitator")


def test_a_file_without_the_needed_columns_is_refused_on_the_same_page(
    browser_page, console_server, tmp_path
):
    page = browser_page
    csv = tmp_path / "contacts.csv"
    csv.write_text("first name,mobile\nAna,202-555-0161\n")
    page.goto(console_server.url("/console/members/import"))
    page.get_by_label("CSV file").set_input_files(str(csv))
    page.get_by_role("button", name="Check the file (dry run)").click()
    error = page.get_by_role("alert")
    error.wait_for()
    assert "contacts.csv: the header row must name the columns group, phone, name" in error.inner_text()
    assert page.url == console_server.url("/console/members/import")


def test_resetting_a_password_asks_first_and_no_changes_nothing(browser_page, console_server, screenshot):
    from checkin.models import StaffUser

    def password_hash():
        with console_server.db.session() as s:
            return s.scalar(
                select(StaffUser.password_hash).where(StaffUser.email == console_server.facilitator_email)
            )

    page = browser_page
    before = password_hash()
    page.goto(console_server.url("/console/staff"))
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Reset password of Frankie Facilitator").click()
    assert asked == [
        "Send Frankie Facilitator a link to choose a new password? "
        "Their current password stops working now and they are signed out everywhere."
    ]
    assert page.url == console_server.url("/console/staff") and password_hash() == before
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset password of Frankie Facilitator").click()
    page.wait_for_url(re.compile(r".*/console/staff/\d+/password$"))
    expect(page.get_by_role("heading", name="Password reset link for Frankie Facilitator")).to_be_visible()
    expect(page.locator("#invite-link")).to_contain_text("/console/welcome/")
    assert password_hash() is None  # no temporary password: only the link lets them choose a new one
    screenshot(page, "staff-password-reset")

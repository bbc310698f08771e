"""A coordinator keeps a group's roster current in a real browser, at desktop and phone width: downloads
the template, uploads a roster against the existing group (some members unchanged, one changed, new ones,
one bad row), reads the dry run, applies it, finds the new members with the filters and exports them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from checkin import consent
from checkin.accounts.models import AuditEvent
from checkin.directory import add_member
from checkin.models import Member
from tests.browser.conftest import DESKTOP, PHONE


def fits(page) -> bool:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_coordinator_imports_a_roster_in_update_mode_and_exports_it(
    browser_page, console_server, group, screenshot, viewport, tmp_path
):
    with console_server.db.session() as s:
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
        consent.opt_out(s, sam, source="keyword:STOP")
        lee = add_member(s, group.name, "+12025550102", "Lee Park")
        lee.created_at -= timedelta(days=30)  # a member for a month, never answered
    page = browser_page
    page.set_viewport_size(viewport)
    page.goto(console_server.url("/console/members"))
    page.get_by_role("link", name="Import or update from CSV").click()

    assert fits(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the template (CSV)").click()
    template = Path(download.value.path()).read_bytes().decode("utf-8-sig").splitlines()
    assert template[0] == "group,phone,name,language,channel,timezone,consent_source,consent_date,welcome"
    assert len(template) == 2  # the header and one example row

    header = template[0]
    roster = "\n".join(
        [
            header,
            f"{group.name},202-555-0101,Sam Rivera,,,,,",  # unchanged
            f"{group.name},202-555-0102,Lee Park,es,voice,,verbal on phone,11/30/2026",  # changed
            f"{group.name},202-555-0143,Alex Moreno,en,sms,,paper form at meeting,2026-11-30",  # new
            f"{group.name},202-555-0144,Bea Quinn,,,,text START,,no",  # new, and no welcome text
            f"{group.name},555-01,Broken Number,,,,,",  # bad
        ]
    )
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "tuesday.csv", "mimeType": "text/csv", "buffer": roster.encode()}]
    )
    page.get_by_role("button", name="Check the file (dry run)").click()
    expect(page.get_by_role("heading", name="Dry run: nothing is saved yet")).to_be_visible()
    counts = page.locator("#import-counts")
    for text in ("2 to add", "1 to update", "1 unchanged", "1 with problems (skipped)"):
        expect(counts).to_contain_text(text)
    expect(page.locator("#report-errors")).to_contain_text("'555-01' is not a valid phone number")
    expect(page.locator("#import-opted-out")).to_have_text(
        "An import never re-subscribes anyone who opted out: 1 member in this file opted out and stays opted out."
    )
    # A new member gets the welcome text unless the row's welcome cell says no (Alex's is empty).
    expect(page.locator("#report-add tr", has_text="Alex Moreno")).to_contain_text("Yes, in their daytime")
    expect(
        page.locator("#report-add tr", has_text="Bea Quinn").locator('td[data-label="Welcome text"]')
    ).to_have_text("No")
    expect(page.locator("#report-update")).to_contain_text("Language: English → Spanish")
    expect(page.locator("#report-update")).to_contain_text("Consent source: (empty) → verbal on phone")
    with console_server.db.session() as s:
        assert s.scalar(select(Member.id).where(Member.phone == "+12025550143")) is None  # nothing yet
    assert fits(page)
    screenshot(page, "import-dry-run")
    page.get_by_role("button", name="Apply: add 2, update 1").click()
    expect(
        page.get_by_text("Applied: 2 added, 1 updated, 1 unchanged, 1 row with problems skipped.")
    ).to_be_visible()
    expect(page.get_by_text("1 welcome text goes out in each member's daytime.")).to_be_visible()

    page.get_by_role("link", name="See the members").click()
    expect(page.get_by_role("link", name="Alex Moreno")).to_be_visible()
    expect(page.get_by_role("link", name="Bea Quinn")).to_be_visible()
    page.get_by_label("Name or phone").fill("555-0143")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("1 member found.")).to_be_visible()
    assert "q=555-0143" in page.url  # a filtered view is a link that can be bookmarked
    expect(page.get_by_role("link", name="Sam Rivera")).to_have_count(0)
    page.get_by_label("Name or phone").fill("")
    page.get_by_label("Last check-in").select_option(label="none in 14 days")
    page.get_by_role("button", name="Find").click()
    # Lee only: the members just added were never asked yet, and Sam opted out.
    expect(page.get_by_text("1 member found.")).to_be_visible()
    expect(page.get_by_role("link", name="Lee Park")).to_be_visible()
    page.get_by_label("Last check-in").select_option(label="any time")
    page.get_by_label("Group").first.select_option(label=group.name)
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_text("These 4 members, as filtered above")).to_be_visible()
    assert fits(page)
    screenshot(page, "members-filtered")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download members (CSV)").click()
    exported = Path(download.value.path()).read_bytes()
    assert exported.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
    assert {r["name"]: (r["phone"], r["language"], r["consent_source"], r["status"]) for r in rows} == {
        "Sam Rivera": ("'+12025550101", "en", "", "opted_out"),
        "Lee Park": ("'+12025550102", "es", "verbal on phone", "active"),
        "Alex Moreno": ("'+12025550143", "en", "paper form at meeting", "active"),
        "Bea Quinn": ("'+12025550144", "en", "text START", "active"),
    }
    with console_server.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert "import" in actions and actions[-1] == "export"


def test_a_row_with_an_unclosed_quote_is_a_row_with_problems_and_the_next_rows_are_read(
    browser_page, console_server, group
):
    roster = "\n".join(
        [
            "group,phone,name,language,channel,timezone,consent_source,consent_date",
            f'{group.name},202-555-0151,"Unclosed quote,en,sms,,,',  # the quote never closes
            f"{group.name},202-555-0152,Dana Lee,en,sms,,,",
            f'{group.name},202-555-0153,"Quoted, Fine",en,sms,,,',
        ]
    )
    page = browser_page
    page.goto(console_server.url("/console/members/import"))
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "quotes.csv", "mimeType": "text/csv", "buffer": roster.encode()}]
    )
    page.get_by_role("button", name="Check the file (dry run)").click()
    counts = page.locator("#import-counts")
    expect(counts).to_contain_text("2 to add")
    expect(counts).to_contain_text("1 with problems (skipped)")
    errors = page.locator("#report-errors")
    expect(errors).to_contain_text("Unclosed quote")
    expect(errors).to_contain_text("is opened and never closed on this line")
    adds = page.locator("#report-add")
    expect(adds).to_contain_text("Dana Lee")
    expect(adds).to_contain_text("Quoted, Fine")
    expect(adds).not_to_contain_text("Unclosed")
    page.get_by_role("button", name="Apply: add 2").click()
    expect(page.get_by_text("Applied: 2 added")).to_be_visible()
    with console_server.db.session() as s:
        names = set(s.scalars(select(Member.display_name)))
    assert names == {"Dana Lee", "Quoted, Fine"}  # nothing of the broken row half-imported


def test_a_misnamed_column_is_named_by_line_and_column_with_the_one_it_is_nearest(
    browser_page, console_server, group, screenshot
):
    roster = f"group,phone_number,name,time_zone\n{group.name},202-555-0151,Dana,Chicago\n"
    page = browser_page
    page.goto(console_server.url("/console/members/import"))
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "misnamed.csv", "mimeType": "text/csv", "buffer": roster.encode()}]
    )
    page.get_by_role("button", name="Check the file (dry run)").click()
    error = page.locator("#import-error")
    expect(error).to_contain_text("column 2 of line 1, 'phone_number' (did you mean phone?)")
    expect(error).to_contain_text("column 4 of line 1, 'time_zone' (did you mean timezone?)")
    screenshot(page, "import-misnamed-columns")
    with console_server.db.session() as s:
        assert s.scalars(select(Member)).all() == []

"""A member's consent in a real browser: an opt-out asks how the member asked and for a confirmation, and
says staff texts stop too; adding a member without their consent recorded is flagged; the consent record
reads in plain words."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from checkin import consent
from checkin.models import Member


def test_an_opt_out_asks_how_they_asked_and_for_a_confirmation(browser_page, console_server, member):
    page = browser_page
    page.goto(console_server.url(f"/console/members/{member.id}"))
    page.get_by_text("Record an opt-out…").click()
    expect(page.locator("#opt-out-effect")).to_contain_text("no texts from staff either")
    expect(page.locator("#opt-out-effect")).to_contain_text("until they text START")
    record = page.get_by_role("button", name="Record opt-out")
    record.click()  # nothing chosen, nothing ticked: the browser holds the form back
    with console_server.db.session() as s:
        assert s.get(Member, member.id).status == "active"
    page.get_by_label("How did they ask to stop?").select_option(label="On a phone call")
    page.get_by_label("Sam Rivera asked to stop receiving messages").check()
    record.click()
    expect(page.get_by_role("status").filter(has_text="is opted out")).to_contain_text(
        "staff replies included, until they text START"
    )
    with console_server.db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"
    expect(page.get_by_text("Opt-out recorded (they asked: on a phone call)", exact=False)).to_be_visible()
    # when, in the member's zone, named: the reader may be elsewhere
    expect(page.locator("#member-history li").first).to_contain_text(
        "Opt-out recorded (they asked: on a phone call) by Casey Coordinator on"
    )
    expect(page.locator("#member-history li").first).to_have_text(re.compile(r"\d:\d\d [ap]m New York time$"))


def test_the_consent_record_names_a_plain_language_opt_out_in_words(browser_page, console_server, member):
    with console_server.db.session() as s:
        consent.opt_out(s, s.get(Member, member.id), source="phrase")
    page = browser_page
    page.goto(console_server.url(f"/console/members/{member.id}"))
    record = page.locator("h2:has-text('Consent record') + ul")
    expect(record).to_contain_text("asked in their own words by text")
    expect(record).not_to_contain_text("phrase")


def test_adding_a_member_without_their_consent_recorded_is_flagged(browser_page, console_server, group):
    page = browser_page
    page.goto(console_server.url("/console/members/new"))
    page.get_by_label("Phone number").fill("202-555-0161")
    page.get_by_label("Name (first name or alias is enough)").fill("Ari")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("How and when Ari agreed to receive texts is not recorded")).to_be_visible()
    with console_server.db.session() as s:
        assert s.scalar(select(Member.display_name)) == "Ari"


def test_the_opt_in_form_names_the_members_zone_for_its_days_and_a_future_day_says_why(
    browser_page, console_server, member
):
    """The days on the opt-in form are the member's: the form says so, with the day they opted out; a
    later day than their today (the browser's max forced off) is refused saying which today, and where."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from checkin.db import utcnow
    from webhooks.console import words

    with console_server.db.session() as s:
        consent.opt_out(s, s.get(Member, member.id), source="staff:1")
        s.commit()
    today = utcnow().astimezone(ZoneInfo("America/New_York")).date()
    page = browser_page
    page.goto(console_server.url(f"/console/members/{member.id}"))
    help_text = page.locator("#opt-in-on-help")
    expect(help_text).to_have_text(
        f"They opted out on {words.day(today, True)}. A day from then to today, {words.day(today, True)}, "
        "in New York time (the member's time zone)."
    )
    expect(page.get_by_label("When did they ask?")).to_have_attribute("aria-describedby", "opt-in-on-help")
    page.get_by_label("How did they ask to receive messages again?").select_option(index=1)
    later = today + timedelta(days=3)
    page.eval_on_selector("#opt-in-on", "el => el.removeAttribute('max')")
    page.get_by_label("When did they ask?").fill(later.isoformat())
    page.get_by_label("Sam Rivera asked to receive messages again").check()
    with page.expect_response(lambda r: r.url.endswith("/consent")) as answer:
        page.get_by_role("button", name="Record opt-in").click()
    assert answer.value.status == 400
    expect(page.locator("body")).to_contain_text(
        f"they cannot have asked on {words.day(later, True)}, after today ({words.day(today, True)}, "
        "New York time, the member's time zone): choose the day they asked, today or earlier"
    )
    with console_server.db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"


def test_a_consent_date_after_today_says_which_today(browser_page, console_server, group):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from checkin.db import utcnow
    from webhooks.console import words

    today = utcnow().astimezone(ZoneInfo("America/Chicago")).date()
    later = today + timedelta(days=2)
    page = browser_page
    page.goto(console_server.url("/console/members/new"))
    page.get_by_label("Phone number").fill("202-555-0162")
    page.get_by_label("Name (first name or alias is enough)").fill("Bea")
    page.get_by_label("Time zone (leave empty for the group's)").fill("Chicago")
    page.get_by_label("When they agreed").fill(later.isoformat())
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#consent_date-error")).to_contain_text(
        f"'{later.isoformat()}' is after today ({words.day(today, True)}, Chicago time): type the day they "
        "agreed to texts, today or earlier"
    )
    with console_server.db.session() as s:
        assert s.scalar(select(Member.id).where(Member.display_name == "Bea")) is None

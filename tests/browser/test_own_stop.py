"""A member who texted STOP is opted in again only by their own START: their page says so, with the date
and the number to text, and offers staff no way to record an opt-in. After an opt-out staff recorded, an
opt-in asks how and when the member asked again."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from checkin.db import utcnow
from checkin.models import Member, Message
from tests.conftest import said
from webhooks.console import words


def test_a_member_who_texted_stop_has_no_opt_in_box_and_is_told_to_text_start(
    browser_page, console_server, member, twilio, settings, screenshot
):
    assert said(twilio.sms(member.phone, "STOP"))
    with console_server.db.session() as s:
        stop_at = s.scalar(select(Message.created_at).where(Message.from_number == member.phone))
    page = browser_page
    page.goto(console_server.url(f"/console/members/{member.id}"))
    with console_server.db.session() as s:
        zone = s.get(Member, member.id).effective_timezone
    on = f"{words.when(stop_at, zone, year=True, zone=False)} {words.zone_name(zone)}"  # "... New York time"
    expect(page.locator("#own-stop")).to_have_text(
        f"They texted STOP on {on}. Only they can undo that: ask them to text START to "
        f"{settings.twilio_from_number}."
    )
    expect(page.get_by_role("button", name="Record opt-in")).to_have_count(0)
    expect(page.get_by_label("asked to receive messages again")).to_have_count(0)
    screenshot(page, "member-texted-stop")
    with console_server.db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"


def test_after_a_staff_opt_out_an_opt_in_asks_how_and_when(browser_page, console_server, member, group):
    page = browser_page
    page.goto(console_server.url(f"/console/members/{member.id}"))
    page.get_by_text("Record an opt-out…").click()
    page.get_by_label("How did they ask to stop?").select_option(label="In writing or by email")
    page.get_by_label("Sam Rivera asked to stop receiving messages").check()
    page.get_by_role("button", name="Record opt-out").click()
    expect(page.locator("#own-stop")).to_have_count(0)
    record = page.get_by_role("button", name="Record opt-in")
    record.click()  # nothing filled in: the browser holds the form back
    with console_server.db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"
    page.get_by_label("How did they ask to receive messages again?").select_option(label="On a phone call")
    today = utcnow().astimezone(ZoneInfo(group.timezone)).date()
    page.get_by_label("When did they ask?").fill(today.isoformat())
    page.get_by_label("Sam Rivera asked to receive messages again").check()
    record.click()
    expect(page.get_by_role("status").filter(has_text="is opted in again")).to_be_visible()
    expect(page.get_by_text("consent: Asked again on a phone call", exact=False)).to_be_visible()
    with console_server.db.session() as s:
        assert s.get(Member, member.id).status == "active"

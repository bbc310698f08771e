"""A facilitator on a phone, paged for a crisis, takes it from the console's home page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from checkin.escalation.models import Escalation
from tests.browser.conftest import PHONE, crisis_text_from_a_member
from tests.console_helpers import CRISIS_TEXT


def test_a_facilitator_acknowledges_from_home_by_keyboard_at_phone_width(
    anonymous_page, console_server, group, screenshot
):
    esc = crisis_text_from_a_member(console_server, group)
    page = anonymous_page
    page.set_viewport_size(PHONE)
    console_server.sign_in(page, console_server.facilitator_email)
    take = page.get_by_role("button", name=f"Acknowledge: I am on it, escalation #{esc.id}, Sam Rivera")
    box = take.bounding_box()
    assert (
        box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]
    )  # a thumb-sized target, on screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    screenshot(page, "facilitator-home-alert")
    for _ in range(30):  # Tab from the top of the page to the button, then Enter: no mouse
        page.keyboard.press("Tab")
        if take.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("the home page's Acknowledge button is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/console/escalations/{esc.id}$"))
    expect(page.get_by_role("status").filter(has_text=f"You have escalation {esc.id}")).to_be_visible()
    expect(page.locator("dl.facts").get_by_text("Frankie Facilitator")).to_be_visible()
    expect(page.locator("#messages").get_by_text(CRISIS_TEXT)).to_be_visible()  # the context comes with it
    screenshot(page, "facilitator-acknowledged")
    with console_server.db.session() as s:
        taken = s.get(Escalation, esc.id)
        assert taken.state == "acknowledged" and taken.acknowledged_by is not None
    page.goto(console_server.url("/console/"))
    assert (
        page.get_by_role("button", name=re.compile("Acknowledge")).count() == 0
    )  # taken: nothing left to take


def test_a_facilitator_goes_off_call_and_back_on_at_phone_width(
    anonymous_page, console_server, group, screenshot
):
    page = anonymous_page
    page.set_viewport_size(PHONE)
    console_server.sign_in(page, console_server.facilitator_email)
    page.get_by_role("link", name="Staff").click()
    # The button is found by the words on it (as a voice-control user says them), then the group's row changes.
    page.get_by_role("button", name="Take off call").click()
    row = page.locator(f"#group-{group.id} tbody tr")
    expect(row.get_by_text("off call (switched off)")).to_be_visible()
    screenshot(page, "facilitator-off-call")
    page.get_by_role("button", name="Put on call").click()
    expect(row.get_by_text("on call now")).to_be_visible()
    assert (
        page.get_by_role("button", name=re.compile("Make (backup|primary)")).count() == 0
    )  # the rota itself is read-only


def test_twelve_waiting_crisis_cases_make_one_banner_and_the_case_can_be_taken_on_the_first_screen(
    anonymous_page, console_server, group, screenshot
):
    with console_server.db.session() as s:
        cases = [
            Escalation(member_id=None, group_id=group.id, level="crisis", state="unacknowledged")
            for _ in range(12)
        ]
        s.add_all(cases)
        s.flush()
        ids = [c.id for c in cases]
    page = anonymous_page
    page.set_viewport_size(PHONE)
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url(f"/console/escalations/{ids[5]}"))
    banner = page.locator(".alarm")
    expect(banner).to_have_count(1)  # it was one per case: twelve
    expect(banner).to_contain_text("12 crisis cases wait for someone:")
    expect(banner.get_by_role("link", name="see them")).to_have_count(1)  # on a case's page: one link
    take = page.get_by_role("button", name="Acknowledge: I am on it")
    expect(take).to_be_visible()
    box = take.bounding_box()
    # On the first screen of a phone, without scrolling (it was below 1,700 px).
    assert box["y"] + box["height"] <= PHONE["height"], box
    screenshot(page, "facilitator-case-with-twelve-waiting")
    take.click()
    page.wait_for_url(re.compile(rf".*/console/escalations/{ids[5]}$"))
    expect(page.get_by_role("status").filter(has_text=f"You have escalation {ids[5]}")).to_be_visible()
    expect(banner).to_contain_text("11 crisis cases wait for someone:")


def test_on_the_smallest_phone_a_cases_acknowledge_is_on_the_first_screen_however_many_cases_wait(
    anonymous_page, console_server, group, screenshot
):
    small = {"width": 320, "height": 568}  # an iPhone SE, the smallest screen a facilitator may carry
    with console_server.db.session() as s:
        cases = [
            Escalation(member_id=None, group_id=group.id, level=level, state="unacknowledged")
            for level in ["crisis"] * 14 + ["urgent"] * 3
        ]
        s.add_all(cases)
        s.flush()
        first = cases[0].id
    page = anonymous_page
    page.set_viewport_size(small)
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url(f"/console/escalations/{first}"))
    take = page.get_by_role("button", name="Acknowledge: I am on it")
    expect(take).to_be_visible()
    box = take.bounding_box()
    assert box["y"] + box["height"] <= small["height"], box  # no scrolling to take the case
    # The banner still says the others wait and leads to them.
    alarm = page.locator("p.alarm").first
    expect(alarm).to_contain_text("14 crisis cases wait for someone")
    expect(alarm.get_by_role("link", name=re.compile("see them"))).to_have_count(2)
    screenshot(page, "facilitator-case-smallest-phone")

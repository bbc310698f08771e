"""A coordinator sets who is paged for a group and reads the preview; a facilitator on a phone reads
what the member wrote before the buttons. One walk per viewport."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from checkin.escalation.models import AssessmentRecord
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_facilitator_phone import crisis_text_from_a_member
from tests.console_helpers import CRISIS_TEXT


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_coordinator_edits_the_policy_and_a_facilitator_reads_the_words_first(
    viewport, browser_page, console_server, group, screenshot
):
    page = browser_page
    page.set_viewport_size(viewport)
    page.get_by_role("link", name="Groups").click()
    page.get_by_role("link", name=group.name).first.click()
    page.get_by_role("link", name="Who is paged (escalation policy)").click()
    preview = page.locator(".policy-preview")
    expect(preview).to_contain_text(
        "A crisis at 2:00 am Sunday texts and calls Frankie Facilitator (on call)."
    )
    # Honest about the steps that reach nobody: no backup in this group, no coordinator with a phone.
    expect(preview).to_contain_text(
        "The backup facilitators step reaches nobody (the group has no backup facilitator)"
    )
    expect(preview).to_contain_text("After 5 minutes, if nobody has taken it")

    crisis = page.get_by_role("group", name="Crisis")
    crisis.get_by_label("Minutes before the next step").fill("3")
    crisis.get_by_label("Then step").select_option(label="Coordinators")
    crisis.get_by_label("Last step").select_option(label="No further step")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status").filter(has_text="Escalation policy saved")).to_be_visible()
    expect(preview).to_contain_text(
        "The coordinators step reaches nobody (no coordinator has a phone number), so it is passed over."
    )
    expect(preview).to_contain_text("After 3 minutes, if nobody has taken it")
    expect(preview).not_to_contain_text("backup")
    # Show previews what the form says, before saving, and keeps what was typed.
    crisis.get_by_label("Minutes before the next step").fill("4")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#preview-unsaved")).to_contain_text("not saved yet")
    expect(preview).to_contain_text("After 4 minutes, if nobody has taken it")
    expect(
        page.get_by_role("group", name="Crisis").get_by_label("Minutes before the next step")
    ).to_have_value("4")
    # Another moment: an urgent case on a Tuesday evening.
    page.get_by_label("Level", exact=True).select_option("urgent")
    page.get_by_label("Day", exact=True).select_option(label="Tuesday")
    page.get_by_label("Time", exact=True).fill("18:30")
    page.get_by_role("button", name="Show").click()
    expect(preview).to_contain_text("An urgent at 6:30 pm Tuesday texts Frankie Facilitator (on call).")
    if viewport == PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "escalation-policy")

    # A facilitator opens the alert's link on the same screen size.
    esc = crisis_text_from_a_member(console_server, group)
    page.context.clear_cookies()
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url(f"/console/escalations/{esc.id}"))
    words = page.locator("#said blockquote").first
    expect(words).to_have_text(CRISIS_TEXT)
    said = words.bounding_box()
    take = page.get_by_role("button", name="Acknowledge: I am on it")
    buttons = [take, page.get_by_role("button", name="Resolve"), page.get_by_role("button", name="Reassign")]
    boxes = [b.bounding_box() for b in buttons]
    if viewport == PHONE:
        for box in boxes:  # below the words, full width, one thumb tall
            assert box["y"] >= said["y"] + said["height"], (box, said)
            assert box["height"] >= 44 and box["width"] >= PHONE["width"] - 60, box
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "escalation-phone-first")
    else:  # two columns: the words on the left, the actions beside them, both on the first screen
        assert boxes[0]["x"] > said["x"] + said["width"] and boxes[0]["y"] < DESKTOP["height"]
    # The rule ids are in a toggle, not on the page's face.
    with console_server.db.session() as s:
        ids = s.scalar(select(AssessmentRecord.rules).where(AssessmentRecord.escalation_id == esc.id))
    assert ids
    assert not any(rule in page.inner_text("body") for rule in ids)
    page.locator("#said summary").first.click()
    expect(page.locator("#said details code").first).to_contain_text(ids[0])


def test_a_facilitator_off_shift_at_the_moment_shown_is_said_in_plain_words(
    browser_page, console_server, group
):
    """Frankie works Monday to Friday, 9 to 5: at 2:00 am Sunday the first step reaches nobody, and the
    page says why as a sentence (it read "nobody is on call as on call then")."""
    from datetime import time

    from checkin import rota
    from checkin.models import GroupStaff, StaffUser

    with console_server.db.session() as s:
        frankie = s.scalar(select(StaffUser).where(StaffUser.email == console_server.facilitator_email))
        rota.add_weekly(s, s.get(GroupStaff, (group.id, frankie.id)), [1, 2, 3, 4, 5], time(9), time(17))
    page = browser_page
    page.goto(console_server.url(f"/console/groups/{group.id}/escalation-policy"))
    preview = page.locator(".policy-preview")
    expect(preview).to_contain_text("no facilitator is on call at that time")
    expect(preview).not_to_contain_text("as on call")
    expect(preview).not_to_contain_text(" then")

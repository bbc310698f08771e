"""Erasing a member in a real browser: the button stays disabled until their name is typed exactly."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.directory import add_member
from checkin.models import Member

NAME = "Ottoline Vasquez-Byrne"


def test_erase_is_enabled_only_by_typing_the_name(browser_page, console_server, group, screenshot):
    with console_server.db.session() as s:
        member = add_member(s, group.name, "+12025550147", NAME)
    page = browser_page
    page.goto(console_server.url(f"/console/members/{member.id}"))
    button = page.get_by_role("button", name="Erase this member")
    box = page.get_by_label(re.compile("To erase, type"))
    expect(button).to_be_disabled()
    box.fill("Ottoline")  # the first name is not enough
    expect(button).to_be_disabled()
    box.fill(NAME)
    expect(button).to_be_enabled()
    screenshot(page, "member-erase")
    button.click()
    page.wait_for_url(console_server.url(f"/console/members/{member.id}"))
    expect(page.get_by_text(f"this member is now Erased member #{member.id}")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(f"Erased member #{member.id}"))
    expect(page.get_by_role("button", name="Erase this member")).to_have_count(0)
    with console_server.db.session() as s:
        assert s.get(Member, member.id).phone is None
        assert s.scalar(select(AuditEvent.member_id).where(AuditEvent.action == "member_erased")) == member.id

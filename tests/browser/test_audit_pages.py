"""The audit log pages back through every row (Older / Newer, by row id, so a page stays put while rows are
added), and a change to a group says what changed, field by field, old -> new."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.test_accessibility import AXE, _axe


def test_a_group_change_says_what_changed_and_the_log_pages_back_to_the_first_row(
    browser_page, console_server, group, screenshot
):
    from checkin.accounts import audit

    with console_server.db.session() as s:
        for n in range(1, 231):  # 230 older rows: three pages of 100
            audit(s, "cli", None, detail=f"row {n:03d}")
        s.commit()
    page = browser_page
    page.add_init_script(path=str(AXE))  # axe-core in every page it opens, as test_accessibility
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    details = page.locator("form", has=page.get_by_role("button", name="Save group"))
    details.get_by_label("Name").fill("Evening Group")
    details.get_by_label("Time zone").fill("chicago")
    details.get_by_role("button", name="Save group").click()
    expect(page.get_by_text("Group saved.")).to_be_visible()
    page.get_by_role("link", name="Audit", exact=True).click()

    newest = page.locator("#audit li").first
    expect(newest).to_contain_text(
        "changed a setting for Evening Group: name: Tuesday Group → Evening Group; time zone: New York → Chicago"
    )
    expect(page.locator("#audit > li")).to_have_count(100)
    expect(page.get_by_role("link", name="Newer")).to_have_count(0)  # the newest page
    screenshot(page, "audit-group-change")
    assert _axe(page) == []  # the new parts pass WCAG 2.1 A/AA too

    top = page.get_by_role("navigation", name="Audit log pages", exact=True)
    top.get_by_role("link", name="Older").click()
    expect(page.locator("#audit > li").first).to_contain_text("row ")
    second_first = page.locator("#audit > li .sentence").first.inner_text()
    top.get_by_role("link", name="Older").click()
    # the oldest page ends with the first rows ever: row 001, and the sign-in before it
    expect(page.locator("#audit > li").last).to_contain_text("signed in")
    expect(page.locator("#audit > li", has_text="row 001")).to_have_count(1)
    expect(top.get_by_role("link", name="Older")).to_have_count(0)
    top.get_by_role("link", name="Newer").click()
    expect(page.locator("#audit > li .sentence").first).to_have_text(second_first)  # the page it came from
    top.get_by_role("link", name="Newest").click()
    expect(page.locator("#audit > li").first).to_contain_text("Evening Group")


def test_a_new_group_row_says_its_name_and_zone_and_the_log_filters_by_group_and_kind(
    browser_page, console_server, member, screenshot
):
    """A coordinator narrows the log to one group, then to one kind of row, with a form (GET: the
    filters are in the address and the pager keeps them); a group's first row says what it was made as."""
    from checkin.accounts import audit

    page = browser_page
    page.add_init_script(path=str(AXE))
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Name").fill("Thursday Circle")
    form.get_by_label("Time zone").fill("Chicago")
    form.get_by_role("button", name="Create group").click()
    page.wait_for_url("**/console/groups/*")
    with console_server.db.session() as s:
        audit(s, "view_member", None, member_id=member.id)  # the Tuesday Group's member
        audit(s, "cli", None, detail="row about nothing")
        s.commit()

    page.goto(console_server.url("/console/audit"))
    created = page.locator("#audit > li", has_text="created Thursday Circle")
    expect(created).to_contain_text(
        "created Thursday Circle: name: Thursday Circle; time zone: Chicago; number: none"
    )

    page.get_by_label("Group").select_option(label="Thursday Circle")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/console/audit\?group=\d+"))
    expect(page.locator("#audit-filtered")).to_have_text("Showing only rows about Thursday Circle.")
    expect(page.locator("#audit > li")).to_have_count(1)
    expect(page.locator("#audit > li").first).to_contain_text("created Thursday Circle")
    expect(page.get_by_label("Group")).to_have_value(re.compile(r"\d+"))  # the form shows what is applied

    page.get_by_label("Group").select_option(label="Tuesday Group")
    page.get_by_label("What happened").select_option(label="Reads of a member's record")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#audit-filtered")).to_have_text(
        "Showing only reads of a member's record about Tuesday Group."
    )
    expect(page.locator("#audit > li")).to_have_count(1)
    expect(page.locator("#audit > li").first).to_contain_text("opened Sam Rivera's page")
    screenshot(page, "audit-filtered")
    assert _axe(page) == []

    page.get_by_label("What happened").select_option(label="Announcements")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#audit > li")).to_have_text(["Nothing matches these filters."])
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator("#audit > li", has_text="row about nothing")).to_have_count(1)

    refused = page.goto(console_server.url("/console/audit?kind=everything"))
    assert refused.status == 400
    expect(page.locator("body")).to_contain_text("kind: 'everything' is not a kind of row")


def test_every_audit_action_is_in_one_kind_of_the_filter():
    from checkin.accounts.models import AUDIT_ACTIONS
    from webhooks.console.views_audit import KINDS
    from webhooks.console.words import AUDIT_VERBS

    filed = [action for _label, actions in KINDS.values() for action in actions]
    assert len(filed) == len(set(filed))  # no action in two kinds
    assert set(AUDIT_ACTIONS) | set(AUDIT_VERBS) <= set(filed)

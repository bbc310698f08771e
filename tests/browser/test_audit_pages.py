"""The audit log pages back through every row (Older / Newer, by row id, so a page stays put while rows are
added), and a change to a group says what changed, field by field, old -> new."""

from __future__ import annotations

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

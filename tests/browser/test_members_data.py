"""Who sees what, in a real browser: a facilitator of group A opening a member who is also in group B
sees nothing from B; numbers in the members list are masked until revealed on purpose (audited)."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from tests.console_helpers import CRISIS_TEXT

B_NUMBER = "+15005550009"
A_WORDS = "the tuesday walk helped me a lot"
B_WORDS = "at thursday group I told them about my sister"


def test_a_facilitator_of_group_a_sees_nothing_from_group_b(
    anonymous_page, console_server, group, screenshot
):
    from checkin.directory import add_group, add_member
    from checkin.models import GroupMember
    from tests.conftest import FROM_NUMBER, TwilioWebhook
    from webhooks import create_app

    with console_server.db.session() as s:
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
        b = add_group(s, "Thursday Group", "America/Chicago", B_NUMBER)
        s.add(GroupMember(group_id=b.id, member_id=sam.id))
    webhook = TwilioWebhook(
        create_app(runtime=console_server.runtime).test_client(), console_server.runtime.settings
    )
    assert webhook.sms(sam.phone, A_WORDS, to=FROM_NUMBER).status_code == 200
    assert webhook.sms(sam.phone, B_WORDS, to=B_NUMBER).status_code == 200
    assert webhook.sms(sam.phone, CRISIS_TEXT, to=B_NUMBER).status_code == 200

    page = anonymous_page
    console_server.sign_in(page, console_server.facilitator_email)  # Frankie: group A only
    page.goto(console_server.url(f"/console/members/{sam.id}"))
    expect(page.get_by_role("heading", name="Sam Rivera")).to_be_visible()
    expect(page.get_by_text(A_WORDS)).to_be_visible()
    expect(page.get_by_text(B_WORDS)).to_have_count(0)
    expect(page.get_by_text(CRISIS_TEXT)).to_have_count(0)
    expect(page.get_by_text("Thursday Group")).to_have_count(0)
    screenshot(page, "member-facilitator-group-a")

    # The members list: the number masked, shown on purpose, and that is on record.
    page.goto(console_server.url("/console/members"))
    row = page.get_by_role("row").filter(has_text="Sam Rivera")
    expect(row.get_by_text("••• ••• 0101")).to_be_visible()
    expect(page.get_by_text(sam.phone)).to_have_count(0)
    row.get_by_role("button", name="Show number of Sam Rivera").click()
    expect(page.get_by_role("link", name=sam.phone)).to_be_visible()
    screenshot(page, "members-number-revealed")
    with console_server.db.session() as s:
        actions = [(e.action, e.member_id) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert ("view_messages", sam.id) in actions and ("reveal_phone", sam.id) in actions

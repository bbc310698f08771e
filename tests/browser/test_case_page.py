"""A case's page reads in a coordinator's words: one reason why, in English for an English text, said once;
one timeline line per alert, no engine jargon; and a way to text the member back."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from checkin.escalation.models import Escalation
from checkin.models import OutboxItem
from tests.browser.plain_words import assert_plain_words

PILLS = "i took all my pills"


def test_the_case_page_says_why_once_in_plain_words_and_offers_a_reply(
    browser_page, console_server, group, screenshot
):
    from checkin.directory import add_member
    from tests.conftest import FROM_NUMBER, TwilioWebhook, deliver_item
    from webhooks import create_app

    runtime = console_server.runtime
    with console_server.db.session() as s:
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
    webhook = TwilioWebhook(create_app(runtime=runtime).test_client(), runtime.settings)
    assert webhook.sms(sam.phone, PILLS, to=FROM_NUMBER).status_code == 200
    with console_server.db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == sam.id))
        alerts = s.scalars(select(OutboxItem.id).where(OutboxItem.staff_id.is_not(None))).all()
    assert alerts
    for item_id in alerts:  # the alerts go out, as the worker sends them
        deliver_item(runtime, item_id)

    page = browser_page
    page.goto(console_server.url(f"/console/escalations/{esc.id}"))
    said = page.locator("#said figcaption small").first
    why = said.inner_text()
    assert "overdose" in why or "pills" in why or "medication" in why, why
    assert ";" not in why, why  # one reason, not six run together
    for spanish in ("sobredosis", "medio en mano", "veneno"):
        assert spanish not in why, why  # an English text, an English reason
    timeline = page.locator("ol.timeline").last  # the case's own (the first is the latest messages)
    expect(timeline).to_contain_text("Alert sent to Frankie Facilitator")
    expect(timeline).not_to_contain_text("Alert sent out")  # one line per alert
    expect(timeline).not_to_contain_text("tier, round")
    expect(timeline).not_to_contain_text("(s)")
    expect(timeline).to_contain_text("paged as the facilitator on call")
    assert "overdose" not in timeline.inner_text()  # the why is said once, above
    screenshot(page, "case-page-plain")

    page.get_by_role("link", name="Text Sam from the group's number").click()
    expect(page.get_by_label("Your reply")).to_be_visible()  # the member's conversation, its reply box


def test_an_open_crisis_case_says_what_to_do_now_and_the_members_language(
    browser_page, console_server, group, screenshot
):
    from checkin.directory import add_member
    from tests.conftest import FROM_NUMBER, TwilioWebhook
    from webhooks import create_app

    runtime = console_server.runtime
    with console_server.db.session() as s:
        rosa = add_member(s, group.name, "+12025550102", "Rosa Medina", "es")
    webhook = TwilioWebhook(create_app(runtime=runtime).test_client(), runtime.settings)
    assert webhook.sms(rosa.phone, "me tomé todas las pastillas", to=FROM_NUMBER).status_code == 200
    with console_server.db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == rosa.id))

    page = browser_page
    page.goto(console_server.url(f"/console/escalations/{esc.id}"))
    steps = page.get_by_role("region", name="What to do now")
    expect(steps).to_contain_text("Call Rosa now: +12025550102 (Rosa speaks Spanish).")
    expect(steps).to_contain_text("If Rosa is in danger right now, call 911.")
    expect(steps).to_contain_text("Then write what happened in Resolution note and press Resolve.")
    expect(page.locator("dl.facts")).to_contain_text("speaks Spanish")
    screenshot(page, "case-next-steps")

    page.goto(console_server.url("/console/"))  # the crisis banner names her, not only the case number
    expect(page.locator("p.alarm").get_by_role("link", name=f"Rosa (#{esc.id})")).to_be_visible()
    page.get_by_role("link", name=f"Rosa (#{esc.id})").click()
    page.get_by_role("button", name="Acknowledge: I am on it").click()
    expect(page.get_by_role("region", name="What to do now")).not_to_contain_text("Press Acknowledge first")
    timeline = page.locator("ol.timeline").last
    expect(timeline).to_contain_text("Acknowledged by")
    expect(timeline).to_contain_text("on the website")
    assert_plain_words(page)  # no "cancelled 0 pending alert(s)", no "by the console"
    page.get_by_label("Resolution note").fill("Called her, she is safe with her sister.")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("region", name="What to do now")).to_have_count(0)  # done: no steps left

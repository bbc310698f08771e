"""The shared inbox in a real browser, at phone and desktop width: a member's free text appears live,
a facilitator takes it and replies from the group's number (console or `R 12 <text>`), and the delivery
the loopback Twilio reports shows in the open conversation, all without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from checkin import outbox
from checkin.models import OutboxItem
from tests.browser.conftest import DESKTOP, FACILITATOR, PHONE
from tests.conftest import FROM_NUMBER, TwilioWebhook
from tests.console_helpers import CRISIS_TEXT

FREE_TEXT = "I moved to a new apartment, same phone number"
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def webhook(console_server) -> TwilioWebhook:
    from webhooks import create_app

    return TwilioWebhook(
        create_app(runtime=console_server.runtime).test_client(), console_server.runtime.settings
    )


def add_sam(console_server, group):
    from checkin.directory import add_member

    with console_server.db.session() as s:
        return add_member(s, group.name, "+12025550101", "Sam Rivera")


def deliver_the_reply(console_server, fake_twilio, phone):
    """A worker sends the reply (with the status callback URL of the live app); returns what Twilio got."""
    rt = console_server.runtime
    with rt.db.session() as s:
        [item_id] = s.scalars(select(OutboxItem.id).where(OutboxItem.purpose == "reply")).all()
    outcome = outbox.deliver(
        rt.db,
        item_id,
        rt.port,
        status_callback_base=f"{console_server.base_url}/twilio/status",
        lease_seconds=120,
        rules=rt.rules,
    )
    assert outcome.state == "sent"
    return fake_twilio.wait_for(lambda: [m for m in fake_twilio.messages() if m["params"]["To"] == phone])[0]


def mark_page(page):
    page.evaluate("window.__notReloaded = true")


def not_reloaded(page) -> bool:
    return page.evaluate("window.__notReloaded === true")


@VIEWPORTS
def test_free_text_appears_live_is_taken_and_a_console_reply_shows_delivered(
    anonymous_page, console_server, group, fake_twilio, viewport, screenshot
):
    sam = add_sam(console_server, group)
    page = anonymous_page
    page.set_viewport_size(viewport)
    console_server.sign_in(page, console_server.facilitator_email)
    page.get_by_role("navigation").get_by_role("link", name="Inbox").click()
    expect(page.locator(f"#inbox-group-{group.id}")).to_contain_text("Nothing waiting.")
    mark_page(page)
    # The member texts the group's number, signed as Twilio would.
    assert webhook(console_server).sms(sam.phone, FREE_TEXT, to=FROM_NUMBER).status_code == 200
    row = page.locator(".inbox-list li").filter(has_text="Sam Rivera")
    expect(row).to_contain_text("waiting for someone")  # appeared by polling, no reload
    expect(row).to_contain_text(FREE_TEXT)
    expect(page).to_have_title(re.compile(r"^\(1\) Inbox"))
    expect(page.locator("#inbox-unread")).to_contain_text("1")
    assert not_reloaded(page)
    screenshot(page, f"inbox-waiting-{viewport['width']}")
    take = row.get_by_role("button", name="Take it")
    box = take.bounding_box()
    assert box["x"] + box["width"] <= viewport["width"]
    take.click()
    page.wait_for_url(re.compile(rf".*/console/members/{sam.id}/conversation.*"))
    expect(page.locator("#thread")).to_contain_text(FREE_TEXT)
    expect(page.locator("#live-state")).to_contain_text("taken by Frankie Facilitator")
    expect(page.get_by_text("speaks English").first).to_be_visible()
    page.get_by_label("Your reply").fill("Hi Sam, I will call you at 6.")
    expect(page.locator("#reply-segments")).to_contain_text("1 text message long")
    page.get_by_role("button", name="Send reply").click()
    expect(
        page.get_by_role("status").filter(has_text="Sent to Sam from Tuesday Group's number")
    ).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    mark_page(page)
    sent = deliver_the_reply(console_server, fake_twilio, sam.phone)
    assert sent["params"]["From"] == FROM_NUMBER and sent["params"]["Body"] == "Hi Sam, I will call you at 6."
    assert fake_twilio.send_status(sent["sid"], "delivered") == 204  # the signed status callback
    ours = page.locator("#thread li.out").filter(has_text="Hi Sam, I will call you at 6.")
    expect(ours).to_contain_text("delivered to the phone")
    expect(ours).to_contain_text("Frankie Facilitator")
    assert not_reloaded(page)
    screenshot(page, f"conversation-delivered-{viewport['width']}")


@VIEWPORTS
def test_a_reply_by_sms_command_shows_delivered_in_the_open_conversation(
    anonymous_page, console_server, group, fake_twilio, viewport
):
    sam = add_sam(console_server, group)
    hook = webhook(console_server)
    assert hook.sms(sam.phone, CRISIS_TEXT, to=FROM_NUMBER).status_code == 200
    from checkin.escalation.models import Escalation

    with console_server.db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == sam.id))
    page = anonymous_page
    page.set_viewport_size(viewport)
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url(f"/console/members/{sam.id}/conversation"))
    expect(page.locator("#thread")).to_contain_text(CRISIS_TEXT)
    mark_page(page)
    frankie_phone = FACILITATOR[3]
    assert hook.sms(frankie_phone, f"ACK {esc.id}").status_code == 200
    answer = hook.sms(frankie_phone, f"R {esc.id} Sam, I am calling you in five minutes")
    assert f"Sent to Sam (alert {esc.id}) from Tuesday Group" in answer.get_data(as_text=True)
    sent = deliver_the_reply(console_server, fake_twilio, sam.phone)
    assert sent["params"]["From"] == FROM_NUMBER
    assert fake_twilio.send_status(sent["sid"], "delivered") == 204
    ours = page.locator("#thread li.out").filter(has_text="Sam, I am calling you in five minutes")
    expect(ours).to_contain_text("delivered to the phone")
    expect(page.locator("#thread")).to_contain_text(
        f"Escalation #{esc.id} (crisis): taken by Frankie Facilitator"
    )
    assert not_reloaded(page)


def texted_then_opted_out(console_server, group):
    """Sam texts the group, then texts STOP: a conversation with a member nobody may text."""
    sam = add_sam(console_server, group)
    hook = webhook(console_server)
    assert hook.sms(sam.phone, FREE_TEXT, to=FROM_NUMBER).status_code == 200
    assert hook.sms(sam.phone, "STOP", to=FROM_NUMBER).status_code == 200
    return sam


def test_a_reply_to_an_opted_out_member_is_refused_with_the_reason(
    anonymous_page, console_server, group, fake_twilio
):
    sam = texted_then_opted_out(console_server, group)
    page = anonymous_page
    page.set_viewport_size(PHONE)
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url(f"/console/members/{sam.id}/conversation"))
    page.get_by_label("Your reply").fill("Are you ok?")
    page.get_by_role("button", name="Send reply").click()
    refusal = page.get_by_role("alert").filter(has_text="Not sent: Sam Rivera has opted out (texted STOP)")
    expect(refusal).to_be_visible()
    expect(page.get_by_label("Your reply")).to_have_value("Are you ok?")
    with console_server.db.session() as s:
        assert s.scalars(select(OutboxItem).where(OutboxItem.purpose == "reply")).all() == []


def test_another_groups_facilitator_gets_404(anonymous_page, console_server, group):
    from checkin.accounts.passwords import hash_password
    from checkin.directory import add_group, add_staff

    sam = add_sam(console_server, group)
    assert webhook(console_server).sms(sam.phone, FREE_TEXT, to=FROM_NUMBER).status_code == 200
    with console_server.db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
        add_staff(
            s,
            "Otto",
            "otto@example.org",
            "facilitator",
            None,
            ["Thursday Group"],
            password_hash=hash_password("otto-pass-12"),
        )
    console_server.password_by_email["otto@example.org"] = "otto-pass-12"
    page = anonymous_page
    console_server.sign_in(page, "otto@example.org")
    response = page.goto(console_server.url(f"/console/members/{sam.id}/conversation"))
    assert response.status == 404
    page.goto(console_server.url("/console/inbox"))
    expect(page.locator("h1")).to_have_text("Inbox")
    expect(page.locator("main")).not_to_contain_text("Sam Rivera")


def test_a_new_crisis_appears_on_the_open_home_page_without_reload(anonymous_page, console_server, group):
    sam = add_sam(console_server, group)
    page = anonymous_page
    page.set_viewport_size(PHONE)
    console_server.sign_in(page, console_server.facilitator_email)
    expect(page.get_by_text("No open escalations.")).to_be_visible()
    mark_page(page)
    assert webhook(console_server).sms(sam.phone, CRISIS_TEXT, to=FROM_NUMBER).status_code == 200
    expect(
        page.get_by_role("button", name=re.compile("Acknowledge: I am on it, escalation #\\d+, Sam Rivera"))
    ).to_be_visible()
    assert not_reloaded(page)


def test_after_a_refused_reply_a_reload_shows_the_conversation_and_it_keeps_updating(
    anonymous_page, console_server, group, fake_twilio
):
    sam = texted_then_opted_out(console_server, group)
    page = anonymous_page
    console_server.sign_in(page, console_server.facilitator_email)
    page.goto(console_server.url(f"/console/members/{sam.id}/conversation"))
    page.get_by_label("Your reply").fill("Are you ok?")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("alert").filter(has_text="Not sent")).to_be_visible()
    # The re-rendered page keeps live-updating: a new text from Sam shows without a reload.
    mark_page(page)
    assert webhook(console_server).sms(sam.phone, "I am fine, thanks", to=FROM_NUMBER).status_code == 200
    expect(page.locator("#thread")).to_contain_text("I am fine, thanks")
    assert not_reloaded(page)
    # Reloading the address the refusal left in the bar shows the conversation, not "Method Not Allowed".
    response = page.goto(page.url)
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sam Rivera")
    expect(page.locator("#thread")).to_contain_text("I am fine, thanks")

"""Plain words on every console page: as coordinator and facilitator, every page reachable without
parameters and one of each kind with them (a group with a schedule, its plan with a group text that
has a placeholder and the preview, a member, an escalation with rule reasons, the audit log with
rows) shows no RRULE, no config/ path, no {placeholder} and no rule id outside a closed toggle.
A few pages are read at phone width too."""

from __future__ import annotations

from datetime import time

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import PHONE
from tests.browser.plain_words import assert_plain_words, visible_text
from tests.console_helpers import CRISIS_TEXT


def _seed(console_server, group, member, spanish_member):
    """A fortnightly schedule, a group text with {name}, a crisis text with rule reasons (and two of the
    engine's own history rules beside them), and an on-call change in the audit log."""
    from checkin import schedules
    from checkin.accounts import audit
    from checkin.db import utcnow
    from checkin.escalation.models import AssessmentRecord, Escalation
    from checkin.models import StaffUser
    from tests.conftest import FROM_NUMBER, TwilioWebhook
    from webhooks import create_app

    with console_server.db.session() as s:
        schedules.set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            start_local=time(18, 30),
            duration_minutes=90,
            starts_on=utcnow().date(),
        )
        schedules.set_templates(
            s, group.id, {"en": {"prompt": "Hi {name}, how was {group}? Reply 1-5, or STOP to stop."}}
        )
    webhook = TwilioWebhook(
        create_app(runtime=console_server.runtime).test_client(), console_server.runtime.settings
    )
    assert webhook.sms(member.phone, CRISIS_TEXT, to=FROM_NUMBER).status_code == 200
    with console_server.db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == member.id))
        record = s.scalar(select(AssessmentRecord).where(AssessmentRecord.member_id == member.id))
        record.rules = [*record.rules, "history.two_lowest", "history.drop"]
        staff = {u.email: u.id for u in s.scalars(select(StaffUser))}
        audit(
            s,
            "on_call",
            staff[console_server.coordinator_email],
            detail=f"group:{group.id} staff:{staff[console_server.facilitator_email]} window:1 added: Tue 18:00-21:00",
        )
        return esc.id


def test_every_console_page_reads_in_plain_words(
    anonymous_page, console_server, group, member, spanish_member, screenshot
):
    esc_id = _seed(console_server, group, member, spanish_member)
    page = anonymous_page
    console_server.sign_in(page)
    pages = [
        "/console/",
        "/console/inbox",
        "/console/inbox/replies",
        "/console/members",
        "/console/members/new",
        "/console/members/import",
        f"/console/members/{member.id}",
        f"/console/members/{member.id}/edit",
        f"/console/members/{member.id}/conversation",
        f"/console/members/{spanish_member.id}",
        "/console/escalations",
        f"/console/escalations/{esc_id}",
        "/console/staff",
        "/console/audit",
        "/console/groups",
        f"/console/groups/{group.id}",
        f"/console/groups/{group.id}/plan",
        f"/console/groups/{group.id}/plan?day=1",
        f"/console/groups/{group.id}/announce",
        "/console/simulator",
        "/console/simulator/call",
    ]
    for path in pages:
        page.goto(console_server.url(path))
        expect(page.locator("h1").first).to_be_visible()
        assert_plain_words(page, f"coordinator {path}")

    # What the plain words say, where the ids used to be.
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    expect(page.locator("#schedule-words")).to_contain_text("every other Tuesday at 6:30 pm, New York time")
    page.get_by_text("The schedule as the calendar standard writes it").click()  # the raw rule, on request
    expect(page.get_by_text("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU")).to_be_visible()

    page.goto(console_server.url(f"/console/escalations/{esc_id}"))
    expect(page.locator("#said")).to_contain_text("more signs")  # one reason, the others on request
    page.locator("#said summary").first.click()
    expect(page.get_by_text("scored 1 of 5 twice in a row").first).to_be_visible()
    screenshot(page, "plain-escalation")

    page.goto(console_server.url("/console/audit"))
    expect(page.locator("#audit")).to_contain_text(
        f"Casey Coordinator changed Frankie's on-call times for {group.name}"
    )

    page.goto(console_server.url(f"/console/members/{spanish_member.id}"))
    expect(page.get_by_text("Spanish / Español")).to_be_visible()

    # The plan page: chips insert a placeholder, the example follows with sample values.
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    prompt = page.locator("#t-en-prompt")
    expect(page.locator("#e-en-prompt")).to_have_text(
        "Hi Maximiliano, how was Tuesday Evening Peer Support? Reply 1-5, or STOP to stop."
    )
    prompt.fill("Hello ")
    page.get_by_role("group", name="Insert into Check-in prompt").get_by_role(
        "button", name="Member's first name"
    ).click()
    expect(prompt).to_have_value("Hello {name}")
    expect(page.locator("#e-en-prompt")).to_have_text("Hello Maximiliano")
    expect(page.locator("#c-en-prompt")).to_contain_text("1 text message long")
    assert_plain_words(page, "plan page after typing")

    # The preview, a day at a time, is readable on a phone.
    page.set_viewport_size(PHONE)
    for path in (
        f"/console/groups/{group.id}/plan#preview",
        f"/console/escalations/{esc_id}",
        "/console/audit",
    ):
        page.goto(console_server.url(path))
        expect(page.locator("h1").first).to_be_visible()
        assert_plain_words(page, f"phone {path}")
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    page.get_by_role("link", name="Next day").click()
    expect(page.locator("#preview-day")).to_contain_text("(tomorrow)")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the plan page scrolls sideways on a phone ({width}px)"
    screenshot(page, "plain-preview")

    # The facilitator's view of the same pages.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.clear_cookies()
    console_server.sign_in(page, console_server.facilitator_email)
    for path in (
        "/console/",
        "/console/inbox",
        "/console/members",
        f"/console/members/{member.id}",
        "/console/escalations",
        f"/console/escalations/{esc_id}",
        "/console/staff",
        "/console/groups",
        f"/console/groups/{group.id}",
        f"/console/groups/{group.id}/plan",
        "/console/simulator",
    ):
        page.goto(console_server.url(path))
        expect(page.locator("h1").first).to_be_visible()
        assert_plain_words(page, f"facilitator {path}")


def test_the_search_sees_what_a_person_sees(anonymous_page, console_server):
    """The helper reads closed toggles' summaries but not their contents, nor form fields' values."""
    page = anonymous_page
    page.set_content(
        "<main><p>Meets every Tuesday</p><details><summary>Rule ids</summary><code>si.kill_self</code></details>"
        "<textarea>Hi {name}</textarea><input value='FREQ=WEEKLY'><p hidden>config/plan.toml</p></main>"
    )
    assert_plain_words(page)
    page.set_content(
        "<p>Defaults in config/plan.toml; RRULE: FREQ=WEEKLY; Hi {name}; matched si.kill_self</p>"
    )
    text = visible_text(page)
    from tests.browser.plain_words import engineering_words

    assert [w.split(" '")[0] for w in engineering_words(text)] == [
        "RRULE",
        "RRULE",
        "config path",
        "placeholder",
        "rule id",
    ]

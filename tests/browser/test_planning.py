"""The planning pages in a real browser: build a schedule and see its preview, the live SMS counter,
the simulator's crisis text and alert, and the calendar feed URL."""

from __future__ import annotations

import re
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from checkin.db import utcnow
from checkin.schedules import load_config, set_schedule
from checkin.schedules.plan import sample_values
from checkin.templates import segments

# The file's Spanish reminder: 12-hour clock, the full weekday and month ("martes 8 de diciembre, 6:30 p. m."),
# or "hoy"/"mañana" as the English says today/tomorrow ("mañana, 8 de diciembre, 6:30 p. m.").
SPANISH_REMINDER = re.compile(
    r"Tuesday Group: (?:[a-záé]+|hoy,|mañana,) \d{1,2} de [a-z]+, \d{1,2}:\d\d [ap]\. m\., en 12 Main St\."
)

CRISIS_TEXT = "I am going to kill myself tonight"


def whole_preview(page, console_server, group) -> str:
    """The preview's text over all its days (it shows one day a page)."""
    text = []
    for n in range(14):
        page.goto(console_server.url(f"/console/groups/{group.id}/plan?day={n}#preview"))
        expect(page.locator("#preview-day")).to_be_visible()
        text.append(page.locator("#preview").inner_text())
    return "\n".join(text)


@pytest.fixture
def page(browser_page, member, spanish_member):
    """The coordinator's page, with two members (en, es) in the console server's group."""
    return browser_page


def test_build_a_weekly_schedule_and_see_its_preview(page, console_server, group, screenshot):
    page.goto(console_server.url("/console/groups"))
    screenshot(page, "planning-groups")
    page.get_by_role("link", name="Tuesday Group").click()
    expect(page.get_by_role("heading", name="Tuesday Group")).to_be_visible()
    # "Which week of the month" only shows for monthly schedules.
    expect(page.get_by_label("Which week of the month")).to_be_hidden()  # (waits for the page's script)
    page.get_by_label("Repeats").select_option(
        label="Once a month, on a given weekday (the 2nd Tuesday, say)"
    )
    expect(page.get_by_label("Which week of the month")).to_be_visible()
    page.get_by_label("Repeats").select_option(label="Every week")
    tomorrow = (utcnow().astimezone(ZoneInfo(group.timezone)) + timedelta(days=1)).date()
    page.get_by_label("Day").select_option(label=tomorrow.strftime("%A"))
    page.get_by_label("Time (New York time)").fill("18:30")
    page.get_by_label("First meeting on or after").fill(tomorrow.isoformat())
    page.get_by_label("Address (optional)").fill("12 Main St")
    page.get_by_role("button", name="Save schedule").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Schedule saved: meets every {tomorrow:%A} at 6:30 pm, New York time"
    )
    meetings = page.locator("#meetings li")
    assert meetings.count() >= 8  # (the saved page is loaded: its status is showing)
    assert meetings.first.inner_text().startswith(
        f"{tomorrow:%a, %b} {tomorrow.day}, {tomorrow.year}, 6:30 pm"
    )
    screenshot(page, "planning-group")

    # Cancelling a meeting texts members, so the page asks first; saying no changes nothing.
    first = meetings.first
    first.get_by_text("Cancel or move").click()
    page.once("dialog", lambda dialog: dialog.dismiss())
    first.get_by_role("button", name="Cancel this meeting").click()
    assert "cancelled" not in first.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name="Cancel this meeting").click()
    # The page before had a status too ("Schedule saved"): wait for the new one.
    expect(page.get_by_role("status")).to_contain_text("Meeting cancelled")
    expect(page.locator("#meetings li").first).to_contain_text("cancelled")

    page.get_by_role("link", name="Reminder plan, texts and preview").click()
    expect(page.locator("#preview")).to_be_visible()
    screenshot(page, "planning-plan")
    preview = whole_preview(page, console_server, group)
    assert "Sam Rivera" in preview and "Rosa Medina" in preview
    # The day-before reminder for tomorrow's meeting, in each member's language.
    assert "Reminder: Tuesday Group meets tomorrow" in preview
    assert SPANISH_REMINDER.search(preview)
    assert "How are you doing this week?" in preview

    # Change the plan: a single 3-hour reminder. The preview follows.
    page.get_by_label("Reminders before each meeting (hours, separated by commas)").fill("3")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_role("status")).to_contain_text("Plan saved")
    preview = whole_preview(page, console_server, group)
    assert "Reminder: Tuesday Group meets today" in preview and "meets tomorrow" not in preview


def test_template_counter_counts_characters_and_segments_like_the_server(page, console_server, group):
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    field = page.get_by_label("Meeting reminder").first
    counter = page.locator("#c-en-reminder")
    field.fill("a" * 160)
    expect(counter).to_have_text("1 text message long · 160 characters")
    field.fill("a" * 161)
    expect(counter).to_have_text("2 text messages long · 161 characters")
    field.fill("a" * 307)
    expect(counter).to_have_text("3 text messages long · 307 characters · over the limit of 2 text messages")
    # Placeholders count as sent, with the server's sample values: "Hola Tuesday Evening Peer Support 😊".
    field.fill("Hola {group} 😊")
    expect(counter).to_have_text(
        "1 text message long · 36 characters · this text uses “😊”, which makes each text hold 70 characters instead of 160"
    )
    # A reminder cannot name the member: {name} stays as typed in the count and the example (saving
    # refuses it, naming it), never "Hola Maximiliano" as if it worked.
    field.fill("Hola {name} 😊")
    expect(counter).to_have_text(
        "1 text message long · 14 characters · this text uses “😊”, which makes each text hold 70 characters instead of 160"
    )
    expect(page.locator("#e-en-reminder")).to_have_text("Hola {name} 😊")
    # The page's counter and checkin.templates.segments agree on the edges of both encodings.
    samples = [
        "",
        "a" * 160,
        "a" * 161,
        "a" * 306,
        "a" * 307,
        "{}" * 80,
        "[x]" * 40 + "€",
        "ñandú " * 12,
        "é" * 70,
        "ç" * 71,
        "😊" * 35,
        "😊" * 36,
        "Recordatorio: mañana a las 18:30",
        "¿Cómo te va?",
    ]
    for text in samples:
        got = page.evaluate("t => window.checkinSegments(t)", text)
        encoding, chars, count = segments(text)
        assert (got["encoding"], got["units"], got["segments"]) == (encoding, chars, count if text else 0), (
            text
        )
    # And fill placeholders as str.format does, for every shipped text.
    config = load_config()
    for lang, table in config.templates.items():
        values = sample_values(config, lang, group.name)[0]
        for template in [*table.values(), "{{literal}} {group}"]:
            assert page.evaluate(
                "([t, v]) => window.checkinRender(t, v)", [template, values]
            ) == template.format(**values)


def test_edit_the_english_reminder_watch_the_counter_and_see_it_in_the_preview(
    page, console_server, group, screenshot
):
    tomorrow = (utcnow().astimezone(ZoneInfo(group.timezone)) + timedelta(days=1)).date()
    with console_server.db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY",
            start_local=time(18, 30),
            duration_minutes=90,
            location="12 Main St",
            starts_on=tomorrow,
        )
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    field = page.get_by_label("Meeting reminder").first
    counter = page.locator("#c-en-reminder")
    config = load_config()
    shipped = config.templates["en"]["reminder"].format(**sample_values(config, "en", group.name)[0])
    _, chars, count = segments(shipped)
    expect(counter).to_have_text(f"{count} text message{'s' if count != 1 else ''} long · {chars} characters")
    # As the coordinator types, the counter follows (placeholders as sent: "Hi Tuesday Evening Peer Support").
    field.fill("Hi {group}")
    expect(counter).to_have_text("1 text message long · 31 characters")
    field.press_sequentially(", see you {when}{date}")
    expect(counter).to_have_text("1 text message long · 62 characters")
    field.press_sequentially(" at {time}{where}. Reply 1 if you come, 2 if not.")
    expect(counter).to_have_text("2 text messages long · 174 characters")
    screenshot(page, "planning-texts-editing")
    # A text that does not say how to stop is refused at its box, with what to add, the typing kept.
    page.get_by_role("button", name="Save texts").click()
    expect(page.locator("#t-en-reminder-error")).to_have_text(
        "English meeting reminder: must say how to stop the texts: add “Reply STOP to stop.”"
    )
    expect(page.locator("#t-en-reminder")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#t-en-reminder")).to_have_css("border-top-color", "rgb(176, 0, 32)")
    field = page.locator("#t-en-reminder")
    field.press("End")
    field.press_sequentially(" Reply STOP to stop.")
    page.get_by_role("button", name="Save texts").click()
    expect(page.get_by_role("status")).to_contain_text("Texts saved")
    expect(page.get_by_text("changed from the default")).to_be_visible()
    screenshot(page, "planning-texts-saved")
    preview = whole_preview(page, console_server, group)
    assert "Hi Tuesday Group, see you tomorrow, " in preview
    assert "at 6:30 pm, at 12 Main St. Reply 1 if you come, 2 if not. Reply STOP to stop." in preview
    assert SPANISH_REMINDER.search(preview)  # Rosa's is the file's still
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    # A mistake comes back in words, with the typing kept and the box marked; the saved text stands.
    field = page.get_by_label("Meeting reminder").first
    field.fill("Hi {nombre}, see you {date}")
    page.get_by_role("button", name="Save texts").click()
    expect(page.locator("#t-en-reminder-error")).to_contain_text(  # next to its box
        "English meeting reminder: {nombre} is not something we can fill in; use the buttons: Meeting date"
    )
    expect(page.locator("#t-en-reminder")).to_have_value("Hi {nombre}, see you {date}")
    expect(page.locator("#t-en-reminder")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "planning-texts-error")
    assert "Hi Tuesday Group, see you tomorrow, " in whole_preview(page, console_server, group)


def test_simulator_crisis_text_shows_the_reply_and_the_alert(page, console_server, group, member, screenshot):
    page.goto(console_server.url("/console/simulator"))
    assert "Nothing here is sent or kept" in page.locator("main").inner_text()
    page.get_by_label("Text as").select_option(label="Sam Rivera")
    page.get_by_label("Message").fill(CRISIS_TEXT)
    page.get_by_role("button", name="Send").click()
    # The page before has an (empty) thread too: wait for the answer's.
    thread = page.locator(".thread")
    expect(thread).to_contain_text(CRISIS_TEXT)
    expect(thread).to_contain_text("A facilitator is being told")
    expect(thread).to_contain_text("988")
    alerts = page.locator(".alerts")
    expect(alerts).to_contain_text("crisis")
    expect(alerts).to_contain_text("Frankie Facilitator")
    expect(alerts).to_contain_text("(crisis): Sam, Tuesday Group")
    screenshot(page, "planning-simulator")
    # The conversation continues with the same member selected.
    page.get_by_label("Message").fill("HELP")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".thread .bubble.mine")).to_have_count(2)
    expect(thread).to_contain_text("Reply STOP to stop")


def test_calendar_address_is_shown_and_serves_the_feed(page, console_server, group):
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    url = page.get_by_label("Calendar address").input_value()
    assert url.startswith(console_server.url("/console/calendar/")) and url.endswith(".ics")
    response = page.request.get(url)
    assert response.status == 200 and response.headers["content-type"].startswith("text/calendar")
    assert response.text().startswith("BEGIN:VCALENDAR")


def test_simulator_call_presses_keys_and_a_crisis_said_shows_the_alert(
    page, console_server, group, member, screenshot
):
    from sqlalchemy import func, select

    from checkin.models import Message, OutboxItem
    from checkin.voice.models import VoiceCall

    def rows():
        with console_server.db.session() as s:
            return [s.scalar(select(func.count()).select_from(t)) for t in (VoiceCall, Message, OutboxItem)]

    before = rows()
    page.goto(console_server.url("/console/simulator"))
    page.get_by_role("navigation", name="Simulator mode").get_by_role("link", name="Call").click()
    page.get_by_label("Call as").select_option(label="Sam Rivera")
    page.get_by_role("button", name="Call", exact=True).click()
    thread = page.locator(".thread")
    expect(thread).to_contain_text("Hi Sam. This is Checkin for Tuesday Group.")
    # A key on the computer's keyboard presses the same key on the phone's keypad (once the page's script has run).
    page.wait_for_load_state("load")
    page.keyboard.press("2")
    expect(thread).to_contain_text("Pressed 2")
    expect(thread).to_contain_text("There is no meeting on the calendar right now.")
    page.get_by_role("button", name="Press 1", exact=True).click()
    expect(thread).to_contain_text("On a scale of 1 to 5")
    screenshot(page, "planning-simulator-keypad")
    page.get_by_label("Say (the caller's words)").fill(f"2 {CRISIS_TEXT}")
    page.get_by_role("button", name="Say it").click()
    # Help now: 911 first, then the crisis line is offered; 3 asks for a facilitator instead.
    expect(thread).to_contain_text("If you are in danger now, hang up and call 9 1 1.")
    expect(thread).to_contain_text("To talk with someone at the 9 8 8 crisis line now")
    page.get_by_role("button", name="Press 3", exact=True).click()
    expect(thread).to_contain_text("Rings Frankie Facilitator for up to 20 s (not placed here: no answer).")
    expect(thread).to_contain_text("The call ends.")
    alerts = page.locator(".alerts")
    expect(alerts).to_contain_text("crisis")
    expect(alerts).to_contain_text("Frankie Facilitator")
    expect(alerts).to_contain_text("(crisis): Sam, Tuesday Group")
    expect(page.get_by_role("button", name="Press 1", exact=True)).to_have_count(0)  # the call is over
    screenshot(page, "planning-simulator-call")
    assert rows() == before

"""A refused form in a real browser: every mistake at once, each next to its field and marked invalid for a
screen reader, a summary at the top that takes the focus, sentences a person reads (no "phone:" prefixes);
and the address a refused form leaves in the bar still works when the page is reloaded."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_accessibility import AXE, _axe


def _with_axe(page):
    """axe-core in every page this one opens (as test_accessibility loads it: an init script, which
    the console's Content-Security-Policy allows)."""
    page.add_init_script(path=str(AXE))
    return page


def _no_axe_violations(page):
    """The refused form as a screen reader meets it: WCAG 2.1 A/AA, as every console page is checked."""
    assert _axe(page) == []


def _problems(page):
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    return summary


def test_the_group_form_shows_every_mistake_at_its_field_and_focuses_the_summary(
    browser_page, console_server
):
    page = browser_page
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Name").fill("   ")
    form.get_by_label("Time zone").fill("Mars Base")
    form.get_by_label("Group phone number").fill("555-01")
    form.get_by_role("button", name="Create group").click()

    summary = _problems(page)
    expect(summary).to_contain_text("There are 3 problems to fix")
    expect(page.locator(":focus")).to_have_id("error-summary")  # not the page's body
    for field in ("name", "timezone", "phone_number"):
        box = page.locator(f"#{field}")
        expect(box).to_have_attribute("aria-invalid", "true")
        # marked red like every refused box (a text box's own grey border once won over the red)
        expect(box).to_have_css("border-top-color", "rgb(176, 0, 32)")
        described = box.get_attribute("aria-describedby").split()
        message = page.locator(f"#{described[0]}")
        expect(message).to_be_visible()
        # next to its field: the message is just above the box, not far up the page
        gap = box.bounding_box()["y"] - message.bounding_box()["y"]
        assert 0 < gap < 80, (field, gap)
        text = message.inner_text()
        assert text.lstrip("'\"“")[0].isupper() and not text.lower().startswith(
            ("phone:", "name:", "time zone:")
        ), text
    expect(page.locator("#name-error")).to_have_text("The name can't be only spaces: type the group's name.")
    expect(page.locator("#timezone-error")).to_contain_text("'Mars Base' is not a time zone we know")
    expect(page.locator("#phone_number-error")).to_contain_text("That phone number looks too short")
    # each line of the summary leads to its field
    summary.get_by_role("link", name="That phone number looks too short", exact=False).click()
    expect(page.locator(":focus")).to_have_id("phone_number")


def test_an_abbreviated_time_zone_is_refused_naming_the_iana_zone(browser_page, console_server):
    """ "ACT" is the last part of an IANA alias (Australia/ACT): taken as a city it once made an Australian
    group of a typo. Refused at its field with the IANA name to type; nothing is created."""
    from sqlalchemy import select

    from checkin.models import Group

    page = _with_axe(browser_page)
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Name").fill("Canberra Evening")
    form.get_by_label("Time zone").fill("ACT")
    form.get_by_role("button", name="Create group").click()
    _problems(page)
    error = page.locator("#timezone-error")
    expect(error).to_contain_text("'ACT' is an abbreviation or an old alias, not a place")
    expect(error).to_contain_text("type the IANA name Australia/Sydney")
    expect(error).to_contain_text("America/New_York")
    expect(page.locator("#timezone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#timezone")).to_have_value("ACT")
    _no_axe_violations(page)
    with console_server.db.session() as session:
        assert session.scalar(select(Group).where(Group.name == "Canberra Evening")) is None

    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Time zone").fill("Australia/ACT")  # the alias in full: the zone it stands for
    form.get_by_role("button", name="Create group").click()
    page.wait_for_url("**/console/groups/*")
    with console_server.db.session() as session:
        made = session.scalar(select(Group).where(Group.name == "Canberra Evening"))
        assert made.timezone == "Australia/Sydney"


def test_an_emptied_time_zone_is_not_refilled_with_new_york(browser_page, console_server, screenshot):
    page = browser_page
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    expect(form.get_by_label("Time zone")).to_have_value("New York")  # the suggestion on a new form
    form.get_by_label("Name").fill("Evening")
    form.get_by_label("Time zone").fill("")
    # `required` would stop the browser from sending it: as a browser that does not check it would
    page.eval_on_selector("#timezone", "el => el.removeAttribute('required')")
    form.get_by_role("button", name="Create group").click()
    expect(page.locator("#timezone-error")).to_be_visible()
    expect(page.get_by_label("Time zone")).to_have_value("")  # as typed, as its error asks for a city
    screenshot(page, "newgroup-empty-zone")


def test_the_member_form_shows_every_mistake_and_a_spaces_only_name_is_named(
    browser_page, console_server, group
):
    page = browser_page
    page.goto(console_server.url("/console/members/new"))
    page.get_by_label("Phone number").fill("12ab")
    page.get_by_label("Name (first name or alias is enough)").fill("   ")
    page.get_by_label("Time zone (leave empty for the group's)").fill("EST")
    page.get_by_role("button", name="Add member").click()

    summary = _problems(page)
    expect(summary).to_contain_text("There are 3 problems to fix")
    expect(page.locator(":focus")).to_have_id("error-summary")
    expect(page.locator("#name-error")).to_have_text(
        "The name can't be only spaces: type the member's first name or alias."
    )
    expect(page.locator("#phone-error")).to_contain_text("Only digits, spaces and + - ( ) . belong")
    expect(page.locator("#timezone-error")).to_contain_text("ambiguous")
    for field in ("phone", "name", "timezone"):
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone")).to_have_attribute("aria-describedby", "phone-error phone-help")
    expect(page.locator("#consent_source")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone")).to_have_value("12ab")  # what was typed is kept


def test_the_invite_form_shows_every_mistake_at_once(browser_page, console_server):
    page = browser_page
    page.goto(console_server.url("/console/staff"))
    form = page.locator("form", has=page.get_by_role("button", name="Invite"))
    form.get_by_label("Name").fill(" ")
    form.get_by_label("Email").fill("robin-at-example")
    form.get_by_label("Phone for alerts (facilitators)").fill("555 0188")
    form.get_by_role("button", name="Invite").click()

    expect(_problems(page)).to_contain_text("There are 3 problems to fix")
    expect(page.locator(":focus")).to_have_id("error-summary")
    for field in ("s-name", "s-email", "s-phone"):
        expect(page.locator(f"#{field}")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#s-name-error")).to_contain_text("can't be only spaces")


def test_the_add_button_sits_below_the_consent_date_not_beside_it(browser_page, console_server, group):
    page = browser_page
    page.goto(console_server.url("/console/members/new"))
    date_box = page.get_by_label("When they agreed").bounding_box()
    button = page.get_by_role("button", name="Add member").bounding_box()
    assert button["y"] >= date_box["y"] + date_box["height"], (date_box, button)


def _next_to_its_field(page, field: str, words: str):
    """The sentence sits just above its box, and the box is marked invalid and described by it."""
    box, message = page.locator(f"#{field}"), page.locator(f"#{field}-error")
    expect(message).to_contain_text(words)
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_attribute("aria-describedby", f"{field}-error")
    gap = box.bounding_box()["y"] - message.bounding_box()["y"]
    assert 0 < gap < 80, (field, gap)


def test_the_schedule_form_shows_every_mistake_at_its_field_and_a_reload_keeps_them(
    browser_page, console_server, group, screenshot
):
    page = _with_axe(browser_page)
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    page.locator("#duration").fill("2")
    page.locator("#starts_on").fill("")
    page.locator("#time").fill("")
    page.locator("#location").fill("Community Hall, Room 4")
    page.get_by_role("button", name="Save schedule").click()

    summary = _problems(page)
    expect(summary).to_contain_text("There are 3 problems to fix")
    expect(page.locator(":focus")).to_have_id("error-summary")
    expect(summary.locator("li")).to_have_text(
        ["Choose a time of day", "A whole number from 5 to 1440", "Choose a date"]  # in the page's order
    )
    _next_to_its_field(page, "time", "Choose a time of day")
    _next_to_its_field(page, "duration", "A whole number from 5 to 1440")
    _next_to_its_field(page, "starts_on", "Choose a date")
    expect(page.locator("#location")).to_have_value("Community Hall, Room 4")  # kept as typed
    _no_axe_violations(page)
    screenshot(page, "refused-schedule")
    # The refusal is the POST's own page (no redirect): a reload sends the same form again.
    assert page.url.endswith(f"/console/groups/{group.id}/schedule#schedule"), page.url
    with page.expect_response(lambda r: r.url.split("#")[0].endswith("/schedule")) as reload:
        page.reload()
    assert (reload.value.request.method, reload.value.status) == ("POST", 400)
    expect(page.locator("#duration")).to_have_value("2")
    expect(page.locator("#location")).to_have_value("Community Hall, Room 4")
    expect(_problems(page)).to_contain_text("There are 3 problems to fix")


def test_the_plan_form_shows_every_mistake_at_its_field(browser_page, console_server, group, screenshot):
    page = _with_axe(browser_page)
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    page.locator("#reminders").fill("a day")
    page.locator("#prompt_days_after").fill("9")
    page.locator("#nudge_after_hours").fill("-1")
    page.get_by_role("button", name="Save plan").click()

    expect(_problems(page)).to_contain_text("There are 3 problems to fix")
    expect(page.locator(":focus")).to_have_id("error-summary")
    expect(page.locator("#reminders-error")).to_contain_text("Hours before the meeting separated by commas")
    expect(page.locator("#reminders")).to_have_attribute("aria-describedby", "reminders-error reminders-help")
    _next_to_its_field(page, "prompt_days_after", "A whole number from 0 to 6")
    _next_to_its_field(page, "nudge_after_hours", "A number from 0 to 144")
    expect(page.locator("#reminders")).to_have_value("a day")
    _no_axe_violations(page)
    screenshot(page, "refused-plan")


def test_the_on_call_shift_form_shows_every_mistake_at_its_field(
    browser_page, console_server, group, screenshot
):
    page = _with_axe(browser_page)
    page.goto(console_server.url("/console/staff"))
    page.get_by_text(f"Add a weekly shift in {group.name}").click()
    page.locator(f"#shift-start-{group.id}").fill("")
    page.get_by_role("button", name="Add shift").click()

    expect(_problems(page)).to_contain_text("There are 2 problems to fix")  # no day ticked, no start
    expect(page.locator(":focus")).to_have_id("error-summary")
    expect(page.locator(f"#shift-days-{group.id}-error")).to_have_text("Tick at least one day.")
    _next_to_its_field(page, f"shift-start-{group.id}", "Choose a time of day")
    expect(page.locator(f"#shift-end-{group.id}")).to_have_value("17:00")  # the rest as it was
    _no_axe_violations(page)
    screenshot(page, "refused-shift")


def test_a_us_city_is_taken_and_a_near_miss_is_offered_the_city_meant(
    browser_page, console_server, screenshot
):
    page = browser_page
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Name").fill("Evening")
    form.get_by_label("Time zone").fill("Sacremento")
    form.get_by_role("button", name="Create group").click()
    expect(page.locator("#timezone-error")).to_have_text(
        "'Sacremento' is not a time zone we know; did you mean Sacramento?"
    )
    expect(page.get_by_label("Time zone")).to_have_value("Sacremento")  # as typed
    screenshot(page, "newgroup-near-miss-city")
    page.get_by_label("Time zone").fill("Seattle, WA")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_text("Group Evening created.")).to_be_visible()  # the new group's page
    expect(page.get_by_label("Time zone")).to_have_value("Los Angeles")  # Seattle keeps Los Angeles time

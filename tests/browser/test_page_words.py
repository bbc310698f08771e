"""Words on the console's lists in a real browser: names of days and cities keep their capitals, and
the home page's "Still to send today" says which zone its day is, and each send's time in it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from checkin import outbox
from checkin.db import utcnow
from checkin.directory import add_member
from checkin.schedules import set_schedule


def test_the_groups_list_says_when_a_group_meets_with_its_capitals(browser_page, console_server, group):
    with console_server.db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(18),
            duration_minutes=90,
            starts_on=utcnow().date() + timedelta(days=1),
        )
    page = browser_page
    page.goto(console_server.url("/console/groups"))
    meets = page.locator('td[data-label="Meets"]').first
    expect(meets).to_contain_text("Every Tuesday at 6:00 pm, New York time")


def _later_today(now: datetime, zone: str) -> datetime:
    """A time still to come today in `zone` whenever the test runs: two minutes ahead, or halfway to
    midnight when that is closer. The page lists queued sends due before its day's end, and that end
    (tonight's midnight, or the next one if midnight passes before the page loads) is after it."""
    local = now.astimezone(ZoneInfo(zone))
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), local.tzinfo)
    return now + min(timedelta(minutes=2), (midnight - now) / 2)


def test_still_to_send_today_gives_each_time_in_the_headings_zone_too(browser_page, console_server, group):
    assert group.timezone == "America/New_York"  # the heading's zone: the zone of every visible group
    with console_server.db.session() as s:
        ana = add_member(s, group.name, "+12025550171", "Ana", timezone="America/Chicago")
        outbox.add(
            s,
            "reminder:home-zones",
            to=ana.phone,
            body="Meeting soon",
            member_id=ana.id,
            purpose="reminder",
            not_before=_later_today(utcnow(), group.timezone),
        )
    page = browser_page
    page.goto(console_server.url("/console/"))
    expect(page.locator("#today-h")).to_contain_text("until midnight New York time")
    row = page.locator("section[aria-labelledby='today-h'] tr").filter(has_text="Ana")
    expect(row).to_contain_text("Chicago time")
    expect(row).to_contain_text("New York time)")  # the same send, in the heading's zone


def test_home_of_groups_in_several_zones_counts_each_members_own_day_never_the_first_groups(
    browser_page, console_server, group, screenshot
):
    """A coordinator of a New York group and an Auckland one (first by name) with no organisation's zone:
    "today" is each member's own, each time names its zone, and no time is given in Auckland's zone
    because Auckland sorts first."""
    from checkin.directory import add_group

    with console_server.db.session() as s:
        auckland = add_group(s, "Auckland Night Owls", "Pacific/Auckland", "+15005550009")
        kiri = add_member(s, auckland.name, "+12025550172", "Kiri")
        ana = add_member(s, group.name, "+12025550171", "Ana")
        for person, zone in ((kiri, auckland.timezone), (ana, group.timezone)):
            outbox.add(
                s,
                f"reminder:home-{person.id}",
                to=person.phone,
                body="Meeting soon",
                member_id=person.id,
                purpose="reminder",
                not_before=_later_today(utcnow(), zone),
            )
    page = browser_page
    page.goto(console_server.url("/console/"))
    heading = page.locator("#today-h")
    expect(heading).to_contain_text("until midnight in each member's own time")
    expect(heading).to_contain_text("Auckland time")
    expect(heading).to_contain_text("New York time")
    rows = page.locator("section[aria-labelledby='today-h'] tbody tr")
    expect(rows.filter(has_text="Ana")).to_contain_text("New York time")
    expect(rows.filter(has_text="Kiri")).to_contain_text("Auckland time")
    expect(rows.filter(has_text="Ana")).not_to_contain_text("Auckland")
    expect(page.locator("#y-h")).to_contain_text("each member's own day")
    screenshot(page, "home-two-zones")


def test_a_reminder_time_out_of_range_is_refused_in_days_and_minutes_not_decimals(
    browser_page, console_server, group
):
    page = browser_page
    page.goto(console_server.url(f"/console/groups/{group.id}/plan"))
    page.locator("#reminders").fill("9999")
    page.get_by_role("button", name="Save plan").click()
    refusal = page.locator("#reminders-error")  # next to the reminders box
    expect(refusal).to_contain_text("Each from 1 minute to 14 days before the meeting")
    expect(refusal).not_to_contain_text("0.0167")
    expect(refusal).not_to_contain_text("336")


def test_the_audit_log_names_the_group_an_announcement_went_to(browser_page, console_server, group):
    from sqlalchemy import select

    from checkin.accounts import audit
    from checkin.models import StaffUser

    with console_server.db.session() as s:
        casey = s.scalar(select(StaffUser.id).where(StaffUser.email == console_server.coordinator_email))
        audit(s, "announce", casey, detail=f"announcement 1 to group {group.id}: 3 member(s)")
    page = browser_page
    page.goto(console_server.url("/console/audit"))
    expect(
        page.get_by_text("Casey Coordinator sent announcement #1 to Tuesday Group (3 members)")
    ).to_be_visible()


def test_a_group_with_no_facilitator_says_so_on_its_own_page(browser_page, console_server, group):
    page = browser_page
    page.goto(console_server.url(f"/console/groups/{group.id}"))
    expect(page.locator("#no-facilitator")).to_have_count(0)  # Frankie facilitates the console's group
    page.goto(console_server.url("/console/groups"))
    form = page.locator("form", has=page.get_by_role("button", name="Create group"))
    form.get_by_label("Name").fill("Thursday Group")
    form.get_by_label("Time zone").fill("Chicago")
    form.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thursday Group")
    expect(page.locator("#no-facilitator")).to_contain_text("Thursday Group has no facilitator yet")

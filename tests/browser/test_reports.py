"""The weekly report in a real browser, at phone and desktop sizes: a coordinator opens Reports, picks a
week, reads the reply rate from the table, steps back a week, and downloads the CSV; on a phone the
charts' labels are drawn at 12 px or more and nothing scrolls sideways."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from checkin.checkins import CheckIn
from checkin.escalation.models import Escalation
from tests.browser.conftest import DESKTOP, PHONE

TUESDAY = datetime(2026, 11, 3, 15, tzinfo=UTC)  # in the week of Monday 2 Nov (New York)


def seed(db, group) -> None:
    """Week of Nov 2: four prompts, three answered (4, 5, 2), and a crisis taken after 5 minutes;
    week of Oct 26: two prompts, one answered (3). Lee misses the rest, three in a row."""
    from checkin.directory import add_member

    with db.session() as s:
        people = [
            add_member(s, group.name, f"+1202555010{i}", n)
            for i, n in enumerate(("Sam Rivera", "Ana Ruiz", "Bo Lind", "Lee Park"))
        ]
        s.flush()
        sam, ana, bo, lee = people
        week = [(sam, 4), (ana, 5), (bo, 2), (lee, None)]
        before = [(sam, 3), (lee, None)]
        for weeks_back, answers in ((0, week), (1, before), (2, [(lee, None)])):
            for member, score in answers:
                at = TUESDAY - timedelta(weeks=weeks_back)
                s.add(
                    CheckIn(
                        member_id=member.id,
                        group_id=group.id,
                        prompt_key=f"p:{member.id}:{weeks_back}",
                        prompted_at=at,
                        state="answered" if score else "missed",
                        score=score,
                        answered_at=at + timedelta(hours=2) if score else None,
                    )
                )
        opened = TUESDAY + timedelta(hours=5)
        s.add(
            Escalation(
                member_id=bo.id,
                group_id=group.id,
                level="crisis",
                state="resolved",
                opened_at=opened,
                acknowledged_at=opened + timedelta(minutes=5),
                resolved_at=opened + timedelta(hours=1),
            )
        )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_read_the_weekly_report_switch_week_and_download_the_csv(
    browser_page, console_server, group, screenshot, viewport
):
    seed(console_server.db, group)
    page = browser_page
    page.set_viewport_size(viewport)
    page.goto(console_server.url("/console/"))
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Weekly report: Tuesday Group")).to_be_visible()

    page.get_by_label("A day in the week").fill("2026-11-04")
    page.get_by_role("button", name="Show report").click()
    expect(page.locator("#report-week-words")).to_contain_text(
        "Week of Monday, November 2 to Sunday, November 8, 2026"
    )
    table = page.locator("#weeks-table")
    row = table.get_by_role("row", name="Nov 2")
    expect(row.get_by_role("cell").nth(2)).to_have_text("75%")  # sent, answered, reply rate
    expect(page.locator("#fig-mean")).to_have_text("3.7")
    expect(page.get_by_role("link", name="Lee Park")).to_be_visible()  # three missed in a row
    escalations = page.locator("#escalations-table").get_by_role("row", name="Crisis")
    expect(escalations).to_contain_text("5 min")
    expect(page.get_by_role("img", name="Check-ins sent and answered, 8 weeks")).to_be_visible()
    expect(page.get_by_role("img", name="Mean check-in score, 8 weeks")).to_be_visible()

    if viewport is PHONE:
        # Labels drawn at 12 px or more, and the page fits the phone's width.
        smallest = page.evaluate(
            """() => Math.min(...[...document.querySelectorAll('svg.report-chart')].map(svg => {
                const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
                return Math.min(...[...svg.querySelectorAll('text')].map(t => +t.getAttribute('font-size') * scale));
            }))"""
        )
        assert smallest >= 12, smallest
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "report")

    page.get_by_role("link", name="Previous week").click()
    expect(page.locator("#report-week-words")).to_contain_text("Week of Monday, October 26")
    expect(page.locator("#fig-rate")).to_have_text("50%")
    expect(table.locator("tr.chosen")).to_contain_text("Oct 26")
    expect(page.get_by_text("No escalations were opened this week.")).to_be_visible()

    page.get_by_label("From the week of").fill("2026-10-26")
    page.get_by_label("To the week of").fill("2026-11-02")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = download.value.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert [(r["week_starts"], r["prompts_sent"], r["reply_rate_percent"]) for r in rows] == [
        ("2026-10-26", "2", "50.0"),
        ("2026-11-02", "4", "75.0"),
    ]
    assert (
        rows[1]["those_members"] == "Lee Park (3)" and rows[1]["crisis_minutes_to_acknowledge_p50"] == "5.0"
    )

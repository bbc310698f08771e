"""The console's weekly report: who may read it (a facilitator: their own groups only), what it says on an
empty week, the CSV download (coordinators only, audited, spreadsheet formulas defused)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.checkins import CheckIn
from checkin.directory import add_group, add_member
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401

WEEK = "2026-11-02"  # Monday, in the fixture group's New York time
TUESDAY = datetime(2026, 11, 3, 15, tzinfo=UTC)


@pytest.fixture
def story(db, group):
    """The fixture group with a week of check-ins: two prompts, one answered (4), and a member whose
    name a spreadsheet would run as a formula, with three missed in a row; a second group nobody
    facilitates."""
    with db.session() as s:
        other = add_group(s, "Other Group", "America/Chicago", "+15005550007")
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
        formula = add_member(s, group.name, "+12025550102", "=HYPERLINK(1)")
        s.flush()
        s.add(
            CheckIn(
                member_id=sam.id,
                group_id=group.id,
                prompt_key="p:sam",
                prompted_at=TUESDAY,
                state="answered",
                score=4,
                answered_at=TUESDAY + timedelta(hours=1),
            )
        )
        for i in range(3):
            s.add(
                CheckIn(
                    member_id=formula.id,
                    group_id=group.id,
                    prompt_key=f"p:f{i}",
                    prompted_at=TUESDAY - timedelta(weeks=i, hours=i),
                    state="missed",
                )
            )
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", groups=[group.name])
    return {"group": group, "other": other, "formula": formula}


def test_a_facilitator_reads_their_groups_report_but_not_another_and_cannot_export(client, story):
    frankie = Console(client, "frankie@example.org")
    group, other = story["group"], story["other"]
    page = frankie.get(f"/console/reports?group={group.id}&week={WEEK}").get_data(as_text=True)
    assert "Weekly report: Tuesday Group" in page
    assert 'id="fig-rate">50%<' in page  # one of the two prompts of that week answered
    assert 'id="fig-mean">4.0<' in page
    assert f'href="/console/members/{story["formula"].id}"' in page  # three missed in a row, linked
    assert "Other Group" not in page and "Download CSV" not in page
    assert frankie.get(f"/console/reports?group={other.id}").status_code == 404
    assert (
        frankie.post(f"/console/reports/{group.id}/export", {"first": WEEK, "last": WEEK}).status_code == 403
    )


def test_an_empty_week_says_so(client, story):
    casey = Console(client, "casey@example.org")
    page = casey.get(f"/console/reports?group={story['other'].id}&week={WEEK}").get_data(as_text=True)
    assert "No check-ins were sent this week." in page
    assert "No escalations were opened this week." in page
    assert "Nobody gave a score this week." in page
    assert "Not enough weeks with scores" in page
    # No charts, so no chart headings or legend either: just the sentences.
    assert "No check-ins were sent in these weeks." in page and "No check-in scores in these weeks." in page
    assert "Check-ins sent and answered" not in page and 'class="legend"' not in page
    assert "Mean score, from 1" not in page and "The charts' numbers" not in page
    full = casey.get(f"/console/reports?group={story['group'].id}&week={WEEK}").get_data(as_text=True)
    assert 'id="chart-checkins"' in full and 'class="legend"' in full


def test_a_bad_week_is_a_400_that_says_how_to_write_one(client, story):
    casey = Console(client, "casey@example.org")
    response = casey.get(f"/console/reports?group={story['group'].id}&week=next-tuesday")
    assert response.status_code == 400 and "2026-11-30" in response.get_data(as_text=True)
    response = casey.get(f"/console/reports?group={story['group'].id}&week=0001-01-01")
    assert response.status_code == 400 and "between 2000 and 2100" in response.get_data(as_text=True)
    assert casey.get("/console/reports?group=tuesday").status_code == 400
    response = casey.post(
        f"/console/reports/{story['group'].id}/export", {"first": "2024-01-01", "last": WEEK}
    )
    assert response.status_code == 400 and "at most 53 weeks" in response.get_data(as_text=True)
    # The walk-through got a bare "Bad Request" page and lost the dates: now the report page, the message
    # beside the CSV form's fields, the dates as typed.
    page = response.get_data(as_text=True)
    assert 'id="export-error"' in page and 'value="2024-01-01"' in page and f'value="{WEEK}"' in page
    response = casey.post(
        f"/console/reports/{story['group'].id}/export", {"first": WEEK, "last": "2026-10-26"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "comes before" in page and 'value="2026-10-26"' in page
    response = casey.post(
        f"/console/reports/{story['group'].id}/export", {"first": "2026-13-40", "last": WEEK}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "written like 2026-11-30" in page and 'value="2026-13-40"' in page


def test_the_csv_download_is_audited_and_defuses_formulas(client, db, story):
    casey = Console(client, "casey@example.org")
    group = story["group"]
    response = casey.post(
        f"/console/reports/{group.id}/export", {"first": "2026-10-26", "last": "2026-11-04"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["week_starts"] for r in rows] == ["2026-10-26", "2026-11-02"]
    week = rows[1]
    assert (week["prompts_sent"], week["prompts_answered"], week["reply_rate_percent"]) == ("2", "1", "50.0")
    assert week["mean_score"] == "4.00" and week["time_zone"] == "New York"
    assert (
        'filename="report-Tuesday-Group-2026-10-26-to-2026-11-02.csv"'
        in response.headers["Content-Disposition"]
    )
    assert week["those_members"] == "'=HYPERLINK(1) (3)"  # a spreadsheet shows it as text, runs nothing
    with db.session() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "report_export")).all()
    assert event.detail == f"group:{group.id} weeks:2026-10-26..2026-11-02"

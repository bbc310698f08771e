"""The rota on the staff page: shifts in words in the group's zone, "on call now", adding and removing
windows (coordinators only), refusals that name the field and save nothing, and the audit trail."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.db import utcnow
from checkin.models import GroupStaff, OnCallWindow
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401
from tests.rota_helpers import off_shift_now


@pytest.fixture
def frankie(db, group):
    return make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")


@pytest.fixture
def coordinator(client, db, group, frankie):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


def row_of(page: str, name: str) -> str:
    """The rota table row that starts with this person's name."""
    match = re.search(r"<tr>\s*<td data-label=\"Name\">" + re.escape(name) + r" .*?</tr>", page, re.S)
    assert match, f"no rota row for {name}"
    return match.group(0)


def windows(db):
    with db.session() as s:
        return s.scalars(select(OnCallWindow).order_by(OnCallWindow.id)).all()


def audits(db):
    with db.session() as s:
        return s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "on_call").order_by(AuditEvent.id)
        ).all()


def shift(frankie, **over):
    return dict(
        {
            "form": "weekly",
            "staff_id": frankie.id,
            "days": ["1", "2", "3", "4", "5"],
            "start": "09:00",
            "end": "17:00",
            "ends": "0",
        },
        **over,
    )


def test_a_new_place_is_on_call_at_all_times(coordinator, frankie):
    row = row_of(coordinator.get("/console/staff").get_data(as_text=True), "Frankie")
    assert "at all times" in row and "on call now" in row


def test_coordinator_adds_an_office_hours_shift_and_reads_it_in_words(coordinator, db, group, frankie):
    def in_office_hours():
        local = utcnow().astimezone(ZoneInfo("America/New_York"))
        return local.isoweekday() <= 5 and 9 <= local.hour < 17

    # Read the clock on both sides of the request: at 9:00 or 17:00 sharp the page may rightly say either.
    on_before = in_office_hours()
    response = coordinator.post(
        f"/console/staff/rota/{group.id}/windows", shift(frankie), follow_redirects=True
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Times in New York time" in page
    row = row_of(page, "Frankie")
    assert "Mon–Fri 9:00 am–5:00 pm" in row
    on_after = in_office_hours()
    assert ("on call now" in row) in {on_before, on_after} and ("off shift" in row) is not (
        "on call now" in row
    )
    [window] = windows(db)
    assert (window.days, window.start_minute, window.end_minute, window.span_days) == ("12345", 540, 1020, 0)
    assert audits(db) == [
        f"group:{group.id} staff:{frankie.id} window:{window.id} added: Mon–Fri 9:00 am–5:00 pm"
    ]


def test_the_weekend_overnight_shift(coordinator, db, group, frankie):
    coordinator.post(
        f"/console/staff/rota/{group.id}/windows",
        shift(frankie, days="5", start="18:00", end="09:00", ends="3"),
    )
    row = row_of(coordinator.get("/console/staff").get_data(as_text=True), "Frankie")
    assert "Fri 6:00 pm to Mon 9:00 am" in row


@pytest.mark.parametrize(
    "change, errors",
    [
        ({"days": []}, {"shift-days": "Tick at least one day."}),
        ({"start": "25:00"}, {"shift-start": "A time of day as HH:MM, e.g. 18:30"}),
        ({"end": ""}, {"shift-end": "Choose a time of day"}),
        ({"ends": "9"}, {"shift-ends": "A whole number from 0 to 6"}),
        ({"staff_id": "99999"}, {"shift-who": "Choose someone in Tuesday Group&#39;s rota."}),
        (  # every mistake at once, each at its field
            {"days": [], "start": "", "ends": "9"},
            {
                "shift-days": "Tick at least one day.",
                "shift-start": "Choose a time of day",
                "shift-ends": "A whole number from 0 to 6",
            },
        ),
        (
            {"form": "dated", "kind": "away", "starts": "2030-01-02T09:00", "ends_at": "2030-01-01T09:00"},
            {"dated-to": "Must be after from"},
        ),
        (  # a cover that is already over would change nobody's rota: refused, and says why
            {"form": "dated", "kind": "cover", "starts": "2021-03-01T09:00", "ends_at": "2021-03-02T09:00"},
            {"dated-to": "That time has passed, so this would change nothing: choose an end still to come"},
        ),
        (
            {"form": "dated", "kind": "away", "starts": "tomorrow", "ends_at": "2030-01-01T09:00"},
            {"dated-from": "Type a date and time like 10 March 2026, 6:30 pm"},
        ),
        (
            {"form": "dated", "kind": "holiday", "starts": "2030-01-01T09:00", "ends_at": "2030-01-02T09:00"},
            {"dated-kind": "Choose cover (on call) or away (not on call)."},
        ),
    ],
)
def test_a_bad_window_is_refused_naming_the_field_and_nothing_is_saved(
    coordinator, db, group, frankie, change, errors
):
    response = coordinator.post(f"/console/staff/rota/{group.id}/windows", shift(frankie, **change))
    assert response.status_code == 400  # shown in place, not redirected: a reload sends it again
    page = response.get_data(as_text=True)
    shown = dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">(.*?)</p>', page))
    assert shown == {f"{field}-{group.id}": words for field, words in errors.items()}
    # The refused form is open again with what was typed.
    which = "Add cover or time away" if change.get("form") == "dated" else "Add a weekly shift"
    assert re.search(r"<details open>\s*<summary>" + which, page)
    assert windows(db) == [] and audits(db) == []


def test_on_call_now_follows_cover_absence_and_the_switch(coordinator, db, group, frankie):
    bo = make_staff(db, "Bo", "bo@example.org", "facilitator", [group.name], "+12025550179")
    with db.session() as s:
        off_shift_now(s, group.id, bo.id)
        s.commit()
    local = utcnow().astimezone(ZoneInfo(group.timezone)).replace(second=0, microsecond=0)
    fmt = "%Y-%m-%dT%H:%M"
    around_now = {
        "form": "dated",
        "starts": (local - timedelta(hours=1)).strftime(fmt),
        "ends_at": (local + timedelta(hours=1)).strftime(fmt),
    }
    page = coordinator.get("/console/staff").get_data(as_text=True)
    assert "off shift" in row_of(page, "Bo") and "on call now" in row_of(page, "Frankie")
    coordinator.post(
        f"/console/staff/rota/{group.id}/windows", dict(around_now, staff_id=bo.id, kind="cover")
    )
    coordinator.post(
        f"/console/staff/rota/{group.id}/windows", dict(around_now, staff_id=frankie.id, kind="away")
    )
    page = coordinator.get("/console/staff").get_data(as_text=True)
    bo_row, frankie_row = row_of(page, "Bo"), row_of(page, "Frankie")
    assert "on call now" in bo_row and "Cover: " in bo_row
    assert "off shift" in frankie_row and "Away: " in frankie_row
    coordinator.post(f"/console/staff/rota/{group.id}/{bo.id}", {"action": "on_call", "on_call": "no"})
    assert "off call (switched off)" in row_of(coordinator.get("/console/staff").get_data(as_text=True), "Bo")


def test_removing_a_window_puts_it_back_to_always_and_is_audited(coordinator, db, group, frankie):
    coordinator.post(f"/console/staff/rota/{group.id}/windows", shift(frankie, days=["6"]))
    [window] = windows(db)
    response = coordinator.post(
        f"/console/staff/rota/{group.id}/windows/{window.id}/remove", follow_redirects=True
    )
    row = row_of(response.get_data(as_text=True), "Frankie")
    assert "at all times" in row and "on call now" in row
    assert windows(db) == []
    assert (
        audits(db)[-1]
        == f"group:{group.id} staff:{frankie.id} window:{window.id} removed: Sat 9:00 am–5:00 pm"
    )
    assert coordinator.post(f"/console/staff/rota/{group.id}/windows/{window.id}/remove").status_code == 404


def test_removing_someone_from_the_rota_removes_their_windows(coordinator, db, group, frankie):
    coordinator.post(f"/console/staff/rota/{group.id}/windows", shift(frankie))
    coordinator.post(f"/console/staff/rota/{group.id}/{frankie.id}", {"action": "remove"})
    with db.session() as s:
        assert s.get(GroupStaff, (group.id, frankie.id)) is None
    assert windows(db) == []


def test_a_facilitator_reads_their_groups_rota_but_cannot_change_it(app, coordinator, db, group, frankie):
    from checkin.directory import add_group

    coordinator.post(f"/console/staff/rota/{group.id}/windows", shift(frankie))
    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
    theirs = Console(app.test_client(), "frankie@example.org")
    page = theirs.get("/console/staff").get_data(as_text=True)
    assert "Mon–Fri 9:00 am–5:00 pm" in row_of(page, "Frankie")
    assert "Thursday Group" not in page
    assert (
        "Add a weekly shift" not in page and "Add cover or time away" not in page and ">Remove<" not in page
    )
    [window] = windows(db)
    assert theirs.post(f"/console/staff/rota/{group.id}/windows/{window.id}/remove").status_code == 403
    assert (
        theirs.post(f"/console/staff/rota/{group.id}/windows", shift(frankie, days=["6"])).status_code == 403
    )
    assert len(windows(db)) == 1


def test_an_escalation_with_nobody_on_shift_says_so_in_its_history(
    coordinator, db, group, frankie, member, twilio
):
    from checkin.escalation.models import Escalation
    from tests.console_helpers import CRISIS_TEXT

    make_staff(db, "Cleo", "cleo@example.org", "coordinator", phone="+12025550190")
    with db.session() as s:
        off_shift_now(s, group.id, frankie.id)
        s.commit()
    twilio.sms(member.phone, CRISIS_TEXT)
    with db.session() as s:
        esc = s.scalar(select(Escalation))
    page = coordinator.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    assert "Nobody on call in the rota" in page and "so a coordinator was alerted instead" in page
    assert re.search(r"Alert sent to Cleo", page) and "Alert sent to Frankie" not in page

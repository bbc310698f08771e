"""A member's copy (`checkin members export`, the console's Download) and the console's erase action:
everything held about them, readable, audited, formula-safe in CSV; erasure only with their name typed."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from sqlalchemy import func, select

from checkin.accounts.models import AuditEvent
from checkin.directory import add_member
from checkin.escalation.models import Escalation
from checkin.member_data.export import safe_cell
from checkin.models import Member
from tests.conftest import open_checkin
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401

PHONE = "+12025550131"
NAME = "Wilhelmina Okonkwo"
FACILITATOR_PHONE = "+12025550191"
CRISIS = "I am going to kill myself tonight"
FORMULA = '=HYPERLINK("http://evil.example","click me") honestly'


@pytest.fixture
def story(db, twilio, group):
    """A member with a check-in in words, a crisis text, its case resolved with a note, and one timeline view."""
    with db.session() as s:
        member = add_member(s, group.name, PHONE, NAME)
    open_checkin(db, member, group, f"prompt:{member.id}:copy")
    coordinator = make_staff(db, "Casey", "casey@example.org", "coordinator")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], FACILITATOR_PHONE)
    assert twilio.sms(PHONE, "4 tired but walking the dog daily").status_code == 200
    assert twilio.sms(PHONE, FORMULA).status_code == 200
    assert twilio.sms(PHONE, CRISIS).status_code == 200
    with db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == member.id))
    assert (
        twilio.sms(FACILITATOR_PHONE, f"RESOLVE {esc.id} called her, sister is staying over").status_code
        == 200
    )
    return member, coordinator, esc


def _export(app, *args):
    from checkin.cli import cli

    return app.test_cli_runner().invoke(cli, ["members", "export", *args])


def test_json_copy_has_everything_about_them_and_is_audited(app, db, client, story, tmp_path):
    member, coordinator, esc = story
    Console(client, "casey@example.org").get(f"/console/members/{member.id}")  # someone looked at the record
    out = tmp_path / "copy.json"

    result = _export(
        app, "--phone", PHONE, "--format", "json", "--out", str(out), "--by", "casey@example.org"
    )

    assert result.exit_code == 0, result.output
    copy = json.loads(out.read_text())
    assert (copy["member"]["name"], copy["member"]["phone"]) == (NAME, PHONE)
    words = [m["words"] for m in copy["messages"] if m["direction"] == "inbound"]
    assert words == ["4 tired but walking the dog daily", FORMULA, CRISIS]
    assert any("988" in (m["our_reply"] or "") for m in copy["messages"])  # what we answered, too
    assert [(c["score"], c["words"]) for c in copy["checkins"]] == [(4, "4 tired but walking the dog daily")]
    assert [(e["id"], e["level"], e["state"]) for e in copy["escalations"]] == [
        (esc.id, "crisis", "resolved")
    ]
    notes = [e["note"] for e in copy["escalation_events"] if e["note"]]
    assert notes == ["called her, sister is staying over"]
    assert any("si." in a["rules"] for a in copy["assessments"])  # what the rules read in their words
    assert [(c["kind"], c["source"]) for c in copy["consents"]] == [("opt_in", "staff")]
    assert ("view_messages", "Casey") in {(a["action"], a["staff"]) for a in copy["audit"]}
    with db.session() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "member_export")).all()
        assert (event.staff_id, event.member_id, event.detail) == (coordinator.id, member.id, "via cli: json")


def test_csv_copy_is_a_zip_of_sheets_with_formulas_defused(app, story, tmp_path):
    out = tmp_path / "copy.zip"
    result = _export(app, "--phone", PHONE, "--format", "csv", "--out", str(out), "--by", "casey@example.org")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        assert {
            "member.csv",
            "messages.csv",
            "checkins.csv",
            "escalation_events.csv",
            "consents.csv",
            "audit.csv",
        } <= set(archive.namelist())
        rows = list(csv.DictReader(io.StringIO(archive.read("messages.csv").decode("utf-8-sig"))))
        member_rows = list(csv.DictReader(io.StringIO(archive.read("member.csv").decode("utf-8-sig"))))
    assert "'" + FORMULA in [r["words"] for r in rows]  # shown as text, never run as a formula
    assert member_rows[0]["phone"] == "'" + PHONE and member_rows[0]["name"] == NAME


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1202", "'+1202"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("fine", "fine"),
        (None, ""),
        (3, "3"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_quoted(value, cell):
    assert safe_cell(value) == cell


def test_export_errors_are_one_line(app, story, tmp_path):
    cases = [
        (["--phone", "nope", "--out", str(tmp_path / "a.json")], "--phone:"),
        (["--phone", "+12025550998", "--out", str(tmp_path / "a.json")], "no member has that phone number"),
        (["--phone", PHONE, "--format", "csv", "--out", "-"], "a zip cannot go to standard output"),
        (["--phone", PHONE, "--out", str(tmp_path / "missing" / "a.json")], "--out: cannot write"),
    ]
    for args, error in cases:
        result = _export(app, *args, "--by", "casey@example.org")
        assert result.exit_code != 0 and error in result.output, result.output
    result = _export(app, "--phone", PHONE, "--out", "-", "--by", "frankie@example.org")
    assert result.exit_code == 1 and "only a coordinator" in result.output


# --- the console ---------------------------------------------------------------------------------


def test_console_download_is_the_same_copy_and_audited(client, db, story):
    member, coordinator, _ = story
    console = Console(client, "casey@example.org")
    response = console.post(f"/console/members/{member.id}/export", {"format": "csv"})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert f'filename="member-{member.id}-data.zip"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert NAME in archive.read("member.csv").decode("utf-8-sig")
    response = console.post(f"/console/members/{member.id}/export", {"format": "json"})
    assert json.loads(response.data)["member"]["id"] == member.id
    assert console.post(f"/console/members/{member.id}/export", {"format": "xml"}).status_code == 400
    with db.session() as s:
        details = s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "member_export")).all()
        assert details == ["via console: csv", "via console: json"]


def test_console_erase_needs_the_name_typed(client, db, story, fake_twilio):
    member, coordinator, _ = story
    console = Console(client, "casey@example.org")
    refused = console.post(f"/console/members/{member.id}/erase", {"confirm_name": "Wilhelmina"})
    assert refused.status_code == 400 and "type their name exactly as shown" in refused.get_data(as_text=True)
    with db.session() as s:
        assert s.get(Member, member.id).phone == PHONE  # nothing erased

    done = console.post(
        f"/console/members/{member.id}/erase", {"confirm_name": f"  {NAME} "}, follow_redirects=True
    )

    page = done.get_data(as_text=True)
    assert done.status_code == 200 and f"this member is now Erased member #{member.id}" in page
    assert NAME not in page and PHONE not in page and "Erase this member" not in page
    with db.session() as s:
        assert s.get(Member, member.id).phone is None
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "member_erased")).all()
        assert (event.staff_id, event.member_id) == (
            coordinator.id,
            member.id,
        ) and "via console" in event.detail
    again = console.post(
        f"/console/members/{member.id}/erase", {"confirm_name": f"Erased member #{member.id}"}
    )
    assert again.status_code == 400


def test_facilitators_can_neither_export_nor_erase(client, db, story):
    member, *_ = story
    console = Console(client, "frankie@example.org")
    assert console.post(f"/console/members/{member.id}/export", {"format": "json"}).status_code == 403
    assert console.post(f"/console/members/{member.id}/erase", {"confirm_name": NAME}).status_code == 403
    assert "Erase this member" not in console.get(f"/console/members/{member.id}").get_data(as_text=True)
    with db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("member_e%")))
            == 0
        )


def test_console_refuses_to_erase_a_member_whose_case_is_live(client, db, twilio, group, story):
    with db.session() as s:
        other = add_member(s, group.name, "+12025550132", "Lou Live")
    assert twilio.sms("+12025550132", CRISIS).status_code == 200
    response = Console(client, "casey@example.org").post(
        f"/console/members/{other.id}/erase", {"confirm_name": "Lou Live"}
    )
    assert response.status_code == 400 and "has a live crisis case" in response.get_data(as_text=True)
    with db.session() as s:
        assert s.get(Member, other.id).phone == "+12025550132"
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "member_erased"))
            == 0
        )

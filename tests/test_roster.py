"""Rosters that stay current: the import's update-mode diff, the export's formula-safe cells, the list's
filters (domain), and through the console: dry run bound to apply, edits of phone and groups with their
history, exports for coordinators only, audited."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from checkin import consent, member_import, roster
from checkin.accounts import audit_chain
from checkin.accounts.models import AuditEvent
from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.directory import add_group, add_member
from checkin.models import Member, OutboxItem
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401

TODAY = date(2026, 12, 7)


def rows_of(text: str):
    return member_import.parse(text.encode())


# --- the update-mode diff -----------------------------------------------------------------------------


def test_plan_adds_updates_lists_unchanged_and_errors_and_never_resubscribes(db, group):
    with db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera")
        lee = add_member(s, group.name, "+12025550102", "Lee Park", "es")
        out = add_member(s, group.name, "+12025550103", "Olive Out")
        consent.opt_out(s, out, source="keyword:STOP")
        other = add_group(s, "Thursday Group", "America/Chicago")
    text = (
        "group,phone,name,language,channel,consent_source,consent_date\n"
        f"{group.name},(202) 555-0101,Sam Rivera,,,,\n"  # unchanged: empty cells leave values as they are
        f"{group.name},202-555-0102,Lee Park,EN,voice,verbal on phone,11/30/2026\n"  # updated
        f"{other.name},+1 202 555 0103,Olive Out,,,,\n"  # opted out: joins the group, stays opted out
        f"{group.name},202-555-0104,Nia New,,,text START,\n"  # added
        f"{group.name},202-555-0105,Future,,,,2027-01-01\n"  # error
    )
    with db.session() as s:
        plan = member_import.plan(s, rows_of(text), today=TODAY)
        assert plan.counts == {"add": 1, "update": 2, "unchanged": 1, "error": 1}
        by_line = {r.line: r for r in plan.rows}
        assert by_line[2].action == "unchanged"
        assert [(c.field, c.old, c.new) for c in by_line[3].changes] == [
            ("language", "es", "en"),
            ("channel", "sms", "voice"),
            ("consent_source", "", "verbal on phone"),
            ("consent_date", "", "2026-11-30"),
        ]
        assert by_line[4].opted_out and [(c.field, c.new) for c in by_line[4].changes] == [
            ("group", "Tuesday Group, Thursday Group")
        ]
        assert by_line[5].action == "add" and by_line[5].values["language"] == "en"
        assert by_line[6].reasons[0].startswith("consent_date '2027-01-01' is after today (")
        assert "type the day they agreed to texts, today or earlier" in by_line[6].reasons[0]
        assert (
            s.scalar(select(Member.id).where(Member.phone == "+12025550104")) is None
        )  # a plan writes nothing
        # The plan travels through Redis as JSON and comes back the same.
        assert member_import.Plan.from_json(plan.to_json()).fingerprint() == plan.fingerprint()
        member_import.apply(s, plan, staff_id=1)
    with db.session() as s:
        found = {m.phone: m for m in s.scalars(select(Member))}
        assert found["+12025550103"].status == "opted_out"
        assert {g.name for g in found["+12025550103"].groups} == {"Tuesday Group", "Thursday Group"}
        assert (found["+12025550102"].channel, found["+12025550102"].consent_date) == (
            "voice",
            date(2026, 11, 30),
        )
        assert found["+12025550104"].consent_source == "text START"
        assert s.get(Member, lee.id).consent_source == "verbal on phone"
        assert "+12025550105" not in found
        # Each updated member has a row in the audit log (fields, not values), and the chain still holds.
        edits = s.execute(
            select(AuditEvent.member_id, AuditEvent.detail).where(AuditEvent.action == "member_edited")
        )
        assert sorted(edits) == sorted(
            [
                (lee.id, "import:language,channel,consent_source,consent_date"),
                (out.id, f"import:group+{other.id}"),
            ]
        )
        # Each added member has one too, for the "Changes" list on their page.
        added = set(
            s.scalars(
                select(AuditEvent.member_id).where(
                    AuditEvent.action == "member_added", AuditEvent.detail == "import:added"
                )
            )
        )
        assert found["+12025550104"].id in added and len(added) == plan.counts["add"]
        assert audit_chain.verify(s).ok


def test_a_number_with_letters_or_an_extension_is_a_problem_not_someone_elses_number(db, group):
    with db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera")
    text = (
        "group,phone,name\n"
        f"{group.name},+12025550101x,Trailing x\n"  # a typo: libphonenumber alone would read Sam's number
        f"{group.name},+1 202 555 0174 ext 5,An Extension\n"  # texts cannot reach an extension
    )
    with db.session() as s:
        plan = member_import.plan(s, rows_of(text), today=TODAY)
    assert plan.counts == {"add": 0, "update": 0, "unchanged": 0, "error": 2}
    assert all("only digits, spaces and + - ( ) . belong in one" in r.reasons[0] for r in plan.rows)


def test_an_exported_file_imports_back_unchanged():
    header = ",".join(roster.MEMBER_COLUMNS)
    data = roster.to_csv(
        roster.MEMBER_COLUMNS,
        [["G", "+12025550101", "=SUM(A1)", "en", "sms", "", "", "", "active", "", 0, ""]],
    )
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for spreadsheet apps
    [row] = member_import.parse(data)
    assert (row["phone"], row["name"]) == ("+12025550101", "=SUM(A1)")
    assert header.startswith("group,phone,name")


# --- export cells -------------------------------------------------------------------------------------


CELLS = [
    ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
    ("+12025550101", "'+12025550101"),
    ("-2+3", "'-2+3"),
    ("@SUM(1)", "'@SUM(1)"),
    ("\tcmd", "'\tcmd"),
    ("\rcmd", "'\rcmd"),
    ("José", "José"),
    ("a=b", "a=b"),
    (None, ""),
    (3, "3"),
]


def test_export_cells_cannot_start_a_formula():
    # One test for every case: each test here pays for the database's cleanup.
    assert [roster.safe_cell(value) for value, _ in CELLS] == [cell for _, cell in CELLS]
    text = roster.to_csv(["x"], [[value] for value, _ in CELLS]).decode("utf-8-sig")
    assert [r[0] for r in csv.reader(io.StringIO(text, newline=""))][1:] == [cell for _, cell in CELLS]


# --- filters ------------------------------------------------------------------------------------------


def test_filters_by_text_status_quiet_days_falling_mood_and_missed_prompts(db, group):
    now = utcnow()
    with db.session() as s:
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
        lee = add_member(s, group.name, "+12025550102", "Lee Park")
        ana = add_member(s, group.name, "+13125550103", "Ana Ortiz")
        consent.opt_out(s, ana, source="keyword:STOP")
        for days, score in ((20, 4), (15, 4), (10, 2)):  # Sam: falling, nothing in the last 10 days
            s.add(
                CheckIn(
                    member_id=sam.id, state="answered", score=score, answered_at=now - timedelta(days=days)
                )
            )
        for days, score in ((3, 2), (1, 4)):  # Lee: rising, answered lately
            s.add(
                CheckIn(
                    member_id=lee.id, state="answered", score=score, answered_at=now - timedelta(days=days)
                )
            )
        for days in (9, 6, 3):  # Ana: three prompts missed in a row
            s.add(
                CheckIn(
                    member_id=ana.id,
                    state="missed",
                    prompt_key=f"prompt:{ana.id}:{days}",
                    prompted_at=now - timedelta(days=days),
                )
            )

    def names(**kw):
        with db.session() as s:
            return [r.member.display_name for r in roster.find(s, [group.id], roster.Filters(**kw), now)]

    assert names() == ["Ana Ortiz", "Lee Park", "Sam Rivera"]
    assert names(q="park") == ["Lee Park"]
    assert names(q="312-555") == ["Ana Ortiz"]  # digits of the number
    assert names(q="100%") == []  # LIKE's wildcards are searched for as text
    assert names(status="opted_out") == ["Ana Ortiz"]
    # Not in 7 days: Sam; Ana opted out, so only when the status filter asks for opted-out members.
    assert names(quiet_days=7) == ["Sam Rivera"]
    assert names(quiet_days=7, status="opted_out") == ["Ana Ortiz"]
    assert names(falling=True) == ["Sam Rivera"]
    assert names(missed=True) == ["Ana Ortiz"]
    assert names(falling=True, quiet_days=14) == []
    assert roster.trend_of([2, 4, 4]) == "falling" and roster.trend_of([4, 2]) == "rising"
    # Someone added today and never asked is not "no check-in in 14 days"; added 20 days ago, they are.
    with db.session() as s:
        add_member(s, group.name, "+12025550104", "Pat New")
        old = add_member(s, group.name, "+12025550105", "Old Quiet")
        old.created_at = now - timedelta(days=20)
    assert names(quiet_days=14) == ["Old Quiet"]  # Sam answered 10 days ago; Pat was never asked
    assert roster.trend_of([3, 3, 4]) == "steady" and roster.trend_of([3]) == ""


# --- the console: dry run, apply, edits, exports -----------------------------------------------------------


@pytest.fixture
def coordinator(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


def upload(console, text):
    response = console.post(
        "/console/members/import",
        {"file": (io.BytesIO(text.encode()), "roster.csv")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    deadline = time.monotonic() + 120  # bounds a hang only
    while console.get(response.get_json()["status_url"]).get_json()["state"] == "checking":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return response.get_json()["page"]


def token_on(console, page_url):
    return re.search(
        r'name="token" value="([0-9a-f]{64})"', console.get(page_url).get_data(as_text=True)
    ).group(1)


def test_apply_is_bound_to_the_checked_file_and_its_report(coordinator, client, db, group, member):
    first = upload(coordinator, f"group,phone,name\n{group.name},202-555-0161,Ana\n")
    second = upload(
        coordinator, f"group,phone,name\n{group.name},202-555-0162,Ben\n{group.name},{member.phone},Sam R.\n"
    )
    token_first = token_on(coordinator, first)
    # The first file's token does not apply the second file, nor does no token.
    for token in (token_first, ""):
        refused = coordinator.post(second + "/apply", {"token": token})
        assert (
            refused.status_code == 409
            and "not the report of the file that was checked" in refused.get_data(as_text=True)
        )
    # Another coordinator cannot see or apply someone else's dry run.
    make_staff(db, "Robin", "robin@example.org", "coordinator")
    robin = Console(client.application.test_client(), "robin@example.org")
    assert robin.post(second + "/apply", {"token": token_on(coordinator, second)}).status_code == 404
    # The members changed since the dry run: nothing is written, and the new report is shown.
    token_second = token_on(coordinator, second)
    with db.session() as s:
        s.get(Member, member.id).display_name = "Sam R."
    changed = coordinator.post(second + "/apply", {"token": token_second})
    assert (
        changed.status_code == 409
        and "the members changed since this file was checked" in changed.get_data(as_text=True)
    )
    with db.session() as s:
        assert s.scalar(select(Member.id).where(Member.phone == "+12025550162")) is None
    assert coordinator.post(second + "/apply", {"token": token_on(coordinator, second)}).status_code == 302
    again = coordinator.post(second + "/apply", {"token": token_second})
    assert again.status_code == 409 and "already applied" in again.get_data(as_text=True)
    with db.session() as s:
        phones = set(s.scalars(select(Member.phone)))
        audits = list(s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "import")))
    assert phones == {member.phone, "+12025550162"}  # the first file was never applied
    assert len(audits) == 1 and "1 added, 0 updated, 1 unchanged, 0 row(s) skipped" in audits[0]
    assert "Ben" not in audits[0] and "0162" not in audits[0]  # ids and counts only
    # Ben's page says who added him and how; the audit log reads as a sentence.
    with db.session() as s:
        ben = s.scalar(select(Member.id).where(Member.phone == "+12025550162"))
    ben_page = coordinator.get(f"/console/members/{ben}").get_data(as_text=True)
    assert "Added by Casey&#39;s CSV import on" in ben_page
    assert "by Casey's CSV import" in ben_page  # the consent record names whose import opted him in
    assert "imported a roster: 1 added, 0 updated, 0 skipped" in coordinator.get("/console/audit").get_data(
        as_text=True
    )


def test_the_template_and_a_too_big_file(coordinator, db, group):
    with db.session() as s:  # the example row names the coordinator's own group, not a made-up one
        s.get(type(group), group.id).name = "Harbor Lights"
    template = coordinator.get("/console/members/import/template.csv")
    assert template.headers["Content-Disposition"] == 'attachment; filename="members-template.csv"'
    [row] = member_import.parse(template.data)
    assert row["consent_source"] == "paper form at meeting" and row["group"] == "Harbor Lights"
    big = "group,phone,name\n" + "x" * (5 * 1024 * 1024 + 10)
    response = coordinator.post(
        "/console/members/import",
        {"file": (io.BytesIO(big.encode()), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (400, 413)
    assert "This file is larger than 5 MB: split it into smaller files" in response.get_data(as_text=True)


def test_an_import_while_redis_is_down_says_so_in_words_not_a_500(coordinator, runtime, group, caplog):
    # Found with Redis stopped mid-run: the upload answered "500 Internal Server Error" (the dry run is
    # kept in Redis: webhooks.console.imports). Now a 503 that says why and that nothing was imported.
    from redis import Redis

    runtime._redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.3)
    csv_file = f"group,phone,name\n{group.name},202-555-0175,Lee Park\n".encode()
    page = coordinator.post(
        "/console/members/import",
        {"file": (io.BytesIO(csv_file), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 503
    said = "Redis, which is not answering right now: nothing was imported. Try again in a minute."
    assert said in page.get_data(as_text=True)
    as_json = coordinator.post(
        "/console/members/import",
        {"file": (io.BytesIO(csv_file), "roster.csv")},
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    assert as_json.status_code == 503 and said in as_json.get_json()["error"]
    assert "Redis unreachable (ConnectionError)" in caplog.text


def test_the_dry_run_flags_a_formula_like_name_lists_reasons_and_names_the_semicolon_fix(
    coordinator, db, group
):
    page = coordinator.get(
        upload(
            coordinator,
            "group,phone,name,channel\n"
            f"{group.name},202-555-0171,=Rosa,sms\n"
            f"{group.name},202-555-0172,,carrier pigeon\n",
        )
    ).get_data(as_text=True)
    # Still imported, with a warning on its row; the bad row's reasons are a list, in words.
    assert "this name starts with &#39;=&#39;: is that right?" in page
    assert "<li>name is missing</li>" in page and "<li>channel must be one of" in page
    assert "1-80" not in page
    refused = coordinator.post(
        "/console/members/import",
        {"file": (io.BytesIO(b"group;phone;name\nTuesday Group;202-555-0173;Ana\n"), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert "separated by semicolons" in refused.get_data(as_text=True)
    assert "CSV UTF-8 (comma delimited)" in refused.get_data(as_text=True)
    # The add form takes such a name too, and says the same.
    added = coordinator.post(
        "/console/members/new",
        {
            "group_id": str(group.id),
            "phone": "202-555-0174",
            "name": "+Lee",
            "language": "en",
            "channel": "sms",
            "consent_source": "paper form at meeting",
            "consent_date": "2026-11-30",
        },
    )
    assert added.status_code == 302
    shown = coordinator.get(added.headers["Location"]).get_data(as_text=True)
    assert "this name starts with &#39;+&#39;: is that right?" in shown
    # The consent record's opt-in line says what consent was given, as the Consent field does.
    assert re.search(r"by Casey in the console\s*· consent: paper form at meeting, Mon, Nov 30, 2026", shown)
    assert "One file with everything we hold (JSON, readable by a computer)" in shown


def test_the_web_servers_admit_a_5_mb_upload_and_the_webhooks_stay_at_64_kib(client):
    # The walk-through's 67 KB roster got "The server answered 413.": waitress (Procfile and `make run`)
    # refused any body over 64 KiB before the app saw it. Both now admit the import's limit; the app
    # holds every other address, the Twilio webhooks included, to 64 KiB.
    from tests.conftest import REPO
    from webhooks import MAX_REQUEST_BYTES
    from webhooks.console import UPLOAD_LIMITS

    upload = UPLOAD_LIMITS["console.members_import"]
    for path in ("Procfile", "checkin/cli/dev.py"):
        [cap] = re.findall(r"--max-request-body-size=(\d+)", (REPO / path).read_text())
        assert int(cap) >= upload + 64 * 1024, path
    assert MAX_REQUEST_BYTES == 64 * 1024
    response = client.post("/twilio/sms", data={"Body": "x" * (MAX_REQUEST_BYTES + 1)})
    assert response.status_code == 413 and "too large" in response.get_data(as_text=True)


def test_edit_phone_and_groups_keeps_the_history_and_refuses_a_taken_number(coordinator, db, group, member):
    with db.session() as s:
        other = add_group(s, "Thursday Group", "America/Chicago")
        add_member(s, group.name, "+12025550199", "Lee Park")
        s.add(
            OutboxItem(idempotency_key="reminder:x", to_number=member.phone, member_id=member.id, body="hi")
        )
    form = {
        "name": "Sam Rivera",
        "phone": "202-555-0199",
        "language": "en",
        "channel": "sms",
        "timezone": "",
        "groups": "1",
        "group_ids": [str(other.id)],
        "consent_source": "paper form at meeting",
        "consent_date": "2026-11-30",
    }
    taken = coordinator.post(f"/console/members/{member.id}/edit", form)
    assert taken.status_code == 400
    said = taken.get_data(as_text=True)
    assert "The number ••• ••• 0199 already belongs to another member" in said
    assert "Lee Park" not in said and "+12025550199" not in said  # (the box keeps what was typed)
    assert (
        coordinator.post(f"/console/members/{member.id}/edit", dict(form, phone="202-555-0177")).status_code
        == 302
    )
    with db.session() as s:
        sam = s.get(Member, member.id)
        assert (sam.phone, [g.name for g in sam.groups]) == ("+12025550177", ["Thursday Group"])
        assert sam.consent_source == "paper form at meeting"
        queued = s.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == "reminder:x"))
        assert (queued.state, queued.to_number) == ("pending", "+12025550177")  # never to the old number
    page = coordinator.get(f"/console/members/{member.id}").get_data(as_text=True)
    assert re.search(
        r"Phone number, consent source, consent date changed; added to Thursday Group; removed from Tuesday Group by Casey on \w{3} \d+, \d+:\d\d [ap]m Chicago time",  # the member's zone now (Thursday Group's)
        page,
    )
    assert "paper form at meeting, Nov 30, 2026" in page
    none = coordinator.post(
        f"/console/members/{member.id}/edit", dict(form, phone="202-555-0177", group_ids=[])
    )
    assert none.status_code == 400 and "at least one group" in none.get_data(as_text=True)


def test_exports_are_for_coordinators_audited_and_follow_the_filters(coordinator, client, db, group, member):
    with db.session() as s:
        add_member(s, group.name, "+12025550102", "=cmd|' /C calc'!A0")
        s.add(
            CheckIn(
                member_id=member.id,
                group_id=group.id,
                state="answered",
                score=2,
                words="rough week",
                prompted_at=utcnow() - timedelta(hours=3),
                answered_at=utcnow() - timedelta(hours=2),
            )
        )
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name])
    frankie = Console(client.application.test_client(), "frankie@example.org")
    assert frankie.post("/console/members/export", {}).status_code == 403
    assert frankie.post("/console/members/checkins-export", {"group": group.id}).status_code == 403
    assert frankie.get("/console/members/import/template.csv").status_code == 403
    assert "Download members" not in frankie.get("/console/members").get_data(as_text=True)

    everyone = coordinator.post("/console/members/export", {})
    assert everyone.data.startswith(b"\xef\xbb\xbf") and everyone.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(everyone.data.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["group", "phone", "name"]
    assert sorted(r[2] for r in rows[1:]) == ["'=cmd|' /C calc'!A0", "Sam Rivera"]
    assert {r[1] for r in rows[1:]} == {"'+12025550101", "'+12025550102"}
    filtered = coordinator.post("/console/members/export", {"q": "sam", "group": group.id})
    assert len(list(csv.reader(io.StringIO(filtered.data.decode("utf-8-sig"))))) == 2
    stamp = utcnow().strftime("%Y-%m-%d")
    assert f'filename="members-Tuesday-Group-{stamp}.csv"' in filtered.headers["Content-Disposition"]
    assert "Phone numbers start with ' so spreadsheets keep the +" in coordinator.get(
        "/console/members"
    ).get_data(as_text=True)
    history = coordinator.post("/console/members/checkins-export", {"group": group.id, "period": "30"})
    assert f'filename="checkins-Tuesday-Group-{stamp}.csv"' in history.headers["Content-Disposition"]
    [head, row] = list(csv.reader(io.StringIO(history.data.decode("utf-8-sig"))))
    assert "words" not in head and row[0] == "Sam Rivera" and row[6] == "2"
    worded = coordinator.post(
        "/console/members/checkins-export", {"group": group.id, "period": "all", "words": "yes"}
    )
    assert list(csv.reader(io.StringIO(worded.data.decode("utf-8-sig"))))[1][-1] == "rough week"
    with db.session() as s:
        details = list(
            s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "export").order_by(AuditEvent.seq))
        )
    assert details == [
        "members CSV: 2 row(s); no filter",
        f"members CSV: 1 row(s); group:{group.id}, text search",
        f"check-ins CSV group:{group.id}: 1 row(s), last 30 days",
        f"check-ins CSV group:{group.id}: 1 row(s), all time, with words",
    ]
    assert coordinator.get("/console/members?quiet=5").status_code == 400


def test_a_filter_the_list_does_not_have_is_refused_with_the_reason_not_ignored(coordinator):
    for query, reason in (
        ("missed=x", "Missed check-ins: the filter is 3 or more in a row"),
        ("trend=up", "Mood: the only filter is"),
        ("group=1&group=abc", "Group: choose one group"),
        ("quiet=-1", "No check-in for: choose"),
    ):
        page = coordinator.get(f"/console/members?{query}")
        assert page.status_code == 400 and reason in page.get_data(as_text=True), query
    export = coordinator.post("/console/members/export", {"trend": "up"})
    assert export.status_code == 400 and "Mood: the only filter is" in export.get_data(as_text=True)


def test_the_members_list_costs_the_same_queries_for_3_or_30_members(coordinator, db, group):
    from sqlalchemy import event

    def statements():
        seen = []
        engine = db.engine

        def count(*_):
            seen.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            page = coordinator.get("/console/members?trend=falling&quiet=14")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert page.status_code == 200
        return len(seen)

    now = utcnow()

    def add(first, last):
        with db.session() as s:
            for n in range(first, last):
                m = add_member(s, group.name, f"+1202555{1000 + n}", f"Member {n}")
                for days, score in ((20, 4), (16, 2)):
                    s.add(
                        CheckIn(
                            member_id=m.id,
                            state="answered",
                            score=score,
                            answered_at=now - timedelta(days=days),
                        )
                    )

    add(0, 3)
    few = statements()
    add(3, 30)
    assert statements() == few

"""Who may see and do what in the console: each role against each page and action.

A facilitator sees only the groups they facilitate; another group's member or escalation is a
404 (not a 403, which would confirm it exists). Coordinator-only actions are 403 for facilitators.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checkin.escalation.models import Escalation
from checkin.models import ConsentEvent, Member, OnCallWindow
from tests.console_helpers import Console, World, cheap_password_hashing, csrf_token, plain_http  # noqa: F401


@pytest.fixture
def world(db, twilio, group, member):
    return World(db, twilio, group, member)


def pages(w):
    """(path, who may open it): 'all' = any signed-in staff, 'coordinator', or 'own' = staff of that group."""
    return [
        ("/console/", "all"),
        ("/console/members", "all"),
        (f"/console/members?group={w.group.id}", "own"),
        (f"/console/members?group={w.other_group.id}", "other"),
        ("/console/members/new", "coordinator"),
        ("/console/members/import", "coordinator"),
        (f"/console/members/{w.member.id}", "own"),
        (f"/console/members/{w.other_member.id}", "other"),
        (f"/console/members/{w.member.id}/edit", "coordinator"),
        ("/console/escalations", "all"),
        (f"/console/escalations/{w.escalation.id}", "own"),
        (f"/console/escalations/{w.other_escalation.id}", "other"),
        ("/console/staff", "all"),
        ("/console/audit", "coordinator"),
        (f"/console/audit?member={w.member.id}", "coordinator"),
        ("/console/reports", "all"),
        (f"/console/reports?group={w.group.id}", "own"),
        (f"/console/reports?group={w.other_group.id}", "other"),
    ]


def test_signed_out_every_page_sends_to_sign_in(client, world):
    for path, _ in pages(world):
        response = client.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"], path


def test_coordinator_opens_every_page(client, world):
    console = Console(client, "casey@example.org")
    for path, _ in pages(world):
        assert console.get(path).status_code == 200, path


def test_facilitator_sees_own_group_only(client, world):
    console = Console(client, "frankie@example.org")
    expected = {"all": 200, "own": 200, "other": 404, "coordinator": 403}
    for path, who in pages(world):
        assert console.get(path).status_code == expected[who], path


def test_facilitator_lists_hold_nothing_from_other_groups(client, world):
    console = Console(client, "frankie@example.org")
    members = console.get("/console/members").get_data(as_text=True)
    assert "Sam Rivera" in members and "Olive Other" not in members
    for path in ("/console/escalations?state=all", "/console/"):
        page = console.get(path).get_data(as_text=True)
        assert f"#{world.escalation.id}<" in page and f"#{world.other_escalation.id}<" not in page, path
    staff = console.get("/console/staff").get_data(as_text=True)
    assert "Tuesday Group" in staff and "Thursday Group" not in staff and "Reset password" not in staff


def test_facilitator_can_take_and_resolve_own_groups_escalation_but_not_another_groups(client, db, world):
    console = Console(client, "frankie@example.org")
    other = world.other_escalation.id
    for action, data in (
        ("acknowledge", {}),
        ("resolve", {"note": "called"}),
        ("note", {"note": "x"}),
        ("reassign", {"staff_id": world.other_facilitator.id}),
    ):
        assert console.post(f"/console/escalations/{other}/{action}", data).status_code == 404, action
    own = world.escalation.id
    assert console.post(f"/console/escalations/{own}/acknowledge").status_code == 302
    assert console.post(f"/console/escalations/{own}/note", {"note": "Spoke with Sam"}).status_code == 302
    assert (
        console.post(f"/console/escalations/{own}/resolve", {"note": "Safe with family"}).status_code == 302
    )
    with db.session() as s:
        assert s.get(Escalation, own).state == "resolved"
        assert s.get(Escalation, other).state == "open"


def test_facilitator_cannot_change_members_or_staff(client, db, world):
    console = Console(client, "frankie@example.org")
    m = world.member.id
    forbidden = [a for a in actions(world) if not a[0].startswith("/console/escalations/")]
    for path, data in forbidden:
        assert console.post(path, data).status_code == 403, path
    with db.session() as s:  # their own shifts too: the rota is a coordinator's to change
        assert [w.id for w in s.scalars(select(OnCallWindow))] == [world.window.id]
    with db.session() as s:
        member = s.get(Member, m)
        assert (member.display_name, member.status) == ("Sam Rivera", "active")
        assert s.scalar(select(Member).where(Member.phone == "+12025550144")) is None


def test_coordinator_reaching_another_groups_member_edits_it(client, db, world):
    console = Console(client, "casey@example.org")
    response = console.post(
        f"/console/members/{world.other_member.id}/consent",
        {"kind": "opt_out", "how": "text", "confirm": "yes"},
    )
    assert response.status_code == 302
    with db.session() as s:
        assert s.get(Member, world.other_member.id).status == "opted_out"
        event = s.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.member_id == world.other_member.id)
            .order_by(ConsentEvent.id.desc())
        ).first()
        assert (event.kind, event.source) == ("opt_out", f"staff:{world.coordinator.id}")


def test_posts_without_the_csrf_token_change_nothing(client, db, world):
    Console(client, "casey@example.org")
    esc = world.escalation.id
    for path, data in (
        (f"/console/escalations/{esc}/acknowledge", {}),
        (f"/console/members/{world.member.id}/consent", {"kind": "opt_out"}),
        ("/console/staff/new", {"name": "X", "email": "x@example.org", "role": "coordinator"}),
    ):
        assert client.post(path, data=data).status_code == 400, path
        assert client.post(path, data=dict(data, csrf_token="forged")).status_code == 400, path
    with db.session() as s:
        assert s.get(Escalation, esc).state == "open"
        assert s.get(Member, world.member.id).status == "active"


def test_a_token_from_another_session_is_refused(app, client, world):
    other = app.test_client()
    token = csrf_token(other)
    Console(client, "casey@example.org")
    response = client.post(
        f"/console/escalations/{world.escalation.id}/acknowledge", data={"csrf_token": token}
    )
    assert response.status_code == 400


def actions(w):
    """Every console form action, with a body that would succeed for someone allowed."""
    esc, m = w.escalation.id, w.member.id
    return [
        (f"/console/escalations/{esc}/acknowledge", {}),
        (f"/console/escalations/{esc}/resolve", {"note": "done"}),
        (f"/console/escalations/{esc}/note", {"note": "x"}),
        (f"/console/escalations/{esc}/reassign", {"staff_id": w.facilitator.id}),
        (
            "/console/members/new",
            {
                "group_id": w.group.id,
                "phone": "+12025550144",
                "name": "New",
                "language": "en",
                "channel": "sms",
            },
        ),
        (f"/console/members/{m}/edit", {"name": "Changed", "language": "en", "channel": "sms"}),
        (f"/console/members/{m}/pause", {"action": "pause"}),
        (f"/console/members/{m}/consent", {"kind": "opt_out", "how": "call", "confirm": "yes"}),
        ("/console/staff/new", {"name": "X", "email": "x@example.org", "role": "coordinator"}),
        (f"/console/staff/{w.facilitator.id}/password", {}),
        (f"/console/staff/rota/{w.group.id}/{w.facilitator.id}", {"action": "tier", "tier": "backup"}),
        (f"/console/staff/rota/{w.group.id}", {"staff_id": w.coordinator.id, "tier": "backup"}),
        (
            f"/console/staff/rota/{w.group.id}/windows",
            {
                "form": "weekly",
                "staff_id": w.facilitator.id,
                "days": ["1", "2"],
                "start": "09:00",
                "end": "17:00",
                "ends": "0",
            },
        ),
        (
            f"/console/staff/rota/{w.group.id}/windows",
            {
                "form": "dated",
                "staff_id": w.facilitator.id,
                "kind": "away",
                "starts": "2030-01-01T09:00",
                "ends_at": "2030-01-02T09:00",
            },
        ),
        (f"/console/staff/rota/{w.group.id}/windows/{w.window.id}/remove", {}),
    ]


def test_signed_out_posts_are_refused(client, db, world):
    token = csrf_token(client)
    for path, data in actions(world):
        assert client.post(path, data=dict(data, csrf_token=token)).status_code == 401, path
    with db.session() as s:
        assert s.get(Escalation, world.escalation.id).state == "open"
        assert s.get(Member, world.member.id).status == "active"


def test_coordinator_may_take_every_action(client, db, world):
    console = Console(client, "casey@example.org")
    for path, data in actions(world):
        assert console.post(path, data).status_code in (200, 302), path
    with db.session() as s:
        assert s.get(Escalation, world.escalation.id).state == "resolved"
        assert s.get(Member, world.member.id).status == "opted_out"
        assert s.scalar(select(Member.display_name).where(Member.phone == "+12025550144")) == "New"
        assert sorted(w.kind for w in s.scalars(select(OnCallWindow))) == [
            "away",
            "weekly",
        ]  # the first one removed


def test_facilitator_may_go_off_call_themselves_but_not_take_others_off(client, db, world):
    from checkin.directory import add_staff
    from checkin.models import GroupStaff

    with db.session() as s:
        bo = add_staff(s, "Bo", "bo@example.org", "facilitator", "+12025550179", [world.group.name])
    console = Console(client, "frankie@example.org")
    g = world.group.id
    assert (
        console.post(f"/console/staff/rota/{g}/{bo.id}", {"action": "on_call", "on_call": "no"}).status_code
        == 403
    )
    assert (
        console.post(
            f"/console/staff/rota/{world.other_group.id}/{world.other_facilitator.id}",
            {"action": "on_call", "on_call": "no"},
        ).status_code
        == 404
    )
    assert (
        console.post(
            f"/console/staff/rota/{g}/{world.facilitator.id}", {"action": "on_call", "on_call": "no"}
        ).status_code
        == 302
    )
    with db.session() as s:
        assert s.get(GroupStaff, (g, world.facilitator.id)).on_call is False
        assert s.get(GroupStaff, (g, bo.id)).on_call is True
    page = console.get("/console/staff").get_data(as_text=True)
    assert "Put on call: Frankie, Tuesday Group" in page and "Take off call: Bo" not in page


def test_a_console_address_no_page_answers_gets_the_console_error_page(client, world):
    """A link cut short in an alert SMS, a typo, a GET on a form's address: a page in words, not JSON."""
    console = Console(client, "frankie@example.org")
    for path, code, words in (
        ("/console/escalations/12x", 404, "Not Found"),
        ("/console/nothing-here", 404, "Not Found"),
        (f"/console/escalations/{world.escalation.id}/acknowledge", 405, "Method Not Allowed"),
    ):
        response = console.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == code and response.content_type.startswith("text/html"), path
        assert f"<h1>{words}</h1>" in page and "Back to the console home" in page, path
        assert "Frankie" in page and response.headers["Cache-Control"] == "no-store", (
            path
        )  # the console's layout and headers
    signed_out = client.application.test_client().get("/console/nothing-here")
    assert signed_out.status_code == 404 and "Back to the console home" in signed_out.get_data(as_text=True)
    assert client.get("/healthz/nothing").is_json  # outside the console errors stay JSON


def test_console_pages_while_the_database_is_down_say_so_in_words(client, runtime, db, caplog):
    # Found with PostgreSQL refusing connections: a signed-in page answered waitress's bare "Internal
    # Server Error", since the 500 page's layout asked the database again who is signed in, and each
    # request logged two chained tracebacks. The same browser, signed in before the outage:
    from dataclasses import replace

    from checkin.bootstrap import Runtime
    from tests.console_helpers import make_staff
    from webhooks import create_app

    make_staff(db, "Casey", "casey@example.org", "coordinator")
    console = Console(client, "casey@example.org")
    down = Runtime.build(replace(runtime.settings, database_url="postgresql://postgres@127.0.0.1:9/checkin"))
    try:
        browser = create_app(runtime=down).test_client()
        browser.set_cookie("session", client.get_cookie("session").value)
        for path in ("/console/", "/console/members"):
            page = browser.get(path)
            assert page.status_code == 503, path
            text = page.get_data(as_text=True)
            assert (
                "The database is not answering, so this page cannot be shown and nothing was changed." in text
            )
        signing_in = browser.post(
            "/console/login",
            data={"email": "casey@example.org", "password": "x", "csrf_token": console.token},
        )
        assert signing_in.status_code == 503
    finally:
        down.db.dispose()
    assert "console console.members: DATABASE UNREACHABLE (OperationalError)" in caplog.text
    assert "Traceback" not in caplog.text

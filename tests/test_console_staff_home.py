"""Staff and rota pages, and the home page's sends: what goes out today and how yesterday went."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checkin import outbox
from checkin.accounts.models import AuditEvent
from checkin.db import utcnow
from checkin.models import GroupStaff, Message, StaffUser
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http, sign_in  # noqa: F401


@pytest.fixture
def coordinator(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


def invite_link(response) -> str:
    return re.search(
        r'<code id="invite-link" class="link">([^<]+)</code>', response.get_data(as_text=True)
    ).group(1)


def set_password_with(link: str, client, password: str):
    path = link[link.index("/console/welcome/") :]
    page = client.get(path).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(path, data={"password": password, "password2": password, "csrf_token": token})


def test_inviting_staff_shows_a_one_time_link_that_lets_them_choose_a_password(app, coordinator, db, group):
    response = coordinator.post(
        "/console/staff/new",
        {
            "name": "Robin",
            "email": "Robin@Example.org",
            "role": "facilitator",
            "phone": "202-555-0188",
            "groups": str(group.id),
            "tier": "backup",
        },
    )
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    shown = response.get_data(as_text=True)
    assert re.search(r"\d:\d\d [ap]m New York time", shown) and " UTC" not in shown  # the group's zone
    url = invite_link(response)
    with db.session() as s:
        robin = s.scalar(select(StaffUser).where(StaffUser.email == "robin@example.org"))
        link = s.get(GroupStaff, (group.id, robin.id))
        assert (robin.role, robin.phone, link.tier, link.on_call) == (
            "facilitator",
            "+12025550188",
            "backup",
            True,
        )
        assert robin.password_hash is None  # no temporary password: the link is the only way in
    assert set_password_with(url, app.test_client(), "robin chooses her own").status_code == 302
    assert sign_in(app.test_client(), "robin@example.org", "robin chooses her own").status_code == 302


def test_add_staff_with_a_taken_email_says_so(coordinator, db):
    response = coordinator.post(
        "/console/staff/new", {"name": "Casey 2", "email": "casey@example.org", "role": "coordinator"}
    )
    assert response.status_code == 400
    assert (
        "Casey already has an account with this email. To send them a new link, use Reset password "
        "next to their name." in response.get_data(as_text=True)
    )


def test_a_refused_invite_shows_the_error_at_the_form_and_keeps_every_choice(coordinator, db, group):
    response = coordinator.post(
        "/console/staff/new",
        {
            "name": "Robin",
            "email": "robin@example.org",
            "role": "facilitator",
            "phone": "555 0188",
            "groups": str(group.id),
            "tier": "backup",
        },
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    form = page[page.index('id="invite"') :]
    assert 'action="/console/staff/new#invite"' in form  # the browser lands on the form, not the page top
    assert (
        '<p class="field-error" id="s-phone-error">That phone number looks too short: '
        "include the area code, e.g. 312 555 0199</p>" in form
    )
    assert '<a href="#invite">' in page[: page.index('id="invite"')]
    assert re.search(r'id="s-phone"[^>]*aria-invalid="true" aria-describedby="s-phone-error"', form)
    assert re.search(r'id="error-summary"[^>]*data-focus', form)  # focus.js puts the focus on the summary
    assert re.search(rf'name="groups" value="{group.id}" checked', form)
    assert "<option selected>backup</option>" in form and "<option selected>facilitator</option>" in form
    assert 'id="s-name" name="name" type="text" required maxlength="80" value="Robin"' in form

    bad_email = coordinator.post("/console/staff/new", {"name": "Robin", "email": "robin.example.org"})
    assert "it should look like name@example.org" in bad_email.get_data(as_text=True)
    for groups in ("abc", "999"):  # not an id, not a group: refused, not an invite into no group
        odd = coordinator.post(
            "/console/staff/new",
            {"name": "Robin", "email": "robin@example.org", "role": "facilitator", "groups": groups},
        )
        assert odd.status_code == 400 and "Choose the groups from the list" in odd.get_data(as_text=True)
    with db.session() as s:
        assert s.scalar(select(StaffUser).where(StaffUser.name == "Robin")) is None


def test_each_refused_invite_says_what_to_fix_in_the_forms_words_at_its_field(coordinator, db, group):
    """The form says each refusal in its words, at the field it is about (add_staff's own refusal included)."""
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", phone="+12025550177")
    robin = {"name": "Robin", "email": "robin@example.org", "role": "facilitator", "tier": "primary"}
    for changed, field, words in (
        ({"name": "  "}, "s-name", "can&#39;t be only spaces"),
        ({"email": "robin.example.org"}, "s-email", "“robin.example.org” is not an email address"),
        ({"email": "Frankie@Example.org"}, "s-email", "Frankie already has an account with this email."),
        ({"phone": "202 555 0177"}, "s-phone", "Frankie is already alerted on that phone number"),
        ({"phone": "202 555 0177 x2"}, "s-phone", "Only digits, spaces and + - ( ) . belong in a phone"),
        ({"phone": "202 555 01777"}, "s-phone", "That phone number looks too long"),
        ({"role": "owner"}, "s-role", "must be one of facilitator, coordinator, not &#39;owner&#39;"),
    ):
        response = coordinator.post("/console/staff/new", robin | changed)
        assert response.status_code == 400, changed
        form = response.get_data(as_text=True).split('id="invite"', 1)[1]
        assert words in form, changed
        marked = re.findall(r'id="(s-[a-z]+)"[^>]*aria-invalid="true"', form)
        assert marked == ([field] if field else []), (changed, marked)
    with db.session() as s:
        assert s.scalar(select(StaffUser).where(StaffUser.name == "Robin")) is None


def test_password_reset_sends_a_link_ends_the_old_password_and_their_sessions(app, coordinator, db, group):
    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name])
    theirs = Console(app.test_client(), "frankie@example.org")
    link = invite_link(coordinator.post(f"/console/staff/{frankie.id}/password"))
    assert theirs.get("/console/").status_code == 302  # signed out by the reset
    assert sign_in(app.test_client(), "frankie@example.org").status_code == 401  # the old password is gone
    assert set_password_with(link, app.test_client(), "frankie's new password").status_code == 302
    assert sign_in(app.test_client(), "frankie@example.org", "frankie's new password").status_code == 302
    with db.session() as s:
        assert s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "invite_sent")).startswith(
            f"staff:{frankie.id} reset link:"
        )


def test_rota_shows_who_is_on_call_and_toggles(coordinator, db, group):
    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    page = coordinator.get("/console/staff").get_data(as_text=True)
    assert "Take off call: Frankie, Tuesday Group" in page
    page = coordinator.post(
        f"/console/staff/rota/{group.id}/{frankie.id}",
        {"action": "on_call", "on_call": "no"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "nobody is on call as primary for this group now" in page
    assert "Put on call: Frankie, Tuesday Group" in page
    with db.session() as s:
        assert s.get(GroupStaff, (group.id, frankie.id)).on_call is False
    coordinator.post(f"/console/staff/rota/{group.id}/{frankie.id}", {"action": "tier", "tier": "backup"})
    with db.session() as s:
        assert s.get(GroupStaff, (group.id, frankie.id)).tier == "backup"


def test_add_someone_to_a_groups_rota(coordinator, db, group):
    bo = make_staff(db, "Bo", "bo@example.org", "facilitator", [], "+12025550179")
    coordinator.post(f"/console/staff/rota/{group.id}", {"staff_id": bo.id, "tier": "primary"})
    with db.session() as s:
        link = s.get(GroupStaff, (group.id, bo.id))
        assert (link.tier, link.on_call) == ("primary", True)


def test_home_lists_todays_sends_and_yesterdays_results_with_reasons(
    coordinator, db, group, member, spanish_member
):
    zone = ZoneInfo(group.timezone)
    yesterday_noon = datetime.combine(utcnow().astimezone(zone).date() - timedelta(days=1), time(12), zone)
    with db.session() as s:
        outbox.add(
            s,
            "reminder:test:1",
            to=member.phone,
            body="Meeting tonight",
            member_id=member.id,
            purpose="reminder",
        )
        common = {"from_number": group.phone_number, "created_at": yesterday_noon}
        s.add_all(
            [
                Message(
                    direction="outbound",
                    member_id=member.id,
                    to_number=member.phone,
                    status="delivered",
                    **common,
                ),
                Message(
                    direction="outbound",
                    member_id=spanish_member.id,
                    to_number=spanish_member.phone,
                    status="undelivered",
                    error_code=30005,
                    **common,
                ),
                Message(
                    direction="inbound",
                    member_id=member.id,
                    to_number=group.phone_number,
                    status="received",
                    body="4",
                    **dict(common, from_number=member.phone),
                ),
                # Two days ago: not yesterday.
                Message(
                    direction="outbound",
                    member_id=member.id,
                    to_number=member.phone,
                    status="failed",
                    **dict(common, created_at=yesterday_noon - timedelta(days=1)),
                ),
            ]
        )
    page = coordinator.get("/console/").get_data(as_text=True)
    today = page[page.index("Still to send today") : page.index('id="y-h"')]
    assert "Sam Rivera" in today and "reminder" in today and "queued" in today
    yesterday = page[page.index('id="yesterday"') :]
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", yesterday))
    assert facts == {"Sent": "2", "Delivered": "1", "Not confirmed yet": "0", "Failed": "1", "Replies": "1"}
    assert "1 × the number is unknown or no longer in service" in yesterday
    assert "Rosa Medina</a>: the number is unknown or no longer in service" in yesterday


ZONES = (
    "Pacific/Honolulu",
    "America/Los_Angeles",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def test_home_shows_what_the_planner_will_send_later_today(client, db):
    from checkin.directory import add_group, add_member
    from checkin.schedules import set_schedule

    # A zone where it is morning now, so a meeting at 20:00 has its 2-hour reminder later today, awake hours.
    zone = next(z for z in ZONES if 7 <= utcnow().astimezone(ZoneInfo(z)).hour <= 13)
    with db.session() as s:
        morning = add_group(s, "Morning Group", zone, "+15005550006")
        add_member(s, morning.name, "+12025550101", "Sam Rivera")
        set_schedule(s, morning.id, rrule="FREQ=DAILY", start_local=time(20, 0), duration_minutes=60)
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    page = Console(client, "casey@example.org").get("/console/").get_data(as_text=True)
    today = page[page.index("Still to send today") : page.index('id="y-h"')]
    assert re.search(
        r"6:00 pm <small class=\"muted\">"
        + re.escape(zone.rsplit("/", 1)[-1].replace("_", " "))
        + r" time</small></td>\s*<td data-label=\"Member\">"
        r"<a href=\"/console/members/\d+\">Sam Rivera</a></td>\s*<td data-label=\"What\">Meeting reminder</td>",
        today,
    )
    assert "planned" in today


def test_deactivated_staff_are_signed_out_cannot_sign_in_and_get_no_alerts(
    app, coordinator, db, group, twilio, member
):
    from checkin.escalation.models import Escalation
    from tests.console_helpers import CRISIS_TEXT

    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    theirs = Console(app.test_client(), "frankie@example.org")
    assert coordinator.post(f"/console/staff/{frankie.id}/active", {"active": "no"}).status_code == 302
    assert theirs.get("/console/").status_code == 302
    assert sign_in(app.test_client(), "frankie@example.org").status_code == 401
    twilio.sms(member.phone, CRISIS_TEXT)
    with db.session() as s:
        esc = s.scalar(select(Escalation))
        alerted = set(
            s.scalars(
                select(outbox.OutboxItem.to_number).where(
                    outbox.OutboxItem.idempotency_key.like(f"alert:{esc.id}:%")
                )
            )
        )
    assert "+12025550177" not in alerted
    coordinator.post(f"/console/staff/{frankie.id}/active", {"active": "yes"})
    assert sign_in(app.test_client(), "frankie@example.org").status_code == 302


def test_a_coordinator_cannot_deactivate_themselves(coordinator, db):
    with db.session() as s:
        me = s.scalar(select(StaffUser).where(StaffUser.email == "casey@example.org"))
    assert coordinator.post(f"/console/staff/{me.id}/active", {"active": "no"}).status_code == 400
    assert coordinator.get("/console/").status_code == 200


def test_a_coordinator_changes_a_facilitators_alert_phone_and_alerts_go_to_the_new_number(
    app, coordinator, db, group, twilio, member
):
    from checkin.escalation.models import Escalation
    from tests.console_helpers import CRISIS_TEXT

    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    page = coordinator.get("/console/staff").get_data(as_text=True)
    assert f'<label for="phone-{frankie.id}" class="sr-only">Phone for alerts of Frankie</label>' in page
    # Casey, the only coordinator, has no phone: the last alerts of a policy would reach nobody.
    assert 'id="no-coordinator-phone"' in page
    bad = coordinator.post(f"/console/staff/{frankie.id}/phone", {"phone": "202-555-01"})
    assert (
        bad.status_code == 400
        and "Frankie: phone for alerts: &#39;202-555-01&#39; is not" in bad.get_data(as_text=True)
    )
    robin = make_staff(db, "Robin", "robin@example.org", "coordinator", [], "+12025550166")
    taken = coordinator.post(f"/console/staff/{frankie.id}/phone", {"phone": "(202) 555-0166"})
    assert taken.status_code == 400 and "another staff user has that number" in taken.get_data(as_text=True)
    with db.session() as s:
        assert s.get(StaffUser, frankie.id).phone == "+12025550177"  # refused changes change nothing
    assert (
        coordinator.post(f"/console/staff/{frankie.id}/phone", {"phone": "202-555-0155"}).status_code == 302
    )
    assert 'id="no-coordinator-phone"' not in coordinator.get("/console/staff").get_data(
        as_text=True
    )  # Robin has one
    # A facilitator cannot change anyone's alert phone.
    assert (
        Console(app.test_client(), "frankie@example.org")
        .post(f"/console/staff/{robin.id}/phone", {"phone": ""})
        .status_code
        == 403
    )
    twilio.sms(member.phone, CRISIS_TEXT)
    with db.session() as s:
        esc = s.scalar(select(Escalation))
        alerted = set(
            s.scalars(
                select(outbox.OutboxItem.to_number).where(
                    outbox.OutboxItem.idempotency_key.like(f"alert:{esc.id}:%")
                )
            )
        )
        assert (
            s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "staff_edited"))
            == f"staff:{frankie.id} phone for alerts changed"
        )
    assert "+12025550155" in alerted and "+12025550177" not in alerted

"""The welcome text a coordinator can send a member they add: who is texting, HELP and STOP, in the
member's language, in their daytime, never to someone reached by phone call or who has said STOP."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from checkin import consent, templates, welcome
from checkin.db import utcnow
from checkin.models import Group, Member, OutboxItem
from tests.conftest import FROM_NUMBER, zone_where_it_is
from tests.console_helpers import Console, cheap_password_hashing, make_staff  # noqa: F401


@pytest.fixture
def coordinator(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


def add(coordinator, group, phone: str, **more):
    form = {"group_id": group.id, "phone": phone, "name": "Lee Park", "language": "en", "channel": "sms"}
    return coordinator.post("/console/members/new", form | more)


def welcomes(db) -> list[OutboxItem]:
    with db.session() as s:
        return list(s.scalars(select(OutboxItem).where(OutboxItem.purpose == "welcome")))


def test_the_add_form_offers_the_welcome_ticked(coordinator):
    page = coordinator.get("/console/members/new").get_data(as_text=True)
    assert 'name="welcome" value="1" checked' in page and "STOP stops the texts" in page


def test_a_member_added_in_their_day_is_welcomed_now_from_the_groups_number(coordinator, db, group):
    before = utcnow()
    response = add(coordinator, group, "(202) 555-0144", timezone=zone_where_it_is(12, before), welcome="1")
    after = utcnow()
    assert response.status_code == 302
    [text] = welcomes(db)
    with db.session() as s:
        lee = s.scalar(select(Member).where(Member.phone == "+12025550144"))
    assert (text.idempotency_key, text.to_number, text.from_number) == (
        f"welcome:{lee.id}",
        lee.phone,
        FROM_NUMBER,
    )
    assert text.body == (
        "Checkin for Tuesday Group: you'll get meeting reminders and check-ins here. "
        "Reply HELP for help, STOP to stop. In a crisis, call or text 988."
    )
    assert before <= text.next_attempt_at <= after and text.state == "pending"
    page = coordinator.get(f"/console/members/{lee.id}").get_data(as_text=True)
    assert "A welcome text goes to them in their daytime." in page


def test_a_member_added_in_their_night_is_welcomed_when_their_day_starts(coordinator, db, group):
    now = utcnow()
    zone = zone_where_it_is(2, now)  # 02:00 there: the welcome waits for 08:00, the window's opening
    assert (
        add(coordinator, group, "202-555-0145", timezone=zone, welcome="1", language="es").status_code == 302
    )
    [text] = welcomes(db)
    local = text.next_attempt_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (8, 0) and text.next_attempt_at > now
    assert text.body == templates.render("welcome", "es", group="Tuesday Group")  # in their language
    assert "BAJA (o STOP) para parar" in text.body and "AYUDA" in text.body


def test_no_welcome_by_phone_call_or_when_not_ticked(coordinator, db, group):
    assert add(coordinator, group, "202-555-0146", channel="voice", welcome="1").status_code == 302
    assert add(coordinator, group, "202-555-0147").status_code == 302  # the box left unticked
    assert welcomes(db) == []


def test_no_welcome_after_a_stop_and_the_send_gate_keeps_their_night(db, group, member):
    now = utcnow()
    with db.session() as s:
        sam, tuesday = s.get(Member, member.id), s.get(Group, group.id)
        item = welcome.queue(s, sam, tuesday, now)
        assert item is not None and welcome.queue(s, sam, tuesday, now).id == item.id  # once per member
        # At 02:00 in Sam's zone (the group's), a welcome still waiting is held until 08:00.
        night = datetime(2026, 12, 8, 2, 0, tzinfo=ZoneInfo(group.timezone))
        assert welcome.send_gate(s, item, night) == night.replace(hour=8)
        assert welcome.send_gate(s, item, night.replace(hour=12)) is None
        s.commit()
    with db.session() as s:
        s.execute(OutboxItem.__table__.delete())
        sam = s.get(Member, member.id)
        consent.opt_out(s, sam, source="keyword:STOP")
        assert welcome.queue(s, sam, s.get(Group, group.id), now + timedelta(minutes=1)) is None


# --- the CLI's add and the CSV import offer it too, by the same rules ----------------------------


@pytest.fixture
def cli(env, monkeypatch):
    from click.testing import CliRunner

    from checkin.cli import cli as checkin

    for name, value in {**env, "MESSAGING_BACKEND": "console"}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(checkin, ["members", "add", *args])


def test_the_cli_add_welcomes_by_default_says_when_and_not_with_no_welcome(cli, db, group):
    zone = zone_where_it_is(2, utcnow())  # their night: it waits for 08:00 there
    added = cli("--group", group.name, "--phone", "202-555-0150", "--name", "Ana Ruiz", "--timezone", zone)
    assert added.exit_code == 0, added.output
    [text] = welcomes(db)
    local = text.next_attempt_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (8, 0) and text.from_number == FROM_NUMBER
    assert f"welcome text planned for {local:%a %Y-%m-%d} 08:00" in added.output
    assert "Reply HELP for help, STOP to stop. In a crisis, call or text 988." in text.body
    quiet = cli("--group", group.name, "--phone", "202-555-0151", "--name", "Bo", "--no-welcome")
    by_phone = cli("--group", group.name, "--phone", "202-555-0152", "--name", "Cy", "--channel", "voice")
    assert quiet.exit_code == 0 and "welcome" not in quiet.output
    assert by_phone.exit_code == 0 and "no welcome text: they are reached by phone call" in by_phone.output
    assert len(welcomes(db)) == 1


def test_the_csv_import_welcomes_new_members_unless_the_column_says_no(coordinator, db, group):
    from checkin import member_import

    rows = member_import.parse(
        b"group,phone,name,channel,welcome\n"
        b"Tuesday Group,202-555-0160,Eve,sms,\n"
        b"Tuesday Group,202-555-0161,Fay,sms,no\n"
        b"Tuesday Group,202-555-0162,Gus,voice,yes\n"
        b"Tuesday Group,202-555-0163,Hal,sms,maybe\n"
    )
    with db.session() as s:
        plan = member_import.plan(s, rows, today=utcnow().date())
        assert [r.values.get("welcome") for r in plan.of("add")] == ["yes", "no", "yes"]
        [bad] = plan.of("error")
        assert bad.reasons == ["welcome must be yes or no (empty: yes), not 'maybe'"]
        applied = member_import.apply(s, plan, staff_id=None)
    assert applied.added == 3 and applied.welcomed == 1  # Eve: Fay said no, Gus is called
    [text] = welcomes(db)
    with db.session() as s:
        assert s.get(Member, text.member_id).display_name == "Eve"
    # Imported again, Eve is unchanged and not welcomed twice.
    with db.session() as s:
        again = member_import.apply(s, member_import.plan(s, rows, today=utcnow().date()), staff_id=None)
    assert again.welcomed == 0 and len(welcomes(db)) == 1


def test_the_import_template_and_page_offer_the_welcome_column(coordinator):
    from checkin import member_import

    header = member_import.template_csv().decode("utf-8-sig").splitlines()[0]
    assert header.endswith(",welcome")
    page = coordinator.get("/console/members/import").get_data(as_text=True)
    assert (
        "<code>welcome</code>: <strong>yes</strong> (or empty) sends each new member the welcome text" in page
    )


# --- one place decides a member's zone ----------------------------------------------------------


def test_a_member_without_a_zone_is_welcomed_in_the_day_of_the_group_that_texts_them(db, group):
    from checkin.directory import add_group, add_member

    now = utcnow()
    with db.session() as s:
        far = add_group(s, "Far Group", zone_where_it_is(2, now), "+12025550199")
        near = s.get(Group, group.id)
        near.timezone = zone_where_it_is(12, now)
        lee = add_member(s, near.name, "+12025550170", "Lee")
        lee.groups.append(far)
        s.flush()
        # Lee has no zone of their own: the welcome from Far Group waits for Far Group's morning, as the
        # send gate at the time it goes will (both ask Member.zone_in).
        item = welcome.queue(s, lee, far, now)
        assert lee.zone_in(far) == far.timezone and lee.zone_in(near) == near.timezone
        local = item.next_attempt_at.astimezone(ZoneInfo(far.timezone))
        assert (local.hour, local.minute) == (8, 0)
        assert welcome.send_gate(s, item, now) == item.next_attempt_at
        lee.timezone = "Pacific/Kiritimati"  # their own zone, once set, wins over every group's
        assert lee.zone_in(far) == lee.zone_in(near) == lee.effective_timezone == "Pacific/Kiritimati"

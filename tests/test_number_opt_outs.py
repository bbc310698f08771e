"""STOP from a number that is no member's: confirmed, remembered (as the number's keyed hash), and applied
when that number is added as a member, by the CLI or a CSV import. A number added 14 s after its STOP
was reminded of a meeting: that broke the promise the confirmation made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import said

CHECKIN = str(Path(sys.executable).parent / "checkin")
STRANGER = "+12025550177"


@pytest.fixture
def cli_env(env):
    return {**os.environ, **env, "MESSAGING_BACKEND": "console"}


def _members_add(cli_env, group_name, phone, *extra):
    return subprocess.run(
        [CHECKIN, "members", "add", "--group", group_name, "--phone", phone, "--name", "Robin", *extra],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stop_from_a_stranger_is_confirmed_and_the_number_is_added_opted_out_by_the_cli(
    twilio, db, group, cli_env
):
    from checkin.models import ConsentEvent, Member, NumberOptOut, OutboxItem

    answer = said(twilio.sms(STRANGER, "STOP"))
    assert len(answer) == 1 and answer[0].startswith("You will get no more texts")
    assert "Reply STOP" not in answer[0]
    assert said(twilio.sms(STRANGER, "STOP")) == []  # one confirmation, as for a member
    with db.session() as s:
        kept = s.scalars(select(NumberOptOut.phone_digest)).all()
    assert len(kept) == 1 and STRANGER not in kept[0] and "2025550177" not in kept[0]  # a keyed hash

    result = _members_add(cli_env, group.name, STRANGER, "--welcome")
    assert result.returncode == 0, result.stderr
    assert "added OPTED OUT" in result.stdout and "texted STOP before" in result.stdout
    with db.session() as s:
        member = s.scalar(select(Member).where(Member.phone == STRANGER))
        events = s.scalars(
            select(ConsentEvent.kind).where(ConsentEvent.member_id == member.id).order_by(ConsentEvent.id)
        )
        queued = s.scalars(select(OutboxItem.id).where(OutboxItem.to_number == STRANGER)).all()
        assert member.opted_out and list(events) == ["opt_in", "opt_out"]
        assert s.scalars(select(NumberOptOut)).all() == []  # the member's own record holds it now
    assert queued == []  # no welcome text, nothing planned


def test_start_from_the_stranger_before_being_added_lets_them_be_added_opted_in(twilio, db, group, cli_env):
    from checkin.models import Member

    said(twilio.sms(STRANGER, "STOP"))
    said(twilio.sms(STRANGER, "START"))
    result = _members_add(cli_env, group.name, STRANGER)
    assert result.returncode == 0 and "OPTED OUT" not in result.stdout
    with db.session() as s:
        assert not s.scalar(select(Member).where(Member.phone == STRANGER)).opted_out


def test_a_csv_import_adds_a_number_that_said_stop_opted_out_and_says_how_many(twilio, db, group):
    from checkin import member_import
    from checkin.db import utcnow
    from checkin.models import Member

    said(twilio.sms(STRANGER, "STOP"))
    csv = f"group,phone,name\n{group.name},{STRANGER},Robin\n{group.name},+12025550178,Kai\n".encode()
    with db.session() as s:
        plan = member_import.plan(s, member_import.parse(csv), today=utcnow().date())
        applied = member_import.apply(s, plan, staff_id=None)
    assert (applied.added, applied.opted_out) == (2, 1)
    with db.session() as s:
        status = dict(s.execute(select(Member.phone, Member.status)).all())
    assert status == {STRANGER: "opted_out", "+12025550178": "active"}


def test_the_console_says_why_a_member_is_added_opted_out_and_when(twilio, db, group, client):
    from checkin.models import Member, Message
    from tests.console_helpers import Console, make_staff
    from webhooks.console import words

    said(twilio.sms(STRANGER, "STOP"))
    with db.session() as s:
        stop_at = s.scalar(select(Message.created_at).where(Message.from_number == STRANGER))
    on = words.when(stop_at, group.timezone, year=True, zone=False) + " New York time"  # its zone named
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    console = Console(client, "casey@example.org")
    added = console.post(
        "/console/members/new",
        {
            "group_id": group.id,
            "phone": STRANGER,
            "name": "Robin",
            "language": "en",
            "channel": "sms",
            "timezone": "",
            "welcome": "1",
        },
    )
    assert added.status_code == 302
    with db.session() as s:
        assert s.scalar(select(Member.status).where(Member.phone == STRANGER)) == "opted_out"
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert (
        f"Robin was added opted out: their number texted STOP on {on}, before they were added. "
        "Nothing automated is sent to them (no welcome text) until they text START."
    ) in page
    assert f"Their number texted STOP on {on}, before they were added: nothing automated" in page

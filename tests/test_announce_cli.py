"""`checkin announce` as a coordinator runs it: the preview line, one send per words and day, a clear
one-line refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from checkin.announcements.models import Announcement
from checkin.db import utcnow
from checkin.models import Member, OutboxItem
from tests.conftest import zone_where_it_is


@pytest.fixture
def cli(env, monkeypatch):
    from click.testing import CliRunner

    from checkin.cli import cli as checkin

    for key, value in {**env, "MESSAGING_BACKEND": "console"}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(checkin, ["announce", *args])


@pytest.fixture
def people(db, group):
    from checkin.directory import add_member

    now = utcnow()
    with db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera", timezone=zone_where_it_is(12, now))
        rosa = add_member(s, group.name, "+12025550102", "Rosa Medina", "es", zone_where_it_is(23, now))
        gone = add_member(s, group.name, "+12025550103", "Ana Ruiz")
        s.get(Member, gone.id).status = "opted_out"
        return rosa


def outbox_count(db):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxItem))


def test_announce_previews_sends_once_and_refuses_in_one_line(runtime, cli, group, people):
    refused = cli("--group", group.name, "Building closed tonight.")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: Tuesday Group has 1 Spanish-speaking member: write the Spanish text too\n"
    )
    assert cli("--group", "Nope", "Hi", "--text-es", "Hola").output == "Error: no group named 'Nope'\n"

    shown = cli(
        "--group", group.name, "Building closed tonight.", "--text-es", "Edificio cerrado hoy.", "--preview"
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith(
        "Tuesday Group: 2 members get it: 1 now; 1 at their morning (quiet hours; first at "
    )
    assert lines[0].endswith("; 1 skipped (opted out)") and lines[-1] == "preview only: nothing sent"
    assert lines[1] == "  Ana (member 3, en, text): skipped (opted out)"
    # Rosa lives where it is 23:00: hers is at 08:00 her time (whichever zone that is when the test runs).
    assert lines[2].startswith("  Rosa (member 2, es, text): ") and " 08:00 " in lines[2]
    assert lines[2].endswith(" (quiet hours)")
    assert lines[3] == "  Sam (member 1, en, text): now"
    assert outbox_count(runtime.db) == 0

    args = ("--group", group.name, "Building closed tonight.", "--text-es", "Edificio cerrado hoy.")
    sent = cli(*args)
    assert sent.exit_code == 0, sent.output
    assert sent.output.splitlines()[1].startswith(
        "announcement 1 queued: the workers send it, none in a member's night; progress: https://checkin.example.org/console/"
    )
    again = cli(*args)
    assert again.output.splitlines()[1] == (
        "announcement 1 already has these words today: nothing sent again (--again to resend)"
    )
    assert outbox_count(runtime.db) == 2
    with runtime.db.session() as s:
        rosa_row = s.scalar(select(OutboxItem).where(OutboxItem.member_id == people.id))
        assert (
            rosa_row.body == "Tuesday Group: Edificio cerrado hoy. BAJA para parar."
            and rosa_row.next_attempt_at > utcnow()
        )
    assert cli(*args, "--again").output.splitlines()[1].startswith("announcement 2 queued")
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Announcement)) == 2

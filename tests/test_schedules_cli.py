"""`checkin schedule ...` as a coordinator runs it: set, cancel, move, plan, preview; bad input gets one line."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from checkin.answers.models import Rsvp
from checkin.directory import add_member
from checkin.models import Member
from checkin.schedules.models import OccurrenceOverride, Schedule

CHECKIN = str(Path(sys.executable).parent / "checkin")


@pytest.fixture
def cli_env(env):
    return {**os.environ, **env, "MESSAGING_BACKEND": "console"}


def run(cli_env, *args):
    """The installed `checkin` command in its own process, as a coordinator runs it."""
    return subprocess.run(
        [CHECKIN, "schedule", *args], env=cli_env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def cli(env, monkeypatch):
    """The same command run in this process (quicker, for the many small cases)."""
    from click.testing import CliRunner

    from checkin.cli import cli as checkin

    for key, value in {**env, "MESSAGING_BACKEND": "console"}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(checkin, ["schedule", *args], catch_exceptions=False)


def ok(cli_env, *args):
    result = run(cli_env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_set_cancel_move_and_preview(runtime, cli_env, group):
    with runtime.db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera")
        add_member(s, group.name, "+12025550102", "Rosa Medina", "es")
        add_member(s, group.name, "+12025550103", "Olu Ade", timezone="Europe/London")
        gone = add_member(s, group.name, "+12025550104", "Ana Ruiz")
        s.get(Member, gone.id).status = "opted_out"
    out = ok(
        cli_env,
        "set",
        "--group",
        group.name,
        "--rrule",
        "FREQ=WEEKLY;BYDAY=TU",
        "--start",
        "18:00",
        "--duration",
        "90",
        "--address",
        "12 Main St",
        "--from",
        "2030-01-01",
    )
    assert out.startswith("schedule set for Tuesday Group; next Tue 2030-01-01 18:00 EST")
    assert (
        ok(cli_env, "cancel", "--group", group.name, "--date", "2030-01-15")
        == "cancelled Tuesday Group on Tue 2030-01-15 18:00\n"
    )
    ok(cli_env, "move", "--group", group.name, "--date", "2030-01-22", "--to", "2030-01-23 18:30")

    with (
        runtime.db.session() as s
    ):  # two answers to the first meeting's reminder ("count me in", "no puedo ir")
        people = {m.display_name: m.id for m in s.scalars(select(Member))}
        for name, answer in (("Sam Rivera", "yes"), ("Rosa Medina", "no")):
            s.add(
                Rsvp(
                    member_id=people[name],
                    group_id=group.id,
                    occurrence_key="20300101T2300Z",
                    answer=answer,
                    answered_at=datetime(2029, 12, 31, 23, tzinfo=UTC),
                )
            )
    out = ok(cli_env, "preview", "--group", group.name, "--days", "14", "--from", "2029-12-31")
    lines = out.splitlines()
    assert lines[0] == "Tuesday Group: 32 send(s) from 2029-12-31 for 14 day(s)"
    assert lines[1:3] == [
        "meeting Tue 2030-01-01 18:00 EST: 1 coming, 1 not coming",
        "meeting Tue 2030-01-08 18:00 EST: 0 coming, 0 not coming",
    ]
    sam = lines[lines.index(next(line for line in lines if line.startswith("Sam ("))) :]
    assert sam[0].startswith("Sam (member ") and sam[0].endswith(", America/New_York, sms)")
    # Per member, in local time: reminders 24 h and 2 h before, the prompt two days after, each change once
    # when its meeting comes within 14 days; nothing for the cancelled meeting itself.
    assert [" ".join(line.split()[:6]) for line in sam[1:]] == [
        "Mon 2029-12-31 18:00 EST reminder send",
        "Tue 2030-01-01 16:00 EST reminder send",
        "Tue 2030-01-01 18:00 EST change send",
        "Thu 2030-01-03 10:00 EST prompt send",
        "Mon 2030-01-07 18:00 EST reminder send",
        "Tue 2030-01-08 16:00 EST reminder send",
        "Tue 2030-01-08 18:00 EST change send",
        "Thu 2030-01-10 10:00 EST prompt send",
    ]
    assert "Tuesday Group: Tuesday's meeting (Tue, Jan 15 at 6:00 pm) is canceled. Reply STOP to stop." in out
    assert (
        "Tuesday Group: Tuesday's meeting is moved to Wed, Jan 23 at 6:30 pm, at 12 Main St. Reply STOP to stop."
        in out
    )
    # Held back, and why: the London member's 2 h reminder falls in their night until the meeting;
    # the opted-out member gets nothing.
    olu = out[out.index("Olu (") : out.index("Rosa (")]
    assert "Tue 2030-01-08 21:00 GMT  reminder HELD: quiet hours until the meeting" in olu
    assert "Tue 2030-01-08 08:00 GMT  reminder send (quiet hours: due 23:00)" in olu
    ana = out[out.index("Ana (") : out.index("Olu (")]
    assert ana.count("HELD: opted out") == ana.count("\n  ") and "send " not in ana
    assert "Tuesday Group: mañana, 8 de enero, 6:00 p. m." in out  # the day before
    assert "Tuesday Group: hoy, 8 de enero, 6:00 p. m." in out  # two hours before


def test_preview_is_what_the_tick_sends(runtime, cli_env, group):
    """The preview and the tick call the same planner: the preview's sendable lines are the tick's rows."""
    from datetime import datetime, timedelta

    from checkin.schedules import preview, set_schedule
    from checkin.schedules.tick import write_due

    with runtime.db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera")
        add_member(s, group.name, "+12025550103", "Olu Ade", timezone="Asia/Kolkata")
        set_schedule(
            s,
            group.id,
            rrule="FREQ=MONTHLY;BYDAY=+2TU",
            start_local=datetime(2020, 1, 1, 18).time(),
            duration_minutes=60,
            starts_on=datetime(2030, 1, 1).date(),
        )
    start = datetime(2030, 1, 1, tzinfo=UTC)
    with runtime.db.session() as s:
        planned = [p for p in preview(s, group.id, start, 30, now=start) if p.held_reason is None]
    # Sam: two reminders and a prompt; Olu in Kolkata (04:30 there): the day-before reminder at 08:00,
    # the 2 h one held by his night, and a prompt.
    assert sorted((p.member_id, p.kind) for p in planned) == [
        (1, "prompt"),
        (1, "reminder"),
        (1, "reminder"),
        (2, "prompt"),
        (2, "reminder"),
    ]
    # Tick every 6 hours and at each planned moment: each send is written at its planned tick, not before.
    moments = sorted(
        {p.send_at_utc for p in planned} | {start + timedelta(hours=6 * i) for i in range(4 * 30)}
    )
    written = {}
    for now in moments:
        with runtime.db.session() as s:
            written.update((key, now) for key in _keys(s, write_due(s, now)) if not key.startswith("nudge:"))
    # (Nudges depend on whether the member answers, so the preview cannot list them.)
    assert written == {p.key: p.send_at_utc for p in planned}


@pytest.mark.parametrize(
    "set_at, expected",
    [
        # 17:38 New York, for 19:42 the same evening: the 2 h reminder only (4 minutes later), no catch-up;
        # nothing for Olu in Kolkata, where it is night until after the meeting (06:12 there).
        ((22, 38), {"reminder:1:20261207T0042Z:120": (22, 42)}),
        # 10:00: the day-before reminder caught up at once (20:30 in Kolkata: Olu gets it too), then Sam's
        # 2 h one.
        (
            (15, 0),
            {
                "reminder:1:20261207T0042Z:1440": (15, 0),
                "reminder:2:20261207T0042Z:1440": (15, 0),
                "reminder:1:20261207T0042Z:120": (22, 42),
            },
        ),
    ],
)
def test_preview_is_what_the_tick_sends_for_a_meeting_set_inside_its_reminder_window(
    runtime, group, set_at, expected
):
    """The tester's case: a weekly meeting set on the day, after its day-before reminder's time."""
    from datetime import datetime, time, timedelta

    from checkin.models import OutboxItem
    from checkin.schedules import preview, set_schedule
    from checkin.schedules.tick import write_due

    set_at = datetime(2026, 12, 6, *set_at, tzinfo=UTC)  # a Sunday
    with runtime.db.session() as s:
        add_member(s, group.name, "+12025550101", "Sam Rivera")
        add_member(s, group.name, "+12025550103", "Olu Ade", timezone="Asia/Kolkata")
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=SU",
            start_local=time(19, 42),
            duration_minutes=60,
            starts_on=set_at.date(),
            now=set_at,
        )
    seen = set_at + timedelta(seconds=20)  # the coordinator looks at the preview just after saving
    with runtime.db.session() as s:
        shown = preview(s, group.id, seen, 1, now=seen)
    planned = {p.key: p.send_at_utc for p in shown if p.held_reason is None and p.kind == "reminder"}
    assert planned == {key: datetime(2026, 12, 6, *hm, tzinfo=UTC) for key, hm in expected.items()}
    # Olu's 2 h reminder falls in his night until the meeting, and the preview says so.
    [olu] = [p for p in shown if p.key == "reminder:2:20261207T0042Z:120"]
    assert olu.held_reason == "quiet hours until the meeting"
    # Tick every 3 minutes from the edit, and at each planned moment, until after the meeting (19:42).
    after = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    grid = [set_at + timedelta(minutes=3 * i) for i in range(1, 1000)]
    written = {}
    for now in sorted(set(planned.values()) | {t for t in grid if t < after}):
        with runtime.db.session() as s:
            for key in _keys(s, write_due(s, now)):
                written.setdefault(key, now)
    assert written == planned
    # Nothing for Olu was cancelled as "meeting started" two hours before the meeting.
    with runtime.db.session() as s:
        errors = s.scalars(select(OutboxItem.last_error).where(OutboxItem.member_id == 2)).all()
    assert "not sent: meeting started" not in errors


def _keys(session, result):
    from checkin.models import OutboxItem

    ids = [i for i, _ in result.created]
    return (
        session.scalars(select(OutboxItem.idempotency_key).where(OutboxItem.id.in_(ids))).all() if ids else []
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            [
                "set",
                "--group",
                "Tuesday Group",
                "--rrule",
                "every tuesday",
                "--start",
                "18:00",
                "--duration",
                "90",
            ],
            "rrule: not a valid RRULE",
        ),
        (
            [
                "set",
                "--group",
                "Tuesday Group",
                "--rrule",
                "FREQ=WEEKLY;BYDAY=TU",
                "--start",
                "6pm",
                "--duration",
                "90",
            ],
            "--start: expected a time as HH:MM",
        ),
        (
            [
                "set",
                "--group",
                "Tuesday Group",
                "--rrule",
                "FREQ=WEEKLY;BYDAY=TU",
                "--start",
                "18:00",
                "--duration",
                "0",
            ],
            "duration must be 5 to 1440 minutes",
        ),
        (
            ["set", "--group", "Nope", "--rrule", "FREQ=WEEKLY", "--start", "18:00", "--duration", "90"],
            "no group named 'Nope'",
        ),
        (
            ["cancel", "--group", "Tuesday Group", "--date", "2030-01-16"],
            "Tuesday Group has no meeting on 2030-01-16",
        ),
        (
            ["move", "--group", "Tuesday Group", "--date", "2030-01-15", "--to", "tomorrow"],
            "--to: expected a local date and time",
        ),
        (
            ["plan", "--group", "Tuesday Group", "quiet_end=07:00"],
            "quiet_end: must be later than quiet_start",
        ),
        (["plan", "--group", "Tuesday Group", "nudge=3"], "nudge: unknown key"),
        (["preview", "--group", "Tuesday Group", "--days", "400"], "Invalid value for '--days'"),
        (
            ["plan", "--group", "Tuesday Group", "--template", "es.reminder=Hola {nombre}"],
            "Spanish meeting reminder: unknown placeholder {nombre}",
        ),
        (
            ["plan", "--group", "Tuesday Group", "--template", "reminder=Hi"],
            "--template: expected LANG.NAME=TEXT",
        ),
        (["plan", "--group", "Tuesday Group", "--template", "fr.reminder=Salut"], "unknown language 'fr'"),
    ],
)
def test_bad_arguments_get_one_line_and_change_nothing(runtime, cli, group, args, message):
    assert (
        cli(
            "set",
            "--group",
            group.name,
            "--rrule",
            "FREQ=WEEKLY;BYDAY=TU",
            "--start",
            "18:00",
            "--duration",
            "90",
            "--from",
            "2030-01-01",
        ).exit_code
        == 0
    )
    result = cli(*args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    [line] = [line for line in result.output.splitlines() if message in line]  # the reason, on one line
    assert line.startswith("Error: ")
    with runtime.db.session() as s:
        [schedule] = s.scalars(select(Schedule)).all()
        assert (schedule.rrule, schedule.duration_minutes, str(schedule.start_local)) == (
            "FREQ=WEEKLY;BYDAY=TU",
            90,
            "18:00:00",
        )
        assert s.scalars(select(OccurrenceOverride)).all() == []


def test_plan_shows_and_overrides_per_group(runtime, cli, group):
    out = cli("plan", "--group", group.name).output
    assert "reminder_offsets_minutes = [1440, 120]" in out and "quiet_start = 08:00" in out
    out = cli("plan", "--group", group.name, "quiet_start=09:00", "reminder_offsets_minutes=2880,60").output
    assert "quiet_start = 09:00" in out and "reminder_offsets_minutes = [2880, 60]" in out
    out = cli("plan", "--group", group.name, "quiet_start=").output
    assert "quiet_start = 08:00" in out and "reminder_offsets_minutes = [2880, 60]" in out


def test_plan_sets_a_groups_own_text_and_a_blank_one_returns_to_the_file(runtime, cli, group):
    from checkin.schedules import get_templates, load_config

    result = cli(
        "plan",
        "--group",
        group.name,
        "--template",
        "es.reminder=Hola: {group} se reune {when}{date} a las {time}{where}. BAJA",
        "quiet_start=09:00",
    )
    assert result.exit_code == 0, result.output
    assert "quiet_start = 09:00" in result.output
    assert (
        "template es.reminder = Hola: {group} se reune {when}{date} a las {time}{where}. BAJA"
        in result.output
    )
    with runtime.db.session() as s:
        assert get_templates(s, group.id)["es"]["reminder"].startswith("Hola: {group}")
    # A refused text saves nothing, not even the plan key given with it.
    refused = cli(
        "plan",
        "--group",
        group.name,
        "--template",
        "en.prompt=" + "How are you? " * 30 + "STOP",
        "quiet_start=10:00",
    )
    assert refused.exit_code != 0 and "English check-in prompt: 3 SMS segments" in refused.output
    assert "template es.reminder" in cli("plan", "--group", group.name).output
    out = cli("plan", "--group", group.name, "--template", "es.reminder=").output
    assert "quiet_start = 09:00" in out and "template" not in out
    with runtime.db.session() as s:
        assert get_templates(s, group.id) == load_config().templates


def test_pause_a_member_until_a_date_then_resume(runtime, cli, group, member):
    from datetime import datetime

    from checkin.schedules import preview, set_schedule

    with runtime.db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=datetime(2030, 1, 1, 18).time(),
            duration_minutes=90,
            starts_on=datetime(2030, 1, 1).date(),
        )
    result = cli("pause", "--phone", member.phone, "--until", "2030-01-09")
    assert result.exit_code == 0 and result.output == f"member {member.id} paused through 2030-01-09\n"
    start = datetime(2030, 1, 6, tzinfo=UTC)
    with runtime.db.session() as s:
        held = [(p.kind, p.held_reason) for p in preview(s, group.id, start, 10, now=start)]
    # Reminders for the 8th are held; the prompt on the 10th at 10:00 goes out, and so do the next reminders.
    assert held == [
        ("reminder", "paused through 2030-01-09"),
        ("reminder", "paused through 2030-01-09"),
        ("prompt", None),
        ("reminder", None),
        ("reminder", None),
    ]
    assert cli("pause", "--phone", member.phone, "--resume").output == f"member {member.id} resumed\n"
    assert "give either --until" in cli("pause", "--phone", member.phone).output
    assert "no member with phone +12025550199" in cli("pause", "--phone", "+12025550199", "--resume").output


def test_preview_from_now_starts_on_the_groups_own_date_not_utcs(runtime, cli):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from checkin.directory import add_group

    # At any moment one of these is on another calendar day than UTC (UTC+14 from 10:00 UTC, UTC-11 before 11:00).
    now = datetime.now(UTC)
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"
    assert now.astimezone(ZoneInfo(zone)).date() != now.date()
    with runtime.db.session() as s:
        add_group(s, "Island Group", zone, "+15005550009")
    out = cli("preview", "--group", "Island Group", "--days", "3").output
    local_today = datetime.now(ZoneInfo(zone)).date()
    assert out.splitlines()[0] == f"Island Group: 0 send(s) from {local_today:%Y-%m-%d} for 3 day(s)"


def test_a_from_date_that_has_passed_is_kept_and_the_next_meeting_is_named(cli, group):
    from datetime import timedelta

    from checkin.db import utcnow

    today = utcnow().date()
    monday = today - timedelta(days=today.weekday() + 21)  # a Monday three weeks ago
    result = cli(
        "set", "--group", group.name, "--rrule", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "--start", "23:59",
        "--duration", "30", "--from", str(monday),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Every other Monday counted from the Monday three (and some days) weeks ago: the next is its fourth week.
    assert f"; next Mon {monday + timedelta(weeks=4)} 23:59" in result.output
    assert (
        f"(--from {monday} has passed: the rule counts from it, and that is the next meeting)"
        in result.output
    )

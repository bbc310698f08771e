"""Retention periods: safe defaults in config/retention.toml, an environment override per kind, and a bad
value refused naming its key; the nightly cron duty; the `checkin retention` commands as processes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from checkin.retention import policy
from config import ConfigError, load_settings

CHECKIN = str(Path(sys.executable).parent / "checkin")


def test_the_shipped_defaults_keep_recordings_least_and_the_audit_trail_forever():
    periods = policy.load({})
    assert periods == policy.Periods(
        message_bodies=180, voice_recordings=30, notes=365, call_records=365, assessments=365, audit=None
    )
    assert periods.describe("audit") == "forever" and periods.describe("notes") == "365 days"


@pytest.mark.parametrize(
    "raw, days", [("30d", 30), ("30 days", 30), ("1 day", 1), ("FOREVER", None), (" 7D ", 7)]
)
def test_an_environment_variable_overrides_one_kind(raw, days):
    periods = policy.load({"CHECKIN_RETENTION_NOTES": raw})
    assert periods.notes == days and periods.message_bodies == 180


@pytest.mark.parametrize("raw", ["3 months", "0d", "-5d", "ninety", "30"])
def test_a_bad_period_names_its_environment_variable(raw):
    with pytest.raises(ConfigError) as err:
        load_settings(
            {"CHECKIN_RETENTION_MESSAGE_BODIES": raw}, instance_path=Path("/nonexistent-never-written")
        )
    assert (
        f'CHECKIN_RETENTION_MESSAGE_BODIES: must be a number of days of at least 1 ("90d") or "forever", not {raw!r}'
        in str(err.value)
    )


def test_a_bad_file_value_and_unknown_kinds_are_named(tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text('[retention]\nnotes = "a year"\nphotos = "30d"\n')
    with pytest.raises(policy.RetentionConfigError) as err:
        policy.load({"CHECKIN_RETENTION_BODIES": "30d"}, path)
    assert err.value.problems == [
        (
            "retention.toml retention.photos",
            "is not a kind of data (message_bodies, voice_recordings, notes, call_records, assessments, audit)",
        ),
        (
            "retention.toml retention.notes",
            'must be a number of days of at least 1 ("90d") or "forever", not \'a year\'',
        ),
        (
            "CHECKIN_RETENTION_BODIES",
            "is not a kind of data (message_bodies, voice_recordings, notes, call_records, assessments, audit)",
        ),
    ]


def test_a_file_period_counts_in_whole_days_to_the_second(tmp_path):
    path = tmp_path / "retention.toml"
    path.write_text("[retention]\ncall_records = 90\n")
    periods = policy.load({}, path)
    now = datetime(2026, 3, 29, 12, tzinfo=UTC)
    assert periods.cutoff("call_records", now) == now - timedelta(days=90)
    assert periods.cutoff("audit", now) is None


def test_the_nightly_run_is_a_cron_duty(env):
    script = (
        "import workers.cron_config\n"
        "from rq import cron\n"
        "for job in cron._job_data_registry:\n"
        "    print(job['func'].__module__, job['func'].__name__, job['queue_name'], job.get('cron'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "workers.retention_jobs run outbox 17 3 * * *" in result.stdout.splitlines()


def test_the_cli_previews_runs_and_shows(runtime, env, member):
    from checkin.db import utcnow
    from checkin.models import Message
    from checkin.retention.models import RetentionRun

    with runtime.db.session() as s:
        s.add(
            Message(
                direction="inbound", channel="sms", member_id=member.id, from_number=member.phone,
                to_number="+15005550006", body="old", status="received",
                created_at=utcnow() - timedelta(days=31),
            )
        )  # fmt: skip
    cli_env = {**os.environ, **env, "MESSAGING_BACKEND": "console", "CHECKIN_RETENTION_MESSAGE_BODIES": "30d"}

    def checkin(*args):
        result = subprocess.run([CHECKIN, *args], env=cli_env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    dry = checkin("retention", "run", "--dry-run")
    assert "message_bodies (30 days)\n  checkin_words: 0 would go\n  messages: 1 would go" in dry
    assert "audit (forever)" in dry and "nothing was changed" in dry
    with runtime.db.session() as s:
        assert s.scalar(select(Message.body)) == "old" and s.scalar(select(RetentionRun.id)) is None

    ran = checkin("retention", "run")
    assert "  message_bodies.messages: 1" in ran
    shown = checkin("retention", "show")
    assert "message_bodies: 30 days" in shown and "audit: forever" in shown
    assert "run 1: started" in shown and "  message_bodies.messages: 1" in shown
    with runtime.db.session() as s:
        assert s.scalar(select(Message.body)) is None


def test_a_bad_period_stops_the_cli_with_one_line(env):
    cli_env = {**os.environ, **env, "MESSAGING_BACKEND": "console", "CHECKIN_RETENTION_NOTES": "3 months"}
    result = subprocess.run(
        [CHECKIN, "retention", "show"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "CHECKIN_RETENTION_NOTES: must be a number of days" in result.stderr

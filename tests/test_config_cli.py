"""Configuration errors, the `checkin` CLI, and migrations on SQLite."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, inspect, select

from config import ConfigError, load_settings
from tests.inbox_helpers import NOBODY_READS_SAM

CHECKIN = str(Path(sys.executable).parent / "checkin")


def problems(env):
    with pytest.raises(ConfigError) as info:
        load_settings(env, instance_path=Path("/nonexistent-never-written"))
    return dict(info.value.problems), str(info.value)


# --- configuration ----------------------------------------------------------------------------


def test_development_defaults_need_nothing(tmp_path):
    settings = load_settings({}, instance_path=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'checkin.sqlite3'}"
    assert settings.redis_is_embedded and settings.redis_url.startswith("unix://")
    assert settings.public_base_url == "http://127.0.0.1:5000"
    assert settings.messaging_backend == "console"
    # Secrets are generated once into instance/ and reused.
    assert load_settings({}, instance_path=tmp_path).encryption_keys == settings.encryption_keys
    assert (tmp_path / "encryption.key").exists()


def test_production_refuses_development_defaults():
    found, text = problems({"CHECKIN_ENV": "production"})
    for key in (
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "CHECKIN_ENCRYPTION_KEY",
        "PUBLIC_BASE_URL",
        "MESSAGING_BACKEND",
        "TWILIO_AUTH_TOKEN",
    ):
        assert key in found, key
    assert text.count("\n") >= 7  # one line per problem, all at once


def test_malformed_values_each_named():
    found, _ = problems(
        {
            "PORT": "eighty",
            "DATABASE_URL": "mysql://x/y",
            "REDIS_URL": "http://nope",
            "CHECKIN_ENCRYPTION_KEY": "short",
            "PUBLIC_BASE_URL": "ftp://x",
            "MESSAGING_BACKEND": "carrier-pigeon",
            "TWILIO_ACCOUNT_SID": "XX123",
            "TWILIO_FROM_NUMBER": "12",
            "CHECKIN_ENV": "staging",
            "CHECKIN_OUTBOX_LEASE_SECONDS": "-5",
        }
    )
    assert set(found) >= {
        "PORT",
        "DATABASE_URL",
        "REDIS_URL",
        "CHECKIN_ENCRYPTION_KEY",
        "PUBLIC_BASE_URL",
        "MESSAGING_BACKEND",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_FROM_NUMBER",
        "CHECKIN_ENV",
        "CHECKIN_OUTBOX_LEASE_SECONDS",
    }
    assert "1-65535" in found["PORT"]


def test_twilio_backend_needs_credentials_and_a_sender(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings({"MESSAGING_BACKEND": "twilio"}, instance_path=tmp_path)
    found = dict(info.value.problems)
    assert {"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"} <= set(found)


def test_a_complete_production_environment_loads():
    key = Fernet.generate_key().decode()
    old = Fernet.generate_key().decode()
    settings = load_settings(
        {
            "CHECKIN_ENV": "production",
            "DATABASE_URL": "postgres://u:p@db/checkin",
            "REDIS_URL": "rediss://cache:6380/0",
            "SECRET_KEY": "k" * 40,
            "CHECKIN_ENCRYPTION_KEY": f"{key},{old}",
            "PUBLIC_BASE_URL": "https://checkin.example.org/",
            "MESSAGING_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
            "TWILIO_AUTH_TOKEN": "t" * 32,
            "TWILIO_MESSAGING_SERVICE_SID": "MG" + "b" * 32,
        },
        instance_path=Path("/nonexistent-never-written"),
    )
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.encryption_keys == (key, old)
    assert settings.public_base_url == "https://checkin.example.org"


def test_rotated_key_still_reads_old_bodies_and_writes_new_ones_under_the_new_key(db, member, twilio):
    from sqlalchemy import text

    from checkin import crypto
    from checkin.models import Message
    from tests.conftest import ENCRYPTION_KEY as old_key

    twilio.sms(member.phone, "written under the old key")
    new_key = Fernet.generate_key().decode()
    crypto.install(db.engine, [new_key, old_key])  # what CHECKIN_ENCRYPTION_KEY="new,old" installs
    try:
        twilio.sms(member.phone, "written under the new key")
        with db.session() as s:
            assert s.scalars(
                select(Message.body).where(Message.direction == "inbound").order_by(Message.id)
            ).all() == [
                "written under the old key",
                "written under the new key",
            ]
            raw = (
                s.execute(text("SELECT body FROM messages WHERE direction = 'inbound' ORDER BY id"))
                .scalars()
                .all()
            )
        # The new body opens with the new key alone: the old key can be retired once all are rotated.
        assert Fernet(new_key).decrypt(bytes(raw[1])) == b"written under the new key"
        assert Fernet(old_key).decrypt(bytes(raw[0])) == b"written under the old key"
    finally:
        crypto.install(db.engine, [old_key])


# --- the CLI, as a process ----------------------------------------------------------------------


@pytest.fixture
def cli_env(env):
    return {**os.environ, **env, "MESSAGING_BACKEND": "console"}


def run(cli_env, *args, stdin=None):
    return subprocess.run(
        [CHECKIN, *args], env=cli_env, capture_output=True, text=True, input=stdin, timeout=300
    )


def test_config_error_is_one_clear_message_not_a_traceback(cli_env):
    result = run(dict(cli_env, PORT="eighty", CHECKIN_ENCRYPTION_KEY="nope"), "outbox")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "PORT: must be a port number" in result.stderr and "CHECKIN_ENCRYPTION_KEY" in result.stderr


def test_a_database_that_refuses_connections_is_one_clear_message_not_a_traceback(cli_env):
    # Found with PostgreSQL refusing connections: every command printed ~160 lines of traceback.
    result = run(dict(cli_env, DATABASE_URL="postgresql://postgres@127.0.0.1:9/checkin"), "outbox")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [said] = [line for line in result.stderr.splitlines() if "the database cannot be reached" in line]
    assert said.startswith("checkin: the database cannot be reached (OperationalError: connection ")
    assert said.endswith("port 9 failed: Connection refused); is it running, and is DATABASE_URL right?")
    # The audit trail's gap is said too (its row needs the database): two lines in all.
    assert len(result.stderr.splitlines()) == 2 and "audit row could not be written" in result.stderr


def test_cli_adds_group_member_staff_and_lists_outbox(runtime, cli_env):
    assert run(cli_env, "groups", "add", "Thursday Group", "--timezone", "America/Chicago").returncode == 0
    result = run(
        cli_env, "members", "add", "--group", "Thursday Group", "--phone", "(202) 555-0123", "--name", "Lee"
    )
    assert result.returncode == 0, result.stderr
    result = run(
        cli_env,
        "staff",
        "add",
        "--name",
        "Kim",
        "--email",
        "Kim@Example.org",
        "--role",
        "facilitator",
        "--phone",
        "+12025550150",
        "--group",
        "Thursday Group",
    )
    assert result.returncode == 0, result.stderr
    from checkin.models import Member, StaffUser

    with runtime.db.session() as s:
        member = s.scalar(select(Member))
        assert member.phone == "+12025550123" and member.effective_timezone == "America/Chicago"
        assert s.scalar(select(StaffUser.email)) == "kim@example.org"
    result = run(cli_env, "outbox")
    assert result.returncode == 0 and "pending=1" in result.stdout  # Lee's welcome text


@pytest.mark.parametrize(
    "args, message",
    [
        (["groups", "add", "X", "--timezone", "Mars/Olympus"], "'Mars/Olympus' is not a time zone we know"),
        (
            ["members", "add", "--group", "Nope", "--phone", "+12025550123", "--name", "A"],
            "no group named 'Nope'",
        ),
        (
            ["staff", "add", "--name", "A", "--email", "not-an-email", "--role", "facilitator"],
            "is not an email address",
        ),
        (
            ["staff", "add", "--name", "A", "--email", "a@b.org", "--role", "boss"],
            "Invalid value for '--role'",
        ),
        (["simulate", "sms", "--from", "hello", "hi"], "'hello' is not a phone number"),
        (
            ["simulate", "sms", "--from", "+12025550101", "--sid", "SM123", "hi"],
            "'SM123' is not a Twilio message SID (SM or MM and 32 hex digits)",
        ),
        (
            ["simulate", "sms", "--from", "+12025550101", "--sid", "XX" + "a" * 32, "hi"],
            "is not a Twilio message SID",
        ),
    ],
)
def test_bad_arguments_get_one_line_and_nonzero_exit(runtime, cli_env, args, message):
    result = run(cli_env, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicate_member_phone_is_refused_and_nothing_changes(runtime, cli_env, group, member):
    result = run(cli_env, "members", "add", "--group", group.name, "--phone", member.phone, "--name", "Other")
    assert result.returncode == 1 and "already exists" in result.stderr
    from checkin.models import Member

    with runtime.db.session() as s:
        assert [m.display_name for m in s.scalars(select(Member))] == ["Sam Rivera"]


def test_simulate_sms_against_a_running_server(live_app, cli_env, member):
    env = dict(cli_env, PUBLIC_BASE_URL=live_app.settings.public_base_url)
    result = run(env, "simulate", "sms", "--from", member.phone, "hello", "there")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == NOBODY_READS_SAM


def test_simulate_sms_with_a_sid_reproduces_a_duplicate_delivery(live_app, cli_env, member):
    # Twilio may deliver one text twice (same MessageSid): the second is stored nowhere and gets the
    # first one's answer, and a coordinator can now play that with --sid.
    from checkin.models import Message, OutboxItem

    env = dict(cli_env, PUBLIC_BASE_URL=live_app.settings.public_base_url)
    sid = "SM" + "d" * 32
    first = run(env, "simulate", "sms", "--from", member.phone, "--sid", sid, "hello", "there")
    again = run(env, "simulate", "sms", "--from", member.phone, "--sid", sid, "hello", "there")
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert first.stdout.strip() == again.stdout.strip() == NOBODY_READS_SAM
    with live_app.db.session() as s:
        assert s.scalars(select(Message.provider_sid).where(Message.direction == "inbound")).all() == [sid]
        assert len(s.scalars(select(OutboxItem.id).where(OutboxItem.purpose == "answer")).all()) == 1


def test_simulate_sms_to_a_number_that_is_not_ours_says_why(live_app, cli_env, member):
    env = dict(cli_env, PUBLIC_BASE_URL=live_app.settings.public_base_url)
    result = run(env, "simulate", "sms", "--from", member.phone, "--to", "+15005550199", "hi")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "404" in line and "To is not a number of this service" in line, line


def test_simulate_sms_signed_for_another_address_says_why_it_was_refused(live_app, cli_env, member):
    # The server checks signatures over the public base URL it was started with, not the address dialled.
    env = dict(cli_env, PUBLIC_BASE_URL="https://checkin.example.org")
    result = run(
        env, "simulate", "sms", "--url", live_app.settings.public_base_url, "--from", member.phone, "hi"
    )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "refused the signature (403)" in line and "signed for https://checkin.example.org" in line, line
    assert "PUBLIC_BASE_URL" in line and "FORBIDDEN" not in line


def test_simulate_sms_with_only_url_signs_for_that_address(live_app, cli_env, member):
    # `PORT=5088 make run`, then in another shell (no PORT, no PUBLIC_BASE_URL): --url alone works.
    env = {k: v for k, v in cli_env.items() if k not in ("PUBLIC_BASE_URL", "PORT")}
    result = run(
        env,
        "simulate",
        "sms",
        "--url",
        live_app.settings.public_base_url,
        "--from",
        member.phone,
        "hello",
        "there",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == NOBODY_READS_SAM


def test_make_run_prints_a_simulate_command_for_the_port_in_use():
    from checkin.cli.dev import simulate_hint
    from config import load_settings

    moved = load_settings({"PORT": "5088"})
    assert simulate_hint(moved, "+12025550101", {"PORT": "5088"}) == (
        'PUBLIC_BASE_URL=http://127.0.0.1:5088 .venv/bin/checkin simulate sms --from +12025550101 "hi"'
    )
    assert simulate_hint(load_settings({}), "+12025550101", {}) == (
        '.venv/bin/checkin simulate sms --from +12025550101 "hi"'
    )


def test_simulate_sms_with_nothing_listening(cli_env):
    result = run(
        dict(cli_env, PUBLIC_BASE_URL="http://127.0.0.1:9"), "simulate", "sms", "--from", "+12025550101", "hi"
    )
    assert result.returncode == 1 and "cannot reach the service" in result.stderr


# --- migrations on SQLite -----------------------------------------------------------------------


def test_migrations_run_on_sqlite_and_match_the_models(tmp_path):
    from checkin.db import Base
    from migrations import upgrade

    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    upgrade(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_checkin_dev_serves_and_answers(tmp_path):
    """`make run` runs `checkin dev`: on empty defaults it migrates, seeds, and answers a simulated SMS."""
    import time

    port = _free_port_nobody_else_is_handed()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CHECKIN_", "DATABASE_URL", "REDIS_URL", "TWILIO_", "PUBLIC_BASE_URL"))
    }
    env.update(PORT=str(port), CHECKIN_INSTANCE_PATH=str(tmp_path / "instance"))
    proc = subprocess.Popen(
        [CHECKIN, "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines, answered_when_said = [], []

    def read():
        for line in proc.stdout:
            if line.startswith("Checkin is running at"):
                # What it says is true when it says it: the address accepts a connection now.
                answered_when_said.append(_accepts(port))
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300  # starting four processes on a loaded machine takes a while
        result = None
        while time.monotonic() < deadline:
            result = subprocess.run(
                [CHECKIN, "simulate", "sms", "--from", "+12025550101", "hi"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if result.returncode == 0:
                break
            time.sleep(0.5)
        assert result.returncode == 0, result.stderr + "".join(lines)
        # `checkin dev` seeds a coordinator who can sign in: the inbox is read, and the reply says so.
        assert result.stdout.strip() == (
            "Thanks, Sam. A facilitator will read your message within 24 hours. In a crisis, call or text 988."
        )
    finally:
        proc.terminate()
        try:
            # It gives its four processes 10 s to stop, then stops Valkey: bounds a hang, on a loaded machine.
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # nothing left running into the next test
            raise
    reader.join(timeout=60)  # everything it printed has been read
    assert any("demo member: Sam Rivera" in line for line in lines)
    assert answered_when_said == [True], "said it was running before the web server accepted connections"


def _accepts(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return True
    except OSError:
        return False


def _free_port_nobody_else_is_handed() -> int:
    """A free port below the ephemeral range. A port from bind(("127.0.0.1", 0)), closed and handed to a
    process that binds it seconds later, may meanwhile be given to any other socket on the machine
    (another test's server, an outgoing connection); the kernel hands out ports from that range only."""
    import random
    import socket

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for port in random.sample(range(20000, low), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free port between 20000 and the ephemeral range")

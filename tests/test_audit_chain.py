"""The audit log can be trusted: append-only in the database, hash-chained, verified by `checkin audit verify`,
safe under concurrent writers, and every CLI action is a row of it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DatabaseError

from checkin.accounts import audit, audit_chain
from checkin.accounts.models import AuditEvent

CHECKIN = str(Path(sys.executable).parent / "checkin")


@pytest.fixture
def cli_env(env):
    return {**os.environ, **env, "MESSAGING_BACKEND": "console"}


def run(cli_env, *args):
    return subprocess.run([CHECKIN, *args], env=cli_env, capture_output=True, text=True, timeout=300)


def write_rows(db, n, member_id=None):
    for i in range(n):
        with db.session() as s:
            audit(s, "view_member", 7, member_id=member_id, detail=f"row {i}", ip="127.0.0.1")


def superuser(db, *statements):
    """What someone with the database's keys could do behind the application's back (triggers off)."""
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for statement in audit_chain.drop_append_only_ddl("sqlite"):
                conn.execute(text(statement))
        for statement in statements:
            conn.execute(text(statement))
        if db.engine.dialect.name != "postgresql":
            for statement in audit_chain.append_only_ddl("sqlite"):
                conn.execute(text(statement))


def test_rows_chain_and_verify(db, cli_env):
    write_rows(db, 3, member_id=1)
    with db.session() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        assert [r.seq for r in rows] == [1, 2, 3]
        assert rows[0].prev_hash == "0" * 64
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert audit_chain.verify(s).ok
    result = run(cli_env, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "audit chain verifies: 3 row(s)" in result.stdout


def test_the_database_refuses_update_delete_and_truncate(db):
    write_rows(db, 2)
    statements = ["UPDATE audit_events SET detail = 'rewritten'", "DELETE FROM audit_events WHERE seq = 1"]
    if db.engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
    with db.session() as s:
        assert [r.detail for r in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))] == [
            "row 0",
            "row 1",
        ]


def test_an_edited_row_is_named(db, cli_env):
    write_rows(db, 4)
    superuser(db, "UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 3")
    with db.session() as s:
        result = audit_chain.verify(s)
    assert (result.ok, result.broken_seq, result.rows) == (False, 3, 2)
    assert "edited" in result.reason
    cli = run(cli_env, "audit", "verify")
    assert cli.returncode == 1
    assert "audit chain BROKEN at seq 3" in cli.stderr and "2 row(s) before it verify" in cli.stderr


def test_a_deleted_row_is_named(db, cli_env):
    write_rows(db, 4)
    superuser(db, "DELETE FROM audit_events WHERE seq = 2")
    cli = run(cli_env, "audit", "verify")
    assert cli.returncode == 1
    assert "row seq 2 is missing" in cli.stderr


def test_a_forged_row_with_its_own_hash_still_breaks_the_next_link(db):
    """Rewriting a row and recomputing its hash moves the break to the row after it."""
    write_rows(db, 3)
    with db.session() as s:
        row = s.scalar(select(AuditEvent).where(AuditEvent.seq == 2))
        row.detail = "forged"
        forged = audit_chain.row_hash(row.prev_hash, row)
        s.expunge(row)  # never flushed: the application cannot UPDATE
    superuser(db, f"UPDATE audit_events SET detail = 'forged', hash = '{forged}' WHERE seq = 2")
    with db.session() as s:
        result = audit_chain.verify(s)
    assert (result.broken_seq, result.rows) == (3, 2)
    assert "previous-hash" in result.reason


def test_retention_prunes_the_oldest_rows_and_the_chain_still_verifies(db, cli_env):
    write_rows(db, 5)
    with db.session() as s:
        assert audit_chain.prune_through(s, 3) == 3
    with db.session() as s:
        assert [r.seq for r in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))] == [4, 5, 6]
        [retention] = s.scalars(select(AuditEvent).where(AuditEvent.action == "retention"))
        assert retention.detail.startswith("audit rows pruned through seq 3 (anchor ")
        assert audit_chain.verify(s).ok and audit_chain.verify(s).rows == 3
    # The allowance ended with that transaction: nothing else can be deleted.
    with pytest.raises(DatabaseError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    result = run(cli_env, "audit", "verify")
    assert result.returncode == 0 and "3 row(s)" in result.stdout


def test_a_prefix_deleted_without_its_retention_row_is_named(db):
    write_rows(db, 4)
    superuser(db, "DELETE FROM audit_events WHERE seq <= 2")
    with db.session() as s:
        result = audit_chain.verify(s)
    assert (result.ok, result.broken_seq) == (False, 1)
    assert "row seq 1 is missing" in result.reason


def test_concurrent_writers_make_one_chain(db):
    writers, each = 6, 5
    start = threading.Barrier(writers)
    errors = []

    def write():
        try:
            start.wait()
            for _ in range(each):
                with db.session() as s:
                    audit(s, "view_member", 1, member_id=2)
        except Exception as exc:  # the test fails on any of them below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        assert sorted(s.scalars(select(AuditEvent.seq))) == list(range(1, writers * each + 1))
        assert audit_chain.verify(s).ok


def test_an_action_too_long_for_its_column_is_refused_with_its_name(db):
    with (
        db.session() as s,
        pytest.raises(ValueError, match="1-24 characters, not 'looked_around_the_whole_console'"),
    ):
        audit(s, "looked_around_the_whole_console", 1)


def test_every_cli_action_is_an_audit_row_without_its_arguments(runtime, cli_env):
    assert run(cli_env, "groups", "add", "Thursday Group", "--timezone", "America/Chicago").returncode == 0
    added = run(
        cli_env,
        "members",
        "add",
        "--group",
        "Thursday Group",
        "--phone",
        "+12025550123",
        "--name",
        "Lee Park",
    )
    assert added.returncode == 0, added.stderr
    refused = run(cli_env, "members", "add", "--group", "Nope", "--phone", "+12025550124", "--name", "Ana")
    assert refused.returncode == 1
    assert run(cli_env, "outbox").returncode == 0
    assert run(cli_env, "audit", "verify").returncode == 0  # reading the log is not a row of it
    from checkin.models import Member

    with runtime.db.session() as s:
        member_id = s.scalar(select(Member.id))
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    assert [(r.action, r.detail, r.member_id) for r in rows] == [
        ("cli", f"checkin groups add: ok (os user {user})", None),
        ("cli", f"checkin members add: ok (os user {user})", member_id),
        ("cli", f"checkin members add: failed (os user {user})", None),
        ("cli", f"checkin outbox: ok (os user {user})", None),
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, tmp_path, database_url):
    """An empty database of either kind, to migrate step by step (PostgreSQL: on the test server)."""
    import uuid

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    if not database_url.startswith("postgresql"):
        pytest.fail("the PostgreSQL case needs the suite's PostgreSQL (CHECKIN_REQUIRE_SERVICES)")
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"checkin_old_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migration_chains_existing_rows_and_encrypts_assessments(old_database, tmp_path, monkeypatch):
    """A database with audit rows, assessments and scores from before 0014 comes out chained and encrypted."""
    from migrations import upgrade

    key = Fernet.generate_key().decode()
    monkeypatch.setenv("CHECKIN_ENCRYPTION_KEY", key)
    monkeypatch.setenv("CHECKIN_INSTANCE_PATH", str(tmp_path / "instance"))
    url = old_database
    upgrade(url, "0013")
    engine = create_engine(url)
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    if engine.dialect.name == "sqlite":
        at = at.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO members (id, phone, display_name, language, channel, status, created_at) "
                "VALUES (1, '+12025550101', 'Sam', 'en', 'sms', 'active', :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, direction, channel, member_id, from_number, to_number, body, status, "
                "created_at, updated_at) VALUES (1, 'inbound', 'sms', 1, 'x', 'y', :body, 'received', :at, :at)"
            ),
            {"at": at, "body": Fernet(key).encrypt(b"hello")},
        )
        conn.execute(
            text(
                "INSERT INTO assessments (id, message_id, member_id, level, rules, score, source, created_at) "
                "VALUES (1, 1, 1, 'crisis', '[\"si.kill_self\"]', 2, 'sms', :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO checkins (id, member_id, channel, state, score, created_at) "
                "VALUES (1, 1, 'sms', 'answered', 4, :at)"
            ),
            {"at": at},
        )
        for i in range(3):
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, staff_id, action, member_id, detail) "
                    "VALUES (:at, NULL, 'view_messages', 1, :d)"
                ),
                {"at": at, "d": f"old {i}"},
            )
    # Run with a key that is not the one the messages were written with, it refuses and changes nothing.
    monkeypatch.setenv("CHECKIN_ENCRYPTION_KEY", Fernet.generate_key().decode())
    with pytest.raises(RuntimeError, match="does not decrypt the stored messages"):
        upgrade(url)
    monkeypatch.setenv("CHECKIN_ENCRYPTION_KEY", key)
    upgrade(url)
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT rules, score FROM assessments")).one()
        assert b"si.kill_self" not in bytes(raw.rules)
        assert Fernet(key).decrypt(bytes(raw.rules)) == b'["si.kill_self"]'
        assert Fernet(key).decrypt(bytes(raw.score)) == b"2"
        checkin_score = conn.execute(text("SELECT score FROM checkins")).scalar()
        assert Fernet(key).decrypt(bytes(checkin_score)) == b"4"
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    from sqlalchemy.orm import Session

    from checkin import crypto
    from checkin.checkins import CheckIn
    from checkin.escalation.models import AssessmentRecord

    crypto.install(engine, [key])
    with Session(engine) as s:
        assert audit_chain.verify(s).rows == 3 and audit_chain.verify(s).ok
        audit(s, "view_member", None, member_id=1)
        s.commit()
        assert audit_chain.verify(s).rows == 4
        record = s.get(AssessmentRecord, 1)
        assert (record.rules, record.score) == (["si.kill_self"], 2)
        assert s.get(CheckIn, 1).score == 4
    engine.dispose()

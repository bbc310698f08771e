"""Database engine and sessions (SQLAlchemy 2), for PostgreSQL in production and SQLite on a laptop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import DateTime, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from checkin.unit_of_work import WorkSession


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def lock_until_commit(session: Session, *key: int) -> None:
    """Take turns with every other transaction locking `key` (one bigint, or two int4s: a key space of
    its own), until this one ends: a PostgreSQL transaction-scoped advisory lock. SQLite serialises
    writers already, so there it does nothing."""
    if session.get_bind().dialect.name != "postgresql":
        return
    args = ", ".join(f":k{i}" for i in range(len(key)))
    session.execute(text(f"SELECT pg_advisory_xact_lock({args})"), {f"k{i}": k for i, k in enumerate(key)})


def make_engine(url: str, **kwargs) -> Engine:
    # An error's text lands in logs: it must name the statement, never the numbers or names bound to it.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL lets the web process read while a worker writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if "connect_timeout" not in url:
        # A database host that does not answer (not even with a refusal) must not hold a webhook past
        # Twilio's 15 s: give up connecting after a few seconds, so the request is spooled and answered.
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    # Likewise waiting for a pooled connection when all are busy (SQLAlchemy's default is 30 s).
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "handle_error", _drop_error_detail)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine)
    return engine


# Twilio waits 15 s for a webhook: a connection attempt (tried twice) and a wait for the pool fit in it.
CONNECT_TIMEOUT_SECONDS = 3
POOL_TIMEOUT_SECONDS = 5


def _drop_error_detail(context) -> None:
    drop_error_detail(context.original_exception, context.sqlalchemy_exception)


def drop_error_detail(orig: BaseException, wrapped: BaseException | None = None) -> None:
    """PostgreSQL's DETAIL line repeats the values ("Key (phone)=(+1202...) already exists"), and an
    error's text reaches the logs: keep the message, drop the values (still in `orig.diag`)."""
    text = str(orig)
    if "\nDETAIL:" not in text:
        return
    orig.args = (text.split("\nDETAIL:")[0],)
    if wrapped is not None:
        wrapped.args = (f"({type(orig).__module__}.{type(orig).__name__}) {orig}",)


# Under load a connection is reused within milliseconds (no ping); a worker that sleeps between jobs
# still pings. Short, so that little can die unnoticed in between.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat unused for a moment (a restarted or
    idle-timed-out server): `pool_pre_ping` pays a round trip on every checkout, which on the
    webhook's hot path is one in seven. A connection that breaks between two close uses fails its
    statement instead; the inbound webhook retries once on a fresh connection (see inbound)."""
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record):
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn, record, _proxy):
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping ({type(exc).__name__})") from exc


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the database connection (not the statement) failed, so that running the same
    work once more on a fresh connection may succeed: an invalidated pooled connection, an operational
    or interface error (server gone, restarted, a terminated backend), or SQLAlchemy's own "This
    connection is closed" / "Can't reconnect until invalid transaction is rolled back", which are
    InvalidRequestErrors rather than DBAPIErrors."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc, (sa.OperationalError, sa.InterfaceError))
    if isinstance(exc, (sa.DisconnectionError, sa.ResourceClosedError, sa.PendingRollbackError)):
        return True
    return isinstance(exc, sa.InvalidRequestError) and "closed" in str(exc).lower()


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (refused, gone, shutting down, a terminated
    backend), rather than that one statement failed: what a loop over rows should stop at (the next row
    fails the same way) and what a worker logs once per outage. A deadlock, a serialization failure or a
    statement timeout are OperationalErrors too, but the database answered: those are not outages."""
    if not connection_lost(exc):
        return False
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state is None or state.startswith(("08", "57P"))


def brief(exc: BaseException, limit: int = 160) -> str:
    """The exception's type and the first line of its message, for one log line: a database error's own
    (the driver's) message, without SQLAlchemy's statement and link lines. Bound values are not in it:
    the engine hides them and drops PostgreSQL's DETAIL line (drop_error_detail, above)."""
    inner = getattr(exc, "orig", None) or exc
    words = next((line.strip() for line in str(inner).splitlines() if line.strip()), "")
    if len(words) > limit:
        words = words[: limit - 3] + "..."
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit `session` when the block ends, roll it back if the block raises, close it either way."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """An engine and its session factory. Every session is a unit of work (checkin.unit_of_work): what
    it records to send or schedule goes to `dispatcher` once it has committed."""

    def __init__(self, url: str, *, dispatcher=None, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(
            self.engine, class_=WorkSession, expire_on_commit=False, dispatcher=dispatcher
        )
        # Every session keeps the planner's next-due index true: an edit that changes what the planner
        # reads has its groups planned again at the next tick (imported here: it needs the models).
        from checkin.schedules import due_index

        due_index.watch(self.sessions)

    def dispatch_to(self, dispatcher) -> None:
        """Hand this database's committed effects to `dispatcher` (the composition root sets this)."""
        self.sessions.configure(dispatcher=dispatcher)

    def session(self):
        """A unit of work: commits when the block ends, rolls back if it raises."""
        return unit_of_work(self.sessions())

    def ping(self) -> None:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    @cached_property
    def autocommit(self) -> Engine:
        """Each statement committed on its own (no BEGIN, no COMMIT round trips): for a lone write that is
        its own transaction (the intake's INSERT of a routine text). On PostgreSQL a small pool of its own
        whose connections are autocommit from the start: taken from the shared pool, each connection was
        switched to autocommit and back, and rolled back on return, at every use, which cost the webhook
        about as much CPU as its INSERT (issue 18). Nothing on it opens a transaction, so nothing is reset
        on return. Elsewhere (SQLite) the same engine, switched per connection."""
        if self.engine.dialect.name != "postgresql":
            return self.engine.execution_options(isolation_level="AUTOCOMMIT")
        from checkin import crypto

        engine = make_engine(self.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
        crypto.share(self.engine, engine)
        return engine

    def connections_lost(self) -> None:
        """A connection was found dead (the server restarted, or dropped us): the others made before it
        likely are too, so neither pool hands them out again (SQLAlchemy does this for its own pool when
        a statement it runs finds the connection gone; this is for one run outside it)."""
        self.engine.dispose()
        if "autocommit" in self.__dict__ and self.autocommit.pool is not self.engine.pool:
            self.autocommit.dispose()

    def forget_connections(self) -> None:
        """In a forked process: never use the parent's sockets (dispose(close=False) leaves them to it)."""
        self.engine.dispose(close=False)
        if "autocommit" in self.__dict__ and self.autocommit.pool is not self.engine.pool:
            self.autocommit.dispose(close=False)

    @cached_property
    def savepoint_engine(self) -> Engine:
        """An engine on which one outer transaction can be rolled back past the savepoints released inside
        it (the console's simulator). pysqlite's own transaction handling would commit at the first
        RELEASE SAVEPOINT, so on SQLite (the laptop default) this is an engine of its own that issues
        BEGIN itself, the SQLAlchemy recipe for real SQLite savepoints; elsewhere it is `engine`.

        Its transactions begin IMMEDIATE, taking SQLite's write lock at once: they read, then write. A
        plain (deferred) BEGIN would read first and then have to upgrade to a writer, and SQLite refuses
        an upgrade at once ("database is locked", no busy wait) whenever the worker or cron process is
        writing or has written since the read; BEGIN IMMEDIATE waits its turn (busy_timeout) instead."""
        if self.engine.dialect.name != "sqlite":
            return self.engine
        engine = make_engine(self.url)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def dispose(self) -> None:
        self.engine.dispose()
        if "autocommit" in self.__dict__ and self.autocommit.pool is not self.engine.pool:
            self.autocommit.dispose()
        if "savepoint_engine" in self.__dict__ and self.savepoint_engine is not self.engine:
            self.savepoint_engine.dispose()

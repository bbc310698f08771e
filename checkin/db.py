"""Database engine and sessions (SQLAlchemy 2), for PostgreSQL in production and SQLite on a laptop."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import DateTime, bindparam, create_engine, event, insert, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


def make_engine(url: str, **kwargs) -> Engine:
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
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def adopt(session: Session, obj):
    """Make `obj` persistent in `session` without a query: a row the caller has just written or read
    with SQLAlchemy Core, every column set. Later changes to it are flushed as UPDATEs and its
    relationships load as usual. (The hot paths use Core: an ORM load or flush costs several times
    more CPU than the statement itself.)"""
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


# Hot-path statements are built once, with bound parameters: building one per request (and its
# cache key, literal by literal) costs more CPU than executing it.
_STATEMENTS: dict[tuple, object] = {}


def load_one(session: Session, model, column, value):
    """The `model` row whose unique `column` equals `value`, read with Core and adopted into
    `session` (or the instance already there), or None."""
    session.flush()  # what Core reads must include what the ORM has pending, as autoflush would
    key = ("load", model, column.key)
    statement = _STATEMENTS.get(key)
    if statement is None:
        table = model.__table__
        statement = _STATEMENTS[key] = select(table).where(table.c[column.key] == bindparam("value"))
    row = session.connection().execute(statement, {"value": value}).first()
    if row is None:
        return None
    mapper = inspect(model)
    existing = session.identity_map.get(mapper.identity_key_from_primary_key([row._mapping[c] for c in mapper.primary_key]))
    if existing is not None:
        return existing  # already in the session: keep its state, as an ORM query would
    return adopt(session, model(**{attr: row._mapping[col] for attr, col in _column_attrs(model)}))


def insert_returning_id(session: Session, model, values: dict, *, unless_exists: str | None = None) -> int | None:
    """INSERT one `model` row with Core and return its id; with `unless_exists` (a unique column), ON
    CONFLICT DO NOTHING, returning None if such a row exists (or was being written and committed)."""
    dialect = session.get_bind().dialect.name
    key = ("insert", model, unless_exists, dialect)
    statement = _STATEMENTS.get(key)
    if statement is None:
        table = model.__table__
        if unless_exists is None:
            statement = insert(table)
        else:
            if dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            else:
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            statement = dialect_insert(table).on_conflict_do_nothing(index_elements=[unless_exists])
        statement = _STATEMENTS[key] = statement.returning(table.c.id)
    return session.connection().execute(statement, values).scalar()


def update_by_id(session: Session, model, row_id: int, values: dict) -> None:
    """UPDATE one `model` row by id with Core (the caller keeps any ORM instance in step)."""
    key = ("update", model)
    statement = _STATEMENTS.get(key)
    if statement is None:
        table = model.__table__
        statement = _STATEMENTS[key] = update(table).where(table.c.id == bindparam("row_id"))
    session.connection().execute(statement, {"row_id": row_id, **values})


_COLUMN_ATTRS: dict[type, tuple[tuple[str, object], ...]] = {}


def _column_attrs(model) -> tuple[tuple[str, object], ...]:
    """(attribute name, table column) for each mapped column of `model`."""
    attrs = _COLUMN_ATTRS.get(model)
    if attrs is None:
        attrs = _COLUMN_ATTRS[model] = tuple((prop.key, prop.columns[0]) for prop in inspect(model).column_attrs)
    return attrs


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> None:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

"""The intake's one INSERT of a routine text, on PostgreSQL, through the driver (issue 18).

The statement is the intake's own (checkin.intake.store_statement: the message, its MessageSid claim,
the sender's member id), compiled once per process; each text then goes straight to psycopg as a
prepared statement on a connection of the autocommit pool (Database.autocommit). Through SQLAlchemy's
execution (cache key, parameters, result) the same INSERT cost the webhook about twice the CPU of the
round trip itself. Values pass the columns' own bind processors (the body is encrypted, times kept in
UTC), and a driver error is raised as SQLAlchemy raises it (its parameters hidden, PostgreSQL's DETAIL
dropped, a lost connection invalidated with every other pooled one, as SQLAlchemy does), so
`intake.store` retries a lost connection as before.
"""

from __future__ import annotations

from functools import cache

import psycopg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect

from checkin import intake
from checkin.db import drop_error_detail


@cache
def _compiled(dialect: Dialect) -> tuple[str, dict, tuple[tuple[str, object], ...]]:
    """(SQL in psycopg's paramstyle, every bind's fixed value, (name, processor) for binds that have one)."""
    compiled = intake.store_statement(dialect.name).compile(dialect=dialect)
    processors = []
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((name, processor))
    fixed = {name: value for name, value in compiled.params.items() if value is not None}
    return str(compiled), fixed, tuple(processors)


def insert_text(db, values: dict) -> int | None:
    """`intake.store`'s INSERT with `values`: the new message's id, or None if its MessageSid is stored."""
    engine = db.autocommit
    dialect = engine.dialect
    sql, fixed, processors = _compiled(dialect)
    params = fixed | values
    for name, processor in processors:
        params[name] = processor(params[name])
    conn = engine.raw_connection()
    try:
        row = conn.driver_connection.execute(sql, params, prepare=True).fetchone()
    except psycopg.Error as exc:
        lost = dialect.is_disconnect(exc, conn.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
            db.connections_lost()
        wrapped = sa_exc.DBAPIError.instance(
            sql, None, exc, psycopg.Error, hide_parameters=True, connection_invalidated=lost, dialect=dialect
        )
        drop_error_detail(exc, wrapped)
        raise wrapped from exc
    finally:
        conn.close()
    return None if row is None else row[0]

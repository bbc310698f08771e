"""Single-row reads and writes with SQLAlchemy Core, for the hot paths (every inbound message).

An ORM load or flush costs several times the CPU of the statement itself, and building a statement
per call (with its cache key, literal by literal) costs more than running it. These helpers run
statements built once with bound parameters, and `adopt` the rows into the ORM session as
persistent objects, so the rest of the code (consent, escalation, answers) works on them as usual.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value


def adopt(session: Session, model, values: dict):
    """The `model` row the caller has just written or read with Core ({attribute: value}, every
    column), as a persistent object in `session`, without a query. Later changes to it are flushed
    as UPDATEs and its relationships load as usual."""
    obj = model.__mapper__.class_manager.new_instance()
    # As the ORM's own loading does: values land as loaded state, with no change events or history
    # (setting 15 attributes through the constructor cost more than the INSERT that wrote them).
    obj.__dict__.update(values)
    return adopt_instance(session, obj)


def adopt_instance(session: Session, obj):
    """A transient `obj` whose row the caller has just written with Core (its id included), made
    persistent in `session` as it is: its attributes become the loaded state, with no history."""
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


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
    return from_row(session, model, {col.name: row._mapping[col] for _, col in _column_attrs(model)})


def from_row(session: Session, model, values_by_column: dict, *, refresh: bool = False):
    """The `model` instance for a row read with Core ({column name: value}), adopted into `session`,
    or the instance already there (whose state is kept, as an ORM query would; with `refresh`, as
    `populate_existing` would: its loaded state becomes the row's, for a row just locked and re-read
    after the caller flushed)."""
    mapper = inspect(model)
    existing = session.identity_map.get(
        mapper.identity_key_from_primary_key([values_by_column[c.name] for c in mapper.primary_key])
    )
    if existing is not None:
        if refresh:
            for attr, col in _column_attrs(model):
                set_committed_value(existing, attr, values_by_column[col.name])
        return existing
    return adopt(session, model, {attr: values_by_column[col.name] for attr, col in _column_attrs(model)})


def insert_returning_id(
    session: Session, model, values: dict, *, unless_exists: str | None = None
) -> int | None:
    """INSERT one `model` row with Core and return its id (its primary key); with `unless_exists` (a
    unique column), ON CONFLICT DO NOTHING, returning None if such a row exists (or was being written
    and committed)."""
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
        (primary_key,) = table.primary_key.columns
        statement = _STATEMENTS[key] = statement.returning(primary_key)
    return session.connection().execute(statement, values).scalar()


def update_by_id(
    session: Session, model, row_id: int, values: dict, *, also_insert: tuple | None = None
) -> None:
    """UPDATE one `model` row by id with Core (the caller keeps any ORM instance in step).

    `also_insert`: (another model, its row's values) to INSERT as well. On PostgreSQL both go in one
    statement (the INSERT as a data-modifying CTE, which runs to completion whatever the UPDATE
    finds): one round trip for two writes made together. Elsewhere, two statements."""
    if also_insert is not None and session.get_bind().dialect.name == "postgresql":
        other, other_values = also_insert
        key = ("update+insert", model, tuple(values), other, tuple(other_values))
        statement = _STATEMENTS.get(key)
        if statement is None:
            table, other_table = model.__table__, other.__table__
            written = (
                insert(other_table)
                .values({k: bindparam(f"i_{k}", type_=other_table.c[k].type) for k in other_values})
                .cte("inserted")
            )
            statement = _STATEMENTS[key] = (
                update(table)
                .where(table.c.id == bindparam("row_id"))
                .values({k: bindparam(f"u_{k}", type_=table.c[k].type) for k in values})
                .add_cte(written)
            )
        params = {"row_id": row_id}
        params.update({f"u_{k}": v for k, v in values.items()})
        params.update({f"i_{k}": v for k, v in other_values.items()})
        session.connection().execute(statement, params)
        return
    if also_insert is not None:
        insert_returning_id(session, *also_insert)
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
        attrs = _COLUMN_ATTRS[model] = tuple(
            (prop.key, prop.columns[0]) for prop in inspect(model).column_attrs
        )
    return attrs

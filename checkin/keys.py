"""Re-encryption: move every encrypted value to the newest key (the first of CHECKIN_ENCRYPTION_KEY), so
that the older keys can be retired.

Batched (each batch its own short transaction), resumable (it goes in id order and a value already
under the newest key is left alone, so a second run, or a run after an interruption, only does what is
left) and idempotent. Values written meanwhile are written under the newest key already."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import LargeBinary, Table, select, type_coerce, update

from checkin import crypto
from checkin.db import Base, Database

log = logging.getLogger("checkin.keys")

BATCH = 500


def encrypted_columns() -> Iterator[tuple[Table, str]]:
    """Every (table, column) stored as a Fernet token (EncryptedText, EncryptedJSON), from the models: a
    new one is found by itself."""
    import checkin.models  # noqa: F401 - every table on Base.metadata

    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (crypto.EncryptedText, crypto.EncryptedJSON)):
                yield table, column.name


@dataclass
class Progress:
    column: str
    checked: int = 0
    reencrypted: int = 0


def reencrypt(db: Database, newest_key: str, *, batch: int = BATCH, dry_run: bool = False) -> list[Progress]:
    """Re-encrypt under `newest_key` every value that is not under it yet. With `dry_run`, count only."""
    newest = Fernet(newest_key)
    dialect = db.engine.dialect
    report = []
    for table, name in encrypted_columns():
        column, key = table.c[name], table.primary_key.columns.values()[0]
        raw = type_coerce(column, LargeBinary)
        progress = Progress(f"{table.name}.{name}")
        last = None
        while True:
            query = select(key, raw).where(column.is_not(None)).order_by(key).limit(batch)
            if last is not None:
                query = query.where(key > last)
            with db.engine.begin() as conn:
                rows = conn.execute(query).all()
                if not rows:
                    break
                last = rows[-1][0]
                for row_id, token in rows:
                    progress.checked += 1
                    if _under(newest, token):
                        continue
                    progress.reencrypted += 1
                    if not dry_run:
                        # Only if the value is unchanged since it was read (a concurrent write wins).
                        conn.execute(
                            update(table)
                            .where(key == row_id, raw == type_coerce(bytes(token), LargeBinary))
                            .values({name: type_coerce(crypto.rotate(token, dialect), LargeBinary)})
                        )
        log.info(
            "keys: %s checked=%d %s=%d",
            progress.column,
            progress.checked,
            "stale" if dry_run else "reencrypted",
            progress.reencrypted,
        )
        report.append(progress)
    return report


def _under(key: Fernet, token: bytes) -> bool:
    try:
        key.decrypt(bytes(token))
    except InvalidToken:
        return False
    return True

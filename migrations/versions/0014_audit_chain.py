"""audit log append-only and hash-chained; assessments' rule ids and scores encrypted (issue 17)

- audit_events: seq, prev_hash, hash (existing rows are chained in id order); the foreign keys to
  members and staff_users go (a cascade would rewrite the log); triggers refuse UPDATE and DELETE
  (and TRUNCATE on PostgreSQL).
- assessments.rules, assessments.score and checkins.score become Fernet tokens under CHECKIN_ENCRYPTION_KEY (read as
  the service reads it, only when there are rows to encrypt).
- escalation_events of kind "assessed" no longer repeat the rule ids in clear: their detail is emptied
  (the console reads them from the assessment of the event's message).

Revision ID: 0014
Revises: 0015
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None

FK_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _chain_existing(bind) -> None:
    from checkin.accounts import audit_chain

    class Row:
        pass

    rows = bind.execute(
        sa.text(
            "SELECT id, at, staff_id, action, member_id, escalation_id, detail, ip FROM audit_events ORDER BY id"
        )
    ).all()
    prev = audit_chain.GENESIS
    for seq, r in enumerate(rows, start=1):
        row = Row()
        row.__dict__.update(r._mapping)
        at = row.at
        if isinstance(at, str):  # SQLite hands back text
            from datetime import datetime

            at = datetime.fromisoformat(at)
        from datetime import UTC

        row.at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        row.seq = seq
        digest = audit_chain.row_hash(prev, row)
        bind.execute(
            sa.text("UPDATE audit_events SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"seq": seq, "prev": prev, "hash": digest, "id": row.id},
        )
        prev = digest


def _cipher(bind):
    from cryptography.fernet import Fernet, InvalidToken, MultiFernet

    from config import load_settings

    keys = load_settings().encryption_keys
    if not keys:
        raise RuntimeError("CHECKIN_ENCRYPTION_KEY is needed to encrypt the stored assessments and scores")
    cipher = MultiFernet([Fernet(k) for k in keys])
    # The service's own key, not one made up for this run (a development default would be): it must
    # read what is already encrypted.
    sample = bind.execute(sa.text("SELECT body FROM messages WHERE body IS NOT NULL LIMIT 1")).scalar()
    if sample is not None:
        try:
            cipher.decrypt(bytes(sample))
        except InvalidToken:
            raise RuntimeError(
                "CHECKIN_ENCRYPTION_KEY does not decrypt the stored messages: run the upgrade with the service's key"
            ) from None
    return cipher


def _seal(cipher, value):
    return None if value is None else cipher.encrypt(json.dumps(value, separators=(",", ":")).encode())


def _needs_key(bind) -> bool:
    return any(
        bind.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first() is not None
        for table in ("assessments", "checkins")
    )


def _encrypt_assessments(bind, cipher) -> None:
    rows = bind.execute(sa.text("SELECT id, rules, score FROM assessments")).all()
    scores = bind.execute(sa.text("SELECT id, score FROM checkins WHERE score IS NOT NULL")).all()
    if not rows and not scores:
        return
    for r in rows:
        rules = json.loads(r.rules) if isinstance(r.rules, str) else (r.rules or [])
        bind.execute(
            sa.text("UPDATE assessments SET rules_sealed = :rules, score_sealed = :score WHERE id = :id"),
            {"rules": _seal(cipher, rules), "score": _seal(cipher, r.score), "id": r.id},
        )
    for r in scores:
        bind.execute(
            sa.text("UPDATE checkins SET score_sealed = :score WHERE id = :id"),
            {"score": _seal(cipher, r.score), "id": r.id},
        )


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    from checkin.accounts import audit_chain

    # The key first: a wrong or missing one stops the upgrade before anything changed (SQLite's DDL
    # is not transactional here).
    cipher = _cipher(bind) if _needs_key(bind) else None

    # --- the audit chain ---
    with op.batch_alter_table("audit_events", naming_convention=FK_NAMES) as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
        if dialect == "postgresql":
            batch.drop_constraint("audit_events_member_id_fkey", type_="foreignkey")
            batch.drop_constraint("audit_events_staff_id_fkey", type_="foreignkey")
        else:
            batch.drop_constraint("fk_audit_events_member_id_members", type_="foreignkey")
            batch.drop_constraint("fk_audit_events_staff_id_staff_users", type_="foreignkey")
    _chain_existing(bind)
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_audit_events_seq", ["seq"])
    for statement in audit_chain.append_only_ddl(dialect):
        op.execute(statement)

    # --- assessments: rule ids and scores encrypted ---
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("rules_sealed", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("score_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("checkins") as batch:
        batch.add_column(sa.Column("score_sealed", sa.LargeBinary(), nullable=True))
    _encrypt_assessments(bind, cipher)
    with op.batch_alter_table("checkins") as batch:
        batch.drop_column("score")
    with op.batch_alter_table("checkins") as batch:
        batch.alter_column("score_sealed", new_column_name="score", existing_type=sa.LargeBinary())
    with op.batch_alter_table("assessments") as batch:
        batch.drop_column("rules")
        batch.drop_column("score")
    with op.batch_alter_table("assessments") as batch:
        batch.alter_column("rules_sealed", new_column_name="rules", existing_type=sa.LargeBinary(), nullable=False)
        batch.alter_column("score_sealed", new_column_name="score", existing_type=sa.LargeBinary())
    op.execute("UPDATE escalation_events SET detail = NULL WHERE kind = 'assessed'")


def downgrade() -> None:
    raise NotImplementedError("0014 encrypts assessments and seals the audit log: restore a backup to go back")

"""Re-encryption under the newest key: after a rotation and `reencrypt`, the old key can be removed and
every stored value still opens; a second run has nothing to do; the CLI does the same as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from checkin import crypto, keys
from checkin.checkins import CheckIn
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.models import Message, OutboxItem
from tests.conftest import ENCRYPTION_KEY as OLD_KEY

CHECKIN = str(Path(sys.executable).parent / "checkin")


def stored_values(db) -> dict[str, list]:
    with db.session() as s:
        return {
            "bodies": s.scalars(select(Message.body).order_by(Message.id)).all(),
            "replies": s.scalars(select(Message.reply_body).order_by(Message.id)).all(),
            "outbox": s.scalars(select(OutboxItem.body).order_by(OutboxItem.id)).all(),
            "words": s.scalars(select(CheckIn.words).order_by(CheckIn.id)).all(),
            "notes": s.scalars(select(EscalationEvent.note).order_by(EscalationEvent.id)).all(),
            "scores": s.scalars(select(CheckIn.score).order_by(CheckIn.id)).all(),
            # What the rules read in each text (rule ids, score): as private as the words.
            "rules": s.scalars(select(AssessmentRecord.rules).order_by(AssessmentRecord.id)).all(),
            "verdict_scores": s.scalars(select(AssessmentRecord.score).order_by(AssessmentRecord.id)).all(),
        }


@pytest.fixture
def old_data(db, member, group, twilio):
    """Values of every encrypted column, written under the old key (the suite's key)."""
    for n in range(3):
        twilio.sms(member.phone, f"old words number {n}")
    with db.session() as s:
        s.add(OutboxItem(idempotency_key="notice:old", to_number=member.phone, body="an old reminder"))
        s.add(CheckIn(member_id=member.id, channel="sms", state="answered", score=4, words="an old check-in"))
        esc = Escalation(member_id=member.id, group_id=group.id, level="urgent", state="resolved")
        s.add(esc)
        s.flush()
        s.add(EscalationEvent(escalation_id=esc.id, kind="note", note="an old note"))
    values = stored_values(db)
    assert all(values[k] for k in values if k != "verdict_scores")  # plain texts have no score
    return values


@pytest.fixture
def rotated(db):
    """CHECKIN_ENCRYPTION_KEY="new,old": the new key first. The suite's key is put back afterwards."""
    new = Fernet.generate_key().decode()
    crypto.install(db.engine, [new, OLD_KEY])
    yield new
    crypto.install(db.engine, [OLD_KEY])


def test_every_encrypted_column_is_found():
    assert {f"{t.name}.{c}" for t, c in keys.encrypted_columns()} == {
        "messages.body",
        "messages.reply_body",
        "outbox.body",
        "checkins.words",
        "checkins.score",
        "escalation_events.note",
        "assessments.rules",
        "assessments.score",
        "announcements.text_en",
        "announcements.text_es",
        "staff_users.totp_secret",  # the authenticator app's key: re-encrypted with the rest
    }


def test_after_reencrypt_the_old_key_can_be_removed(db, old_data, rotated):
    stale = sum(p.reencrypted for p in keys.reencrypt(db, rotated, dry_run=True))
    assert stale == sum(len([v for v in vs if v is not None]) for vs in old_data.values())

    done = keys.reencrypt(db, rotated, batch=2)

    assert sum(p.reencrypted for p in done) == stale
    crypto.install(db.engine, [rotated])  # the old key retired
    assert stored_values(db) == old_data
    # Idempotent: nothing is left to move, and nothing changes on a second run.
    assert sum(p.reencrypted for p in keys.reencrypt(db, rotated)) == 0
    assert stored_values(db) == old_data


def test_without_reencrypt_removing_the_old_key_fails_loudly(db, old_data, rotated):
    crypto.install(db.engine, [rotated])
    with pytest.raises(RuntimeError, match="missing an old key"):
        stored_values(db)


def test_the_cli_reencrypts_and_a_dry_run_counts(db, env, old_data, rotated):
    cli_env = {
        **os.environ,
        **env,
        "MESSAGING_BACKEND": "console",
        "CHECKIN_ENCRYPTION_KEY": f"{rotated},{OLD_KEY}",
    }

    dry = subprocess.run(
        [CHECKIN, "keys", "reencrypt", "--dry-run"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert dry.returncode == 0, dry.stderr
    assert "messages.body: 3 checked, 3 under an older key" in dry.stdout
    done = subprocess.run(
        [CHECKIN, "keys", "reencrypt"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "every stored value now opens with the newest key alone" in done.stdout

    crypto.install(db.engine, [rotated])
    assert stored_values(db) == old_data

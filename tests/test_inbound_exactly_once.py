"""The inbound path's guarantees: one stored message per MessageSid, one assessment, the same reply on a
retry or a race, and a failure while deciding undone whole, with the fail-safe pages in its place."""

import threading
import time

from sqlalchemy import event, func, select, text

from checkin.escalation.models import AssessmentRecord, Escalation
from checkin.models import Message, OutboxItem
from tests.conftest import said
from tests.inbox_helpers import NOBODY_READS_SAM


def replies(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return said(response)  # in the TwiML, or by REST once decided (checkin.intake)


def count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_retried_ordinary_reply_is_stored_and_assessed_once(twilio, db, member):
    sid = "SM" + "b" * 32
    first = replies(twilio.sms(member.phone, "doing ok today", sid=sid))
    again = replies(twilio.sms(member.phone, "doing ok today", sid=sid))
    assert first == again == [NOBODY_READS_SAM]
    assert count(db, Message) == 1 and count(db, AssessmentRecord) == 1
    with db.session() as s:
        stored = s.scalar(select(Message).where(Message.provider_sid == sid))
        assert (stored.body, stored.reply_body, stored.member_id) == ("doing ok today", first[0], member.id)


def test_a_text_the_service_answers_is_stored_assessed_and_answered_in_one_transaction(
    postgres_only, twilio, db, member
):
    """The database cost of a text the service answers itself (issue 18), so that a change adding a
    round trip to every text is caught: one transaction; a statement that claims the MessageSid (with
    the member and their open prompt), the RSVP lookup a bare "yes" needs, and one that keeps the reply
    with the assessment."""
    replies(twilio.sms(member.phone, "good morning"))  # first text: the opt-out list is read once
    statements, transactions = [], []
    on_statement = lambda _conn, _cur, sql, *_args: statements.append(sql.split(None, 1)[0])  # noqa: E731
    on_begin = lambda _conn: transactions.append("begin")  # noqa: E731
    on_commit = lambda _conn: transactions.append("commit")  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", on_statement)
    event.listen(db.engine, "begin", on_begin)
    event.listen(db.engine, "commit", on_commit)
    try:
        response = twilio.sms(member.phone, "yes", sid="SM" + "f" * 32)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_statement)
        event.remove(db.engine, "begin", on_begin)
        event.remove(db.engine, "commit", on_commit)
    answer = replies(response)
    assert answer == ["Thanks, Sam, we got your message."]
    assert transactions == ["begin", "commit"]
    assert len(statements) <= 3, statements
    with db.session() as s:
        stored = s.scalar(select(Message).where(Message.provider_sid == "SM" + "f" * 32))
        record = s.scalar(select(AssessmentRecord).where(AssessmentRecord.message_id == stored.id))
        assert (stored.reply_body, stored.member_id) == (answer[0], member.id)
        assert (record.level, record.member_id, record.source) == ("none", member.id, "sms")


def test_retried_crisis_pages_once(twilio, db, member, group):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    sid = "SM" + "c" * 32
    first = replies(twilio.sms(member.phone, "i am going to kill myself tonight", sid=sid))
    alerts = count(db, OutboxItem)
    again = replies(twilio.sms(member.phone, "i am going to kill myself tonight", sid=sid))
    assert first == again and "988" in first[0]
    assert alerts > 0 and count(db, OutboxItem) == alerts and count(db, Escalation) == 1


def _post_in_thread(twilio, phone, body, sid):
    out = {}

    def run():
        out["response"] = twilio.sms(phone, body, sid=sid)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _until_it_waits_for_the_lock(db, thread, *, may_finish=False):
    """Until the racing request's transaction waits on a lock the held one has (seen by PostgreSQL), not
    for a fixed second: a loaded machine may take longer than that just to get to its INSERT.
    `may_finish`: a request that ends without waiting is an outcome the test judges, not a failure here."""
    deadline = time.monotonic() + 120  # bounds a hang only
    # Autocommit: PostgreSQL keeps one snapshot of pg_stat_activity per transaction, so polling inside
    # one transaction would never see the request arrive if it was not there at the first look.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            if not thread.is_alive():
                assert may_finish, "the second request must wait for the first one's transaction"
                return
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second request never reached the held row")


def _joined(thread, out):
    thread.join(120)  # bounds a hang: a loaded machine answers slowly
    assert not thread.is_alive(), "the second request never finished"
    return out["response"]


def _hold_sid(db, member, sid, reply):
    """Insert the message with this SID in a transaction left open, as a concurrent request would."""
    session = db.sessions()
    session.add(
        Message(
            direction="inbound",
            channel="sms",
            provider_sid=sid,
            member_id=member.id,
            from_number=member.phone,
            to_number="+15005550006",
            body="same text",
            reply_body=reply,
            status="received",
        )
    )
    session.flush()
    return session


def test_same_sid_racing_in_waits_for_the_first_and_gets_its_reply(postgres_only, twilio, db, member):
    sid = "SM" + "d" * 32
    holder = _hold_sid(db, member, sid, "the first request's answer")
    try:
        thread, out = _post_in_thread(twilio, member.phone, "same text", sid)
        _until_it_waits_for_the_lock(db, thread)
        holder.commit()
    finally:
        holder.close()
    assert replies(_joined(thread, out)) == ["the first request's answer"]
    assert count(db, Message) == 1 and count(db, AssessmentRecord) == 0  # the first one's work, not ours


def test_same_sid_racing_in_is_stored_when_the_first_rolls_back(postgres_only, twilio, db, member):
    sid = "SM" + "e" * 32
    holder = _hold_sid(db, member, sid, "never committed")
    try:
        thread, out = _post_in_thread(twilio, member.phone, "same text", sid)
        _until_it_waits_for_the_lock(db, thread)
        holder.rollback()
    finally:
        holder.close()
    assert replies(_joined(thread, out)) == [NOBODY_READS_SAM]
    assert count(db, Message) == 1 and count(db, AssessmentRecord) == 1


def test_a_bug_after_escalating_undoes_it_and_pages_by_the_fail_safe(twilio, db, member, group, monkeypatch):
    from checkin import inbound
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])

    def broken(*args, **kwargs):
        raise RuntimeError("bug after the escalation was opened")

    monkeypatch.setattr(inbound, "_member_reply", broken)
    answer = replies(twilio.sms(member.phone, "i am going to kill myself tonight", sid="SM" + "f" * 32))
    assert "988" in answer[0] and "911" in answer[0]
    with db.session() as s:
        assert s.scalars(select(Message.body)).all() == ["i am going to kill myself tonight"]
        # What deciding wrote went with its transaction: no half-made case, no alert keyed to it...
        assert s.scalar(select(func.count()).select_from(Escalation)) == 0
        keys = s.scalars(select(OutboxItem.idempotency_key)).all()
    # ... and the fail-safe paged the group's facilitator directly, once.
    assert len(keys) == 1 and keys[0].startswith("alert:failsafe:")
    again = replies(twilio.sms(member.phone, "i am going to kill myself tonight", sid="SM" + "f" * 32))
    assert again == answer and count(db, OutboxItem) == 1


# --- a database restart between two messages ------------------------------------------------------


def _kill_pooled_connections(db):
    """What a database restart does to the pool: every server process behind it is gone."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    admin = create_engine(db.engine.url, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar()
    finally:
        admin.dispose()
    assert killed >= 1


def test_a_message_right_after_a_database_restart_is_stored(
    postgres_only, twilio, db, member, caplog, monkeypatch
):
    from checkin import db as db_module

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)  # used a moment ago: no ping
    replies(twilio.sms(member.phone, "WHEN"))  # not free text: the inbox's answer is still to come
    _kill_pooled_connections(db)
    with caplog.at_level("WARNING", logger="checkin.inbound"):
        assert replies(twilio.sms(member.phone, "second")) == [NOBODY_READS_SAM]
    assert "retrying once" in caplog.text
    with db.session() as s:
        assert s.scalars(select(Message.body).order_by(Message.id)).all() == ["WHEN", "second"]


def test_a_connection_idle_in_the_pool_is_checked_before_use(
    postgres_only, twilio, db, member, caplog, monkeypatch
):
    from checkin import db as db_module

    replies(twilio.sms(member.phone, "WHEN"))  # not free text: the inbox's answer is still to come
    _kill_pooled_connections(db)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat idle for a while
    with caplog.at_level("WARNING", logger="checkin.inbound"):
        assert replies(twilio.sms(member.phone, "second")) == [NOBODY_READS_SAM]
    assert "retrying once" not in caplog.text  # the ping found it dead and the pool replaced it
    assert count(db, Message) == 2


# --- who wrote it ------------------------------------------------------------------------------


def test_a_facilitators_plain_text_is_stored_as_theirs(twilio, db, group):
    from checkin.directory import add_staff
    from checkin.escalation import commands

    with db.session() as s:
        dana = add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    assert replies(twilio.sms("+12025550160", "hello")) == [commands.USAGE]
    with db.session() as s:
        stored = s.scalar(select(Message).where(Message.direction == "inbound"))
        assert (stored.staff_id, stored.member_id, stored.body) == (dana.id, None, "hello")
        assert (
            s.scalar(select(func.count()).select_from(AssessmentRecord)) == 0
        )  # staff texts are not assessed


def test_a_facilitator_who_is_also_a_member_writes_as_a_member_unless_it_is_a_command(
    twilio, db, member, group
):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Sam Rivera", "sam@example.org", "facilitator", member.phone, [group.name])
    assert replies(twilio.sms(member.phone, "doing ok today")) == [NOBODY_READS_SAM]
    assert replies(twilio.sms(member.phone, "LIST"))[0] != NOBODY_READS_SAM
    with db.session() as s:
        rows = s.execute(select(Message.body, Message.member_id, Message.staff_id).order_by(Message.id)).all()
    assert [(r.body, r.member_id is not None, r.staff_id is not None) for r in rows] == [
        ("doing ok today", True, False),
        ("LIST", False, True),
    ]

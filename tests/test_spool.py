"""An intake that cannot lose a signed text: when storing fails (the database unreachable, its backend
killed mid-statement, a constraint, SQLAlchemy's "connection is closed"), the signed request is spooled,
the caller still gets the right answer (a crisis: 988/911), and the replay stores it once, by MessageSid,
and pages then. After-commit steps never turn a stored message into a 5xx. Twilio's fallback URLs are
served with the same guarantee. Real PostgreSQL, real Redis, signed requests."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from checkin.db import utcnow
from checkin.escalation.models import Escalation
from checkin.models import Message, OutboxItem
from checkin.voice.models import VoiceCall
from config import load_settings
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, TwilioWebhook, said, texted_replies
from tests.inbox_helpers import NOBODY_READS_SAM
from tests.voice_helpers import digits_only
from webhooks.call_walker import CallWalker
from webhooks.simulate import sms_params

DANA = "+12025550160"
CRISIS = "i am going to kill myself tonight"
# The port of a database that is not there (connection refused at once): PostgreSQL is down.
DOWN_URL = "postgresql+psycopg://postgres@127.0.0.1:9/checkin"


def count(db, model, *where):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def replies(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return said(response)  # in the TwiML, or by REST once decided (checkin.intake)


@pytest.fixture
def dana(db, group):
    from checkin.directory import add_staff

    with db.session() as s:
        return add_staff(s, "Dana Fox", "dana@example.org", "facilitator", DANA, [group.name])


def _app(env, **overrides):
    from checkin.bootstrap import Runtime
    from webhooks import create_app

    settings = load_settings(dict(env, **overrides))
    runtime = Runtime.build(settings)
    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    return app, runtime


@pytest.fixture
def down_runtime(env, runtime):
    """A second web process on the same host (the same spool) whose database does not answer."""
    app, down_runtime = _app(env, DATABASE_URL=DOWN_URL)
    down_runtime.app = app
    yield down_runtime
    down_runtime.db.dispose()


@pytest.fixture
def down(down_runtime):
    return TwilioWebhook(down_runtime.app.test_client(), down_runtime.settings)


@contextmanager
def sql_fault(db, create: str, drop: str):
    """A fault made in the database itself (a trigger, a constraint), undone at the end."""
    admin = create_engine(db.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(create))
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()


def replay(app):
    from webhooks.intake import replay as run

    return run(app)


# --- the database down: a second app whose DATABASE_URL is a closed port -------------------------------


def test_a_crisis_text_while_the_database_is_down_gets_988_is_spooled_and_pages_once_on_replay(
    postgres_only, down, app, runtime, db, member, dana, client
):
    sid = "SM" + "a" * 32
    before = utcnow()
    answer = replies(down.sms(member.phone, CRISIS, sid=sid))
    # The crisis reply needed no database, and promises no human (nobody can be paged until it is stored).
    assert len(answer) == 1 and "988" in answer[0] and "911" in answer[0]
    assert "facilitator" not in answer[0]
    assert runtime.spool.count() == 1 and count(db, Message) == 0
    health = down.client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["spool"] == "1 request(s) waiting to be stored"
    assert client.get("/healthz").get_json()["status"] == "degraded"  # any process on this host sees it

    replayed_at = utcnow()
    result = replay(app)
    assert (result.stored, result.refused, result.failed) == (1, 0, 0) and runtime.spool.count() == 0
    with db.session() as s:
        message = s.scalar(select(Message).where(Message.provider_sid == sid))
        esc = s.scalar(select(Escalation))
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.to_number == DANA)).all()
    # Stored with the time it arrived and the reply it was given; the case opened then, and pages now.
    assert before <= message.created_at < replayed_at and message.reply_body == answer[0]
    assert esc.level == "crisis" and esc.member_id == member.id and esc.opened_at == message.created_at
    assert alerts and all(a.created_at > message.created_at for a in alerts)
    assert client.get("/healthz").get_json()["spool"] == "ok"

    # The same request replayed again (or its first commit having landed after all) stores nothing twice.
    runtime.spool.put(_entry_for(down, member.phone, CRISIS, sid))
    assert replay(app).stored == 1
    assert count(db, Message) == 1 and count(db, Escalation) == 1
    assert count(db, OutboxItem, OutboxItem.to_number == DANA) == len(alerts)


def _entry_for(webhook, phone, body, sid):
    from checkin.spool import SpooledRequest
    from webhooks.simulate import sign

    params = sms_params(phone, FROM_NUMBER, body, sid=sid, account_sid=ACCOUNT_SID)
    url = webhook.settings.public_base_url + "/twilio/sms"
    return SpooledRequest(
        "/twilio/sms",
        "",
        tuple(params.items()),
        sign(webhook.settings.twilio_auth_token, url, params),
        utcnow(),
    )


def test_while_the_database_is_down_stop_is_confirmed_and_honoured_on_replay_and_plain_texts_wait(
    postgres_only, down, app, runtime, db, member, spanish_member
):
    from checkin.models import Member

    assert replies(down.sms(member.phone, "me voy a matar esta noche"))[0].startswith("Te escuchamos")
    # We cannot tell who wrote it or whether they opted out: an everyday text is kept, not answered yet.
    assert replies(down.sms(member.phone, "doing ok today")) == []
    assert replies(down.sms(member.phone, "STOP"))[0].startswith("You will get no more texts")
    assert replies(down.sms(member.phone, CRISIS)) == []  # they have just said STOP: not texted again
    # A plain Spanish opt-out is confirmed in Spanish, from its words alone.
    assert replies(down.sms(spanish_member.phone, "ya no me manden mensajes"))[0].startswith(
        "Te dimos de baja"
    )
    assert runtime.spool.count() == 5
    assert replay(app).stored == 5
    with db.session() as s:
        assert s.get(Member, member.id).opted_out
        bodies = s.scalars(select(Message.body).order_by(Message.created_at)).all()
        assert s.get(Member, spanish_member.id).opted_out
    assert bodies == [
        "me voy a matar esta noche",
        "doing ok today",
        "STOP",
        CRISIS,
        "ya no me manden mensajes",
    ]
    assert count(db, Escalation) == 1  # opted out or not, a crisis is escalated (one live case)


def test_a_member_known_to_have_opted_out_gets_no_answer_without_the_database_but_is_still_paged(
    postgres_only, twilio, down, down_runtime, app, runtime, db, member, dana
):
    replies(twilio.sms(member.phone, "STOP"))
    # The process had read who opted out a moment before its database went down.
    down_runtime.opted_out.refresh_if_due(runtime.db.session)
    assert replies(down.sms(member.phone, CRISIS)) == []
    assert replies(down.sms(member.phone, "STOP")) == []  # no second confirmation, as when stored
    assert replies(down.sms(member.phone, "START")) == []  # rejoined on replay; confirmed by nobody now
    assert replies(down.sms(member.phone, CRISIS))[0].startswith("We hear you.")  # back in, known at once
    assert replay(app).stored == 4
    assert count(db, Escalation) == 1 and count(db, Message) == 5


def test_the_spool_keeps_no_words_or_numbers_in_the_clear_and_lists_ids_only(
    postgres_only, down, app, runtime, member
):
    sid = "SM" + "b" * 32
    down.sms(member.phone, "my secret words", sid=sid)
    (name,) = runtime.spool.keys()
    raw = (runtime.spool.new / name).read_bytes()
    assert b"secret" not in raw and member.phone.encode() not in raw and sid.encode() not in raw
    assert oct(os.stat(runtime.spool.new / name).st_mode & 0o777) == "0o600"
    from checkin.cli import cli

    listed = app.test_cli_runner().invoke(cli, ["spool", "list"])
    assert listed.exit_code == 0, listed.output
    assert sid in listed.output and "/twilio/sms" in listed.output and "1 request(s) waiting" in listed.output
    assert member.phone not in listed.output and "secret" not in listed.output
    replayed = app.test_cli_runner().invoke(cli, ["spool", "replay"])
    assert replayed.exit_code == 0 and "stored 1" in replayed.output
    assert runtime.spool.count() == 0


def test_replay_waits_while_the_database_is_still_down(postgres_only, down, member, runtime):
    down.sms(member.phone, CRISIS)
    result = replay(down.client.application)
    assert result.storage_down and result.failed == 1 and runtime.spool.count() == 1
    from checkin.cli import cli

    refused = down.client.application.test_cli_runner().invoke(cli, ["spool", "replay"])
    assert refused.exit_code == 1 and "does not answer" in refused.output


# --- faults inside a working database -------------------------------------------------------------------


def test_a_backend_killed_inside_the_insert_is_retried_then_spooled_and_replayed_once(
    postgres_only, twilio, app, runtime, db, member, dana, caplog
):
    # Every INSERT into messages kills its own server process: the connection dies mid-statement, twice.
    kill = (
        "CREATE FUNCTION spool_test_kill() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$; "
        "CREATE TRIGGER spool_test_kill BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION spool_test_kill()"
    )
    drop = "DROP TRIGGER IF EXISTS spool_test_kill ON messages; DROP FUNCTION IF EXISTS spool_test_kill()"
    sid = "SM" + "c" * 32
    with sql_fault(db, kill, drop), caplog.at_level("WARNING"):
        answer = replies(twilio.sms(member.phone, CRISIS, sid=sid))
    assert "988" in answer[0] and "retrying once" in caplog.text and "spooled" in caplog.text
    assert member.phone not in caplog.text and CRISIS not in caplog.text  # ids only
    assert runtime.spool.count() == 1
    assert replay(app).stored == 1
    assert count(db, Message, Message.provider_sid == sid) == 1 and count(db, Escalation) == 1


def test_a_constraint_that_refuses_the_row_spools_it_without_a_retry(
    postgres_only, twilio, app, runtime, db, member, caplog
):
    refuse = "ALTER TABLE messages ADD CONSTRAINT spool_test_refuse CHECK (direction <> 'inbound') NOT VALID"
    drop = "ALTER TABLE messages DROP CONSTRAINT IF EXISTS spool_test_refuse"
    with sql_fault(db, refuse, drop), caplog.at_level("WARNING"):
        assert replies(twilio.sms(member.phone, "HELP"))[0].startswith("Checkin: text updates")
    assert "retrying once" not in caplog.text and "IntegrityError" in caplog.text
    assert replay(app).stored == 1
    # A member's HELP is a request for help: stored now, it is urgent and pages (as it would have then).
    with db.session() as s:
        assert s.scalar(select(Message.body)) == "HELP"
        assert s.scalar(select(Escalation.level)) == "urgent"


@pytest.mark.filterwarnings("ignore:transaction already deassociated")
def test_this_connection_is_closed_is_retried_on_a_fresh_connection(
    postgres_only, twilio, db, member, caplog, monkeypatch
):
    """SQLAlchemy's own "This Connection is closed" is an InvalidRequestError, not a DBAPIError: it is
    retried like a lost connection. Made by closing the session's connection under it, once."""
    from sqlalchemy import event

    from checkin.unit_of_work import WorkSession

    closed = []

    def close_under_it(session, transaction, connection):
        if not closed:
            closed.append(True)
            connection.close()

    event.listen(WorkSession, "after_begin", close_under_it)
    try:
        with caplog.at_level("WARNING", logger="checkin.inbound"):
            # Decided in the webhook (a keyword), in a unit of work: the one whose connection is closed.
            [answer] = replies(twilio.sms(member.phone, "STOP"))
    finally:
        event.remove(WorkSession, "after_begin", close_under_it)
    assert closed and "retrying once" in caplog.text and "no more texts" in answer
    assert count(db, Message) == 1


def test_a_routine_text_whose_connection_is_closed_is_stored_on_a_fresh_one(
    twilio, db, member, caplog, monkeypatch
):
    """The webhook's one INSERT of a routine text (checkin.intake) is retried like the unit of work."""
    from sqlalchemy.exc import ResourceClosedError

    from checkin import intake

    real, closed = intake._insert, []

    def closed_once(*args):
        if not closed:
            closed.append(True)
            raise ResourceClosedError("This Connection is closed")
        return real(*args)

    monkeypatch.setattr(intake, "_insert", closed_once)
    with caplog.at_level("WARNING", logger="checkin.intake"):
        assert replies(twilio.sms(member.phone, "doing ok today")) == [NOBODY_READS_SAM]
    assert closed and "retrying once" in caplog.text
    assert count(db, Message) == 1


def test_connection_lost_says_which_errors_a_fresh_connection_may_cure():
    from sqlalchemy import exc

    from checkin.db import connection_lost

    assert connection_lost(exc.InvalidRequestError("This connection is closed"))
    assert connection_lost(exc.ResourceClosedError("This Connection is closed"))
    assert connection_lost(exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    assert not connection_lost(exc.IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not connection_lost(exc.InvalidRequestError("Object is already attached to session"))


# --- after the commit ----------------------------------------------------------------------------------


OUTBOX_UPDATE_FAILS = (
    "CREATE FUNCTION spool_test_refuse_update() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'outbox is read-only now'; END $$; "
    "CREATE TRIGGER spool_test_refuse_update BEFORE UPDATE ON outbox FOR EACH ROW "
    "EXECUTE FUNCTION spool_test_refuse_update()"
)
OUTBOX_UPDATE_WORKS = "DROP TRIGGER IF EXISTS spool_test_refuse_update ON outbox; DROP FUNCTION IF EXISTS spool_test_refuse_update()"


def test_a_failing_mark_enqueued_after_commit_still_answers_a_stored_crisis(
    postgres_only, twilio, runtime, db, member, dana, caplog
):
    with sql_fault(db, OUTBOX_UPDATE_FAILS, OUTBOX_UPDATE_WORKS), caplog.at_level("WARNING"):
        answer = replies(twilio.sms(member.phone, CRISIS))
    assert answer[0].startswith("We hear you. A facilitator is being told.")
    assert "DISPATCH FAILED after commit" in caplog.text
    assert runtime.spool.count() == 0  # stored: nothing to spool
    with db.session() as s:
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.to_number == DANA)).all()
    assert alerts and all(a.enqueued_at is None for a in alerts)  # left for the sweeper
    assert count(db, Message) == 1 and count(db, Escalation) == 1


def test_a_failing_mark_enqueued_after_commit_still_answers_a_caller_pressing_9(
    postgres_only, twilio, settings, runtime, db, member, dana
):
    call = CallWalker(_ok(twilio), settings.public_base_url, member.phone, FROM_NUMBER, ACCOUNT_SID)
    call.start()
    with sql_fault(db, OUTBOX_UPDATE_FAILS, OUTBOX_UPDATE_WORKS):
        step = call.press("9")
    assert step.find("Dial") is not None and any("9 1 1" in said for said in step.said)
    assert count(db, Escalation) == 1 and runtime.spool.count() == 0


def _ok(twilio):
    def post(path, params):
        response = twilio.post(path, params)
        assert response.status_code in (200, 204), response.get_data(as_text=True)
        return response.get_data(as_text=True) or "<Response/>"

    return post


# --- voice and status callbacks ---------------------------------------------------------------------------


def test_a_caller_pressing_9_while_the_database_is_down_hears_911_and_988_and_is_paged_on_replay(
    postgres_only, twilio, down, app, settings, runtime, db, member, dana
):
    call = CallWalker(_ok(twilio), settings.public_base_url, member.phone, FROM_NUMBER, ACCOUNT_SID)
    call.start()  # the menu, from the working process
    call.post = _ok(down)  # the next request lands on the process whose database is down
    step = call.press("9")
    digits_only(step)
    assert any("9 1 1" in s for s in step.said) and any("9 8 8" in s for s in step.said)
    assert step.find("Hangup") is not None
    assert count(db, Escalation) == 0 and runtime.spool.count() == 1
    assert replay(app).stored == 1
    with db.session() as s:
        esc = s.scalar(select(Escalation))
    assert esc.level == "crisis" and esc.member_id == member.id
    assert count(db, OutboxItem, OutboxItem.to_number == DANA) >= 1


def test_a_status_callback_while_the_database_is_down_is_applied_on_replay(
    postgres_only, twilio, down, app, runtime, db, member
):
    call = CallWalker(_ok(down), down.settings.public_base_url, member.phone, FROM_NUMBER, ACCOUNT_SID)
    call.start()  # the call arrives while the database is down: spooled
    params = {
        "CallSid": call.call_sid,
        "CallStatus": "completed",
        "CallDuration": "42",
        "AccountSid": ACCOUNT_SID,
    }
    assert down.post("/twilio/voice/status", params).status_code == 204
    sms_status = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID}
    assert down.post("/twilio/status", sms_status).status_code == 204
    assert runtime.spool.count() == 3
    assert replay(app).stored == 3
    with db.session() as s:
        stored = s.scalar(select(VoiceCall).where(VoiceCall.call_sid == call.call_sid))
    assert stored is not None and stored.status == "completed"


# --- Twilio's fallback URLs -------------------------------------------------------------------------------


def test_the_sms_fallback_url_is_signed_stored_once_and_answered_alike(twilio, db, member):
    params = sms_params(member.phone, FROM_NUMBER, "doing ok today", account_sid=ACCOUNT_SID)
    first = replies(twilio.post("/twilio/sms", params))
    # Twilio calls the fallback when the primary timed out: same MessageSid, signed for the fallback URL.
    again = replies(twilio.post("/twilio/sms/fallback", dict(params, ErrorCode="11200")))
    # A routine text: the TwiML says nothing either time, and its one reply goes by REST (checkin.intake).
    assert first == again == [] and count(db, Message) == 1
    assert texted_replies(twilio.client.application, params["MessageSid"]) == [NOBODY_READS_SAM]
    assert twilio.post("/twilio/sms/fallback", params, signature="bad").status_code == 403


def test_the_voice_fallback_url_greets_the_caller(twilio, settings, member, db):
    call = CallWalker(_ok(twilio), settings.public_base_url, member.phone, FROM_NUMBER, ACCOUNT_SID)
    step = call.start("/twilio/voice/fallback", ErrorCode="11200")
    assert step.find("Gather") is not None and count(db, VoiceCall) == 1


def test_when_the_spool_fails_too_the_primary_says_503_and_the_fallback_still_answers(
    postgres_only, env, tmp_path, member, caplog
):
    not_a_dir = tmp_path / "spool-is-a-file"
    not_a_dir.write_text("")
    app, down_runtime = _app(env, DATABASE_URL=DOWN_URL, CHECKIN_SPOOL_DIR=str(not_a_dir))
    try:
        webhook = TwilioWebhook(app.test_client(), down_runtime.settings)
        with caplog.at_level("CRITICAL"):
            assert webhook.sms(member.phone, CRISIS).status_code == 503  # Twilio then calls the fallback URL
        assert "IS NOT KEPT" in caplog.text
        params = sms_params(member.phone, FROM_NUMBER, CRISIS, account_sid=ACCOUNT_SID)
        assert "988" in replies(webhook.post("/twilio/sms/fallback", params))[0]
    finally:
        down_runtime.db.dispose()


# --- the automatic replayer ---------------------------------------------------------------------------------


def test_the_web_process_replays_the_spool_by_itself_once_storage_works(
    postgres_only, down, env, runtime, db, member, dana, caplog
):
    down.sms(member.phone, CRISIS, sid="SM" + "e" * 32)
    assert runtime.spool.count() == 1
    caplog.set_level("WARNING", logger="checkin.intake")
    # A web process starting (or asked for /healthz) with something in the spool replays it in the background.
    app, web = _app(env, CHECKIN_SPOOL_REPLAY_SECONDS="1")
    try:
        deadline = time.monotonic() + 60  # against a hang only
        while runtime.spool.count() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert runtime.spool.count() == 0
        assert count(db, Message) == 1 and count(db, Escalation) == 1
        assert "SPOOL HOLDS 1 request(s)" in caplog.text and "is stored now" in caplog.text
        assert member.phone not in caplog.text and CRISIS not in caplog.text
    finally:
        app.extensions["checkin.replayer"].stop()
        web.db.dispose()


# --- a facilitator's keypad -----------------------------------------------------------------------------------


def test_a_facilitator_pressing_1_while_the_database_is_down_is_told_so_and_takes_the_alert_on_replay(
    postgres_only, twilio, down, app, runtime, db, member, dana
):
    replies(twilio.sms(member.phone, CRISIS))
    with db.session() as s:
        esc_id = s.scalar(select(Escalation.id))
    call = {
        "CallSid": "CA" + "f" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": FROM_NUMBER,
        "To": DANA,
        "Called": DANA,
    }
    script = down.post(f"/twilio/voice/alert/{esc_id}", call).get_data(as_text=True)
    assert f"Checkin alert {esc_id}." in script and f"/twilio/voice/alert/{esc_id}/ack" in script
    assert runtime.spool.count() == 0  # reading the script stores nothing: nothing to spool
    said = down.post(f"/twilio/voice/alert/{esc_id}/ack", dict(call, Digits="1")).get_data(as_text=True)
    assert "cannot be recorded as taken right now" in said and f"ACK {esc_id}" in said
    assert replay(app).stored == 1
    with db.session() as s:
        esc = s.get(Escalation, esc_id)
    assert esc.state == "acknowledged" and esc.acknowledged_by == dana.id


def test_a_database_host_that_never_answers_does_not_hold_a_crisis_text(postgres_only, env, member, runtime):
    """A host that takes the connection and says nothing (a frozen server, a black-holed network): the
    connection attempt gives up (CONNECT_TIMEOUT_SECONDS, twice) well before Twilio's 15 s would, and the
    text is spooled and answered."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the handshake; nobody ever answers
    app, silent_runtime = _app(
        env, DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/checkin"
    )
    out = {}
    try:
        webhook = TwilioWebhook(app.test_client(), silent_runtime.settings)
        worker = threading.Thread(target=lambda: out.update(response=webhook.sms(member.phone, CRISIS)))
        worker.start()
        worker.join(120)  # against a hang only (without a connect timeout it waits forever)
        assert not worker.is_alive(), "the webhook is still waiting for a database that never answers"
        assert "988" in replies(out["response"])[0] and runtime.spool.count() == 1
    finally:
        silent.close()
        silent_runtime.db.dispose()


def test_a_spooled_request_refused_on_replay_or_unreadable_is_set_aside_for_a_person(
    postgres_only, twilio, app, runtime, db, member
):
    from dataclasses import replace

    good = _entry_for(twilio, member.phone, "doing ok today", "SM" + "1" * 32)
    runtime.spool.put(
        replace(good, form=tuple((k, "not a sid" if k == "MessageSid" else v) for k, v in good.form))
    )
    (runtime.spool.new / "00000000000000000001-1-00000000.req").write_bytes(b"not a fernet token")
    runtime.spool.put(good)
    result = replay(app)
    assert (result.stored, result.refused, result.failed) == (1, 2, 0) and runtime.spool.count() == 0
    why = sorted(p.read_text().strip() for p in runtime.spool.rejected.glob("*.why"))
    assert why == ["HTTP 400", "cannot be read: InvalidToken"]
    assert count(db, Message) == 1


def test_a_routine_text_while_the_database_is_down_is_answered_by_rest_once_replayed(
    postgres_only, down, app, runtime, db, member
):
    from tests.conftest import texted_replies

    sid = "SM" + "e" * 32
    # Nothing can tell who wrote it while the database is down: no answer then, the answer on replay.
    assert replies(down.sms(member.phone, "doing ok today", sid=sid)) == []
    assert replay(app).stored == 1
    assert texted_replies(app, sid) == [NOBODY_READS_SAM]
    with db.session() as s:
        message = s.scalar(select(Message).where(Message.provider_sid == sid))
        assert message.status == "received" and message.reply_body == NOBODY_READS_SAM
    assert replay(app).stored == 0 and texted_replies(app, sid) == [NOBODY_READS_SAM]


def test_a_stop_spooled_after_a_text_is_recorded_before_that_text_can_be_answered(
    postgres_only, down, app, runtime, db, member
):
    """With the database down a member texts "4" then STOP; the STOP is confirmed at once. On replay no
    answer to the "4" may reach them: the opt-out is recorded before anything of theirs is answered."""
    from checkin.models import Member
    from tests.conftest import texted_replies

    sid_4, sid_stop = "SM" + "4" * 32, "SM" + "5" * 32
    assert replies(down.sms(member.phone, "4", sid=sid_4)) == []
    assert replies(down.sms(member.phone, "STOP", sid=sid_stop))[0].startswith("You will get no more texts")
    assert replay(app).stored == 2
    with db.session() as s:
        assert s.get(Member, member.id).opted_out
        stored = dict(s.execute(select(Message.provider_sid, Message.id)).all())
        answers = s.execute(select(OutboxItem.state).where(OutboxItem.member_id == member.id)).scalars().all()
    assert stored[sid_stop] < stored[sid_4]  # the STOP was stored first...
    assert texted_replies(app, sid_4) == [] and answers == []  # ...so the "4" finds them opted out


def test_stop_then_start_spooled_are_replayed_in_their_order_and_the_member_is_texted_again(
    postgres_only, down, app, runtime, db, member
):
    from checkin.models import Member

    assert replies(down.sms(member.phone, "doing ok today")) == []
    assert replies(down.sms(member.phone, "STOP"))[0].startswith("You will get no more texts")
    replies(down.sms(member.phone, "START"))
    assert replay(app).stored == 3
    with db.session() as s:
        assert not s.get(Member, member.id).opted_out
        bodies = s.scalars(select(Message.body).order_by(Message.id)).all()
        arrived = s.scalars(select(Message.body).order_by(Message.created_at)).all()
    assert bodies == ["STOP", "START", "doing ok today"]  # consent first, in order
    assert arrived == ["doing ok today", "STOP", "START"]  # the record still reads as they came


def test_a_spooled_request_is_one_error_line_and_the_traceback_is_logged_once_per_outage(
    postgres_only, down, app, runtime, member, caplog, monkeypatch
):
    # An outside tester counted about 230 lines of chained tracebacks per text while the database was down.
    caplog.set_level("INFO")

    def spool_one(sid: str, body: str) -> tuple[list[str], int]:
        caplog.clear()
        assert down.sms(member.phone, body, sid=sid).status_code == 200
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        in_full = sum(1 for r in caplog.records if r.exc_info and r.levelno >= 20)
        return errors, in_full

    first, in_full = spool_one("SM" + "1" * 32, "doing ok today")
    assert len(first) == 2, first  # the line, and the traceback once
    line = first[0]
    # Ids, the exception's type and the driver's own short words: enough to know the database is down.
    assert "STORING FAILED (OperationalError: connection failed" in line and "sid=SM" + "1" * 32 in line
    assert member.phone not in caplog.text and "doing ok" not in caplog.text
    assert in_full == 1  # the traceback, this once

    for sid, body in (("SM" + "2" * 32, "doing ok today"), ("SM" + "3" * 32, CRISIS)):
        errors, in_full = spool_one(sid, body)
        assert len(errors) == 1 and f"sid={sid}" in errors[0] and in_full == 0, errors
        text = "\n".join(caplog.handler.format(r) for r in caplog.records)
        assert len(text.splitlines()) <= 3, text  # the retry's WARNING and the ERROR; no traceback

    # Another kind of failure in the same outage is another fault: its traceback is logged, once.
    from checkin import intake as courier

    def broken(*_args, **_kwargs):  # whatever store is given
        raise RuntimeError("a bug in storing")

    monkeypatch.setattr(courier, "store", broken)
    errors, in_full = spool_one("SM" + "5" * 32, "doing ok today")
    assert "STORING FAILED (RuntimeError: a bug in storing)" in errors[0] and in_full == 1
    monkeypatch.undo()

    # Storage back, the spool emptied: the next failure is a new outage and is logged in full again.
    assert replay(app).stored == 4 and replay(down.client.application).failed == 0
    _errors, in_full = spool_one("SM" + "4" * 32, "doing ok today")
    assert in_full == 1

"""Delivering the outbox through the real twilio Client to the loopback Twilio server, with real RQ workers."""

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import select

from checkin import outbox
from checkin.db import utcnow
from checkin.models import ConsentEvent, Member, Message, OutboxItem
from tests.conftest import deliver_item
from workers import jobs
from workers.queues import QUEUES, dispatch
from workers.worker import Worker


def write(
    db, key="notice:1", to="+12025550101", body="Group is on Tuesday at 6pm.", member_id=None, queue="outbox"
):
    with db.session() as s:
        item, created = outbox.add(s, key, to=to, body=body, member_id=member_id, queue=queue)
        assert created
    return item


def run_worker(runtime):
    Worker(list(QUEUES), connection=runtime.redis, runtime=runtime).work(burst=True)


def item_state(db, item_id):
    with db.session() as s:
        return s.get(OutboxItem, item_id)


def test_outbox_row_is_delivered_by_a_worker(runtime, fake_twilio, member):
    item = write(runtime.db, member_id=member.id)
    assert dispatch(runtime, [item]) == 1
    run_worker(runtime)
    [sent] = fake_twilio.messages()
    assert sent["params"]["To"] == member.phone
    assert sent["params"]["Body"] == "Group is on Tuesday at 6pm."
    assert sent["params"]["From"] == "+15005550006"
    assert sent["params"]["StatusCallback"] == f"https://checkin.example.org/twilio/status?outbox={item.id}"
    stored = item_state(runtime.db, item.id)
    assert stored.state == "sent" and stored.provider_sid == sent["sid"] and stored.attempts == 1
    with runtime.db.session() as s:
        message = s.scalar(select(Message).where(Message.provider_sid == sent["sid"]))
        assert message.direction == "outbound" and message.body == sent["params"]["Body"]


def test_same_key_is_written_once_and_sent_once(runtime, fake_twilio):
    item = write(runtime.db, key="reminder:1:2026-12-08:24h")
    with runtime.db.session() as s:
        again, created = outbox.add(s, "reminder:1:2026-12-08:24h", to="+12025550101", body="other")
    assert not created and again.id == item.id
    dispatch(runtime, [item])
    dispatch(runtime, [item])  # a duplicate job, as after a retry
    run_worker(runtime)
    jobs.deliver(item.id, runtime=runtime)  # and a late third call
    assert len(fake_twilio.messages()) == 1


def test_opted_out_member_is_never_sent_to(runtime, fake_twilio, member):
    item = write(runtime.db, member_id=member.id)
    with runtime.db.session() as s:  # opted out after the row was written, before the worker ran
        s.get(Member, member.id).status = "opted_out"
    dispatch(runtime, [item])
    run_worker(runtime)
    assert fake_twilio.messages() == []
    stored = item_state(runtime.db, item.id)
    assert stored.state == "cancelled" and stored.last_error == "recipient has opted out"


def test_opt_out_cancels_what_was_pending(runtime, twilio, fake_twilio, member):
    item = write(runtime.db, member_id=member.id)
    twilio.sms(member.phone, "STOP")
    assert item_state(runtime.db, item.id).state == "cancelled"
    jobs.deliver(item.id, runtime=runtime)
    assert fake_twilio.messages() == []


# A 429 / 20429 is not a failed attempt but a hold on the sending number: tests/test_pacing.py.
@pytest.mark.parametrize("status, code", [(500, 20500), (503, 20503), (400, 30001)])
def test_transient_errors_are_retried_with_backoff(runtime, fake_twilio, status, code):
    item = write(runtime.db)
    fake_twilio.fail_next(1, status=status, code=code)
    before = utcnow()  # the backoff counts from the failure, which comes after this
    assert jobs.deliver(item.id, runtime=runtime) == "retry"
    stored = item_state(runtime.db, item.id)
    assert stored.state == "pending" and stored.attempts == 1 and stored.last_error_code == code
    assert stored.next_attempt_at > before + timedelta(seconds=20)
    assert jobs.deliver(item.id, runtime=runtime) == "skipped"  # not due yet
    later = stored.next_attempt_at + timedelta(seconds=1)
    outcome = deliver_item(runtime, item.id, now=later)
    assert outcome.state == "sent"
    assert len(fake_twilio.messages()) == 1


def test_a_failed_alert_is_tried_again_within_seconds_not_half_a_minute(runtime, fake_twilio):
    # A facilitator is waiting for an alert; a reminder can wait for the provider to recover.
    alert = write(runtime.db, key="alert:1:crisis:1", body="Checkin ALERT 1 (crisis)", queue="alerts")
    reminder = write(runtime.db, key="reminder:1:2026-12-08:24h")
    fake_twilio.fail_next(2, status=500, code=20500)
    before = utcnow()
    assert jobs.deliver(alert.id, runtime=runtime) == "retry"
    assert jobs.deliver(reminder.id, runtime=runtime) == "retry"
    after = utcnow()
    assert item_state(runtime.db, alert.id).next_attempt_at <= after + timedelta(seconds=5)
    assert item_state(runtime.db, reminder.id).next_attempt_at >= before + timedelta(seconds=30)


def test_an_alert_failing_three_times_in_a_row_still_goes_out_within_twenty_seconds(runtime, fake_twilio):
    alert = write(runtime.db, key="alert:1:crisis:1", body="Checkin ALERT 1 (crisis)", queue="alerts")
    fake_twilio.fail_next(3, status=500, code=20500)
    start = now = utcnow()
    for _ in range(3):
        assert deliver_item(runtime, alert.id, now=now).state == "retry"
        now = item_state(runtime.db, alert.id).next_attempt_at
    assert deliver_item(runtime, alert.id, now=now).state == "sent"
    assert now - start < timedelta(seconds=20)
    assert len(fake_twilio.messages()) == 1


def test_network_failure_is_transient(runtime, settings):
    from checkin.adapters.twilio_rest import TwilioPort
    from config import load_settings

    item = write(runtime.db)
    unreachable = TwilioPort(
        load_settings({**os.environ, **_env_of(settings), "TWILIO_API_BASE_URL": "http://127.0.0.1:9"})
    )
    outcome = outbox.deliver(
        runtime.db, item.id, unreachable, status_callback_base=None, lease_seconds=120, rules=runtime.rules
    )
    assert outcome.state == "retry"
    assert item_state(runtime.db, item.id).state == "pending"


def _env_of(settings):
    return {
        "CHECKIN_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "CHECKIN_ENCRYPTION_KEY": ",".join(settings.encryption_keys),
        "PUBLIC_BASE_URL": settings.public_base_url,
        "MESSAGING_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
        "TWILIO_FROM_NUMBER": settings.twilio_from_number,
        "CHECKIN_INSTANCE_PATH": str(settings.instance_path),
    }


@pytest.mark.parametrize(
    "code, words",
    [(21211, "not a valid phone number"), (21614, "not a mobile number"), (21610, "replied STOP")],
)
def test_permanent_errors_fail_with_reason(runtime, fake_twilio, member, code, words):
    item = write(runtime.db, member_id=member.id)
    fake_twilio.fail_next(1, status=400, code=code)
    assert jobs.deliver(item.id, runtime=runtime) == "failed"
    stored = item_state(runtime.db, item.id)
    assert stored.state == "failed" and stored.last_error_code == code and words in stored.last_error
    assert jobs.deliver(item.id, runtime=runtime) == "skipped"  # never retried
    with runtime.db.session() as s:
        status = s.get(Member, member.id).status
    assert status == ("opted_out" if code == 21610 else "active")


# --- status callbacks -------------------------------------------------------------------------


def status_params(sid, status, code=None):
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "1" * 32,
        "From": "+15005550006",
        "To": "+12025550101",
        "ApiVersion": "2010-04-01",
    }
    if code:
        params["ErrorCode"] = str(code)
    return params


def sent_item(runtime, fake_twilio, member):
    item = write(runtime.db, member_id=member.id)
    jobs.deliver(item.id, runtime=runtime)
    return item, fake_twilio.messages()[0]["sid"]


def message_by_sid(db, sid):
    with db.session() as s:
        return s.scalar(select(Message).where(Message.provider_sid == sid))


def test_status_callbacks_update_the_message_in_order(runtime, twilio, fake_twilio, member):
    item, sid = sent_item(runtime, fake_twilio, member)
    path = f"/twilio/status?outbox={item.id}"
    assert twilio.post(path, status_params(sid, "delivered")).status_code == 204
    assert twilio.post(path, status_params(sid, "sent")).status_code == 204  # late, out of order
    assert message_by_sid(runtime.db, sid).status == "delivered"


def test_failed_callback_records_code_in_words(runtime, twilio, fake_twilio, member):
    item, sid = sent_item(runtime, fake_twilio, member)
    twilio.post(f"/twilio/status?outbox={item.id}", status_params(sid, "undelivered", 30003))
    message = message_by_sid(runtime.db, sid)
    assert message.status == "undelivered" and message.error_code == 30003
    assert "unreachable" in message.error_message


def test_callback_21610_opts_the_member_out(runtime, twilio, fake_twilio, member):
    item, sid = sent_item(runtime, fake_twilio, member)
    twilio.post(f"/twilio/status?outbox={item.id}", status_params(sid, "failed", 21610))
    with runtime.db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"
        assert s.scalars(select(ConsentEvent.source).where(ConsentEvent.kind == "opt_out")).all() == [
            "carrier:21610"
        ]


def test_unknown_sid_is_ignored(twilio, db):
    response = twilio.post("/twilio/status", status_params("SM" + "f" * 32, "delivered"))
    assert response.status_code == 204
    assert message_by_sid(db, "SM" + "f" * 32) is None


def test_unsigned_status_callback_is_refused(twilio, runtime, fake_twilio, member):
    item, sid = sent_item(runtime, fake_twilio, member)
    assert twilio.post("/twilio/status", status_params(sid, "failed", 21610), signature="").status_code == 403
    assert message_by_sid(runtime.db, sid).status == "queued"


def test_bad_status_value_is_400(twilio):
    response = twilio.post("/twilio/status", status_params("SM" + "f" * 32, "exploded"))
    assert response.status_code == 400 and "not a Twilio message status" in response.get_data(as_text=True)


def test_callback_with_outbox_id_reconciles_an_unrecorded_send(runtime, twilio, member):
    """The worker died after Twilio accepted but before it recorded the SID: the callback says it went."""
    item = write(runtime.db, member_id=member.id)
    with runtime.db.session() as s:
        assert outbox.claim(s, item.id, utcnow(), 120)
    sid = "SM" + "c" * 32
    twilio.post(f"/twilio/status?outbox={item.id}", status_params(sid, "sent"))
    stored = item_state(runtime.db, item.id)
    assert stored.state == "sent" and stored.provider_sid == sid
    assert message_by_sid(runtime.db, sid).outbox_id == item.id


# --- Redis outage and killed workers ----------------------------------------------------------


def test_written_while_redis_is_down_then_delivered_when_it_returns(runtime, fake_twilio, member):
    real_redis = runtime.redis
    runtime._redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.3)
    item = write(runtime.db, member_id=member.id)
    assert dispatch(runtime, [item]) == 0  # Redis is down: nothing enqueued, nothing lost
    assert jobs.sweep(runtime=runtime) == 0
    assert item_state(runtime.db, item.id).state == "pending"

    runtime._redis = real_redis  # Redis is back
    assert jobs.sweep(runtime=runtime) == 1
    run_worker(runtime)
    assert len(fake_twilio.messages()) == 1
    assert item_state(runtime.db, item.id).state == "sent"
    assert jobs.sweep(runtime=runtime) == 0


def _worker_process(settings_env, redis_url):
    env = dict(os.environ, **settings_env)
    return subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "rq"),
            "worker",
            "--worker-class",
            "workers.worker.Worker",
            "--url",
            redis_url,
            *QUEUES,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait(predicate, timeout=120.0):  # a deadline for a hang, not a speed limit: a loaded machine is slow
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.parametrize(
    "accepted", [False, True], ids=["killed-before-twilio-accepted", "killed-after-twilio-accepted"]
)
def test_worker_killed_mid_delivery_sends_exactly_once(live_app, fake_twilio, member, accepted):
    runtime = live_app
    lease = 2
    runtime.settings = runtime.settings.__class__(
        **{**runtime.settings.__dict__, "outbox_lease_seconds": lease}
    )
    env = {
        **_env_of(runtime.settings),
        "TWILIO_API_BASE_URL": fake_twilio.base_url,
        "CHECKIN_OUTBOX_LEASE_SECONDS": str(lease),
    }
    black_hole = socket.socket()
    if accepted:
        fake_twilio.delay(3)  # the request is in flight when the worker dies; Twilio still takes it
        fake_twilio.set_auto_status(("sent",), delay=0.05)  # ... and calls back with our outbox id
    else:
        # A server that takes the connection and never answers: Twilio never got the message.
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        env["TWILIO_API_BASE_URL"] = f"http://127.0.0.1:{black_hole.getsockname()[1]}"
    item = write(runtime.db, member_id=member.id)
    worker = _worker_process(env, runtime.settings.redis_url)
    try:
        dispatch(runtime, [item])
        _wait(lambda: item_state(runtime.db, item.id).state == "sending")
        if accepted:
            # Kill only once Twilio holds the request, however slowly a loaded machine got there.
            fake_twilio.wait_for(lambda: fake_twilio.requests(), timeout=120)
        time.sleep(0.3)
        os.killpg(worker.pid, signal.SIGKILL)  # as a killed container: no cleanup runs
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        black_hole.close()
    fake_twilio.delay(0)
    if accepted:
        _wait(lambda: item_state(runtime.db, item.id).state == "sent")  # reconciled by the callback
    time.sleep(lease + 0.5)
    assert jobs.sweep(runtime=runtime) == (0 if accepted else 1)
    run_worker(runtime)
    accepted_messages = fake_twilio.messages()
    assert len(accepted_messages) == 1
    stored = item_state(runtime.db, item.id)
    assert stored.state == "sent" and stored.provider_sid == accepted_messages[0]["sid"]


def test_a_stop_stored_while_a_send_waits_for_its_turn_cancels_it(runtime, fake_twilio, member):
    """The consent check at claim time is not the last one: a fan-out at 1/s makes a send wait for its
    slot, and a STOP stored meanwhile must still stop it (the fault table's STOP-during-fan-out row)."""
    from checkin import consent

    item = write(runtime.db, member_id=member.id)

    class StopArrivesWhileWaiting:  # the pacer's slot wait, during which the member texts STOP
        def wait_turn(self, sender, channel, urgent=False):
            with runtime.db.session() as s:
                consent.opt_out(s, s.get(Member, member.id), source="keyword:STOP")

    outcome = outbox.deliver(
        runtime.db,
        item.id,
        runtime.port,
        status_callback_base=None,
        lease_seconds=120,
        rules=runtime.rules,
        pacer=StopArrivesWhileWaiting(),
    )
    assert outcome.state == "cancelled"
    assert fake_twilio.messages() == []
    assert item_state(runtime.db, item.id).state == "cancelled"


def test_two_callbacks_at_once_for_an_unrecorded_send_record_it_once(
    postgres_only, runtime, member, monkeypatch
):
    """Twilio's "sent" and "delivered" for a send the worker died before recording, arriving together:
    each looked for the message, found none, and wrote one; the second raised IntegrityError (a 500, and
    its status was lost). Now the second waits for the first and applies its status to the same row."""
    import threading

    from checkin import status

    item = write(runtime.db, member_id=member.id)
    with runtime.db.session() as s:
        assert outbox.claim(s, item.id, utcnow(), 120)
    sid = "SM" + "d" * 32
    # Hold each callback just after it decided to record the message, until the other got there too
    # (or 2 s: with the fix, the second waits for the first's commit instead and never gets there).
    both_there = threading.Barrier(2, timeout=2)
    warning = status.log.warning

    def wait_for_the_other(*args):
        try:
            both_there.wait()
        except threading.BrokenBarrierError:
            pass
        warning(*args)

    monkeypatch.setattr(status.log, "warning", wait_for_the_other)
    errors = []

    def callback(state):
        try:
            status.apply(runtime.db, status.StatusUpdate(sid, state, outbox_id=item.id), runtime.rules)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=callback, args=(state,)) for state in ("sent", "delivered")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with runtime.db.session() as s:
        [message] = s.scalars(select(Message).where(Message.provider_sid == sid)).all()
        assert message.status == "delivered" and message.outbox_id == item.id
    assert item_state(runtime.db, item.id).state == "sent"

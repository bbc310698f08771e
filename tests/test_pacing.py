"""Pacing sends per sending number through Redis: rates from the environment, reservations on the
shared clock, 429 holds, and two real rq worker processes against the loopback Twilio server.

Assertions are about counts, order and spacing on the shared clock (no send earlier than its
number's pace allows), never about how fast anything ran.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from checkin import outbox, pacing
from checkin.adapters.redis_pacer import KEY_PREFIX
from checkin.adapters.redis_pacer import RedisPacer as Pacer
from checkin.db import utcnow
from checkin.models import OutboxItem
from checkin.pacing import PacingConfigError, Rates, load_rates
from tests.conftest import deliver_item
from tests.test_delivery import _env_of, _wait
from workers import jobs
from workers.queues import QUEUES, dispatch

OTHER_NUMBER = "+15005550007"


# --- configuration --------------------------------------------------------------------------


def test_rates_from_the_environment():
    assert load_rates({}) == Rates(1.0, {})
    rates = load_rates(
        {"CHECKIN_SEND_RATE": "10", "CHECKIN_SEND_RATES": "+18005550100=3, 12345=100 ,MGabc=0.5"}
    )
    assert rates.for_sender("+15005550006") == 10
    assert (rates.for_sender("+18005550100"), rates.for_sender("12345"), rates.for_sender("MGabc")) == (
        3,
        100,
        0.5,
    )
    assert load_rates({"CHECKIN_SEND_RATE": "0"}).for_sender("x") == 0  # unpaced


@pytest.mark.parametrize(
    "env, key",
    [
        ({"CHECKIN_SEND_RATE": "fast"}, "CHECKIN_SEND_RATE"),
        ({"CHECKIN_SEND_RATE": "-1"}, "CHECKIN_SEND_RATE"),
        ({"CHECKIN_SEND_RATES": "+18005550100:3"}, "CHECKIN_SEND_RATES"),
        ({"CHECKIN_SEND_RATES": "+18005550100=lots"}, "CHECKIN_SEND_RATES"),
    ],
)
def test_bad_rate_is_refused_naming_the_key(env, key):
    with pytest.raises(PacingConfigError) as error:
        load_rates(env)
    assert error.value.key == key


def test_app_does_not_start_with_a_bad_rate(env):
    from config import ConfigError, load_settings
    from webhooks import create_app

    # Settings read the rate with every other variable: the app never gets a runtime to start with.
    with pytest.raises(ConfigError) as error:
        create_app(load_settings({**env, "CHECKIN_SEND_RATE": "fast"}))
    assert "CHECKIN_SEND_RATE: must be messages per second" in str(error.value)


# --- reservations on real Redis -------------------------------------------------------------


def pacer_for(runtime, default=10.0, **per_sender):
    return Pacer(lambda: runtime.redis, Rates(default, per_sender), default_sender="+15005550006")


def next_free_slot(runtime, pacer, sender=None, channel="sms"):
    """The number's next free slot as booked in Redis (seconds on Redis's clock)."""
    return int(runtime.redis.get(KEY_PREFIX + pacer.key(sender, channel))) / 1_000_000


def test_each_send_books_the_next_slot_on_its_number(runtime):
    # Slow enough rates that the time between two calls (milliseconds, more on a busy machine) stays
    # well inside a slot: the assertions are about the slots booked, not about how fast the calls ran.
    pacer = pacer_for(runtime, 1.0, **{OTHER_NUMBER: 2.0})
    step = pacer.interval(None)
    assert 1.0 <= step <= 1.0 * (1 + pacing.HEADROOM)
    waits, slots = [], []
    for _ in range(4):
        waits.append(pacer.reserve(None))
        slots.append(next_free_slot(runtime, pacer))
    # One slot each, a step apart on Redis's clock; each send waits for its own (less the time between calls).
    assert waits[0] == 0
    assert all(b - a == pytest.approx(step, abs=1e-6) for a, b in itertools.pairwise(slots)), slots
    assert all(0 < w <= k * step for k, w in enumerate(waits) if k), waits
    assert pacer.reserve(OTHER_NUMBER) == 0  # another number has its own pace ...
    first = next_free_slot(runtime, pacer, OTHER_NUMBER)
    assert 0 < pacer.reserve(OTHER_NUMBER) <= pacer.interval(OTHER_NUMBER)  # ... and its own rate
    assert next_free_slot(runtime, pacer, OTHER_NUMBER) - first == pytest.approx(
        pacer.interval(OTHER_NUMBER), abs=1e-6
    )
    assert pacer.reserve(None, "voice") == 0  # calls are a separate limit from texts
    assert Pacer(lambda: runtime.redis, Rates(0)).reserve(None) == 0  # unpaced


def test_an_alert_books_a_slot_but_never_waits(runtime):
    slept = []
    pacer = Pacer(lambda: runtime.redis, Rates(1.0), sleep=slept.append)
    assert pacer.wait_turn(None) == 0  # an idle number: no wait
    assert pacer.wait_turn(None, urgent=True) == 0 and slept == []  # the alert goes at once ...
    # ... and the next reminder yields its slot: it waits past the alert's (more than one step).
    assert pacer.wait_turn(None) > pacer.interval(None) and len(slept) == 1


def test_a_429_holds_the_number_longer_each_time(runtime):
    pacer = pacer_for(runtime, 1.0)
    step = pacer.interval(None)
    assert pacer.hold(None) == step
    held_until = next_free_slot(runtime, pacer)
    # Held: the next slot booked is the hold's end (the wait is less the time between the calls).
    assert 0 < pacer.reserve(None) <= step
    assert next_free_slot(runtime, pacer) - held_until == pytest.approx(step, abs=1e-6)
    assert pacer.hold(None) == 2 * step
    assert pacer.hold(None) == 4 * step
    assert pacer.reserve(OTHER_NUMBER) == 0  # other numbers go on


def test_redis_down_sends_unpaced(runtime):
    from redis import Redis

    down = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    assert Pacer(lambda: down, Rates(1.0)).reserve(None) == 0


# --- the delivery job ------------------------------------------------------------------------


def write(db, count, *, prefix="notice", queue="outbox", start=0, from_number=None):
    items = []
    with db.session() as s:
        for i in range(start, start + count):
            item, _ = outbox.add(
                s,
                f"{prefix}:{i}",
                to=f"+1202555{i:04d}",
                body=f"{prefix} {i}",
                queue=queue,
                from_number=from_number,
            )
            items.append(item)
    return items


def test_429_is_held_not_failed_and_not_counted_as_an_attempt(runtime, fake_twilio, monkeypatch):
    monkeypatch.setenv("CHECKIN_SEND_RATE", "10")
    [item] = write(runtime.db, 1)
    fake_twilio.fail_next(1, status=429)
    before = utcnow()  # the hold starts between `before` and `after`
    assert jobs.deliver(item.id, runtime=runtime) == "held"
    after = utcnow()
    with runtime.db.session() as s:
        held = s.get(OutboxItem, item.id)
        assert (held.state, held.attempts, held.last_error_code) == ("pending", 0, 20429)
        assert before < held.next_attempt_at < after + timedelta(seconds=2)
        due = held.next_attempt_at
    # The retry job is scheduled for when the hold ends.
    from rq import Queue

    assert len(Queue("outbox", connection=runtime.redis).scheduled_job_registry) == 1
    outcome = outbox.deliver(
        runtime.db,
        item.id,
        runtime.port,
        status_callback_base=None,
        lease_seconds=120,
        now=due,
        rules=runtime.rules,
        pacer=runtime.pacer,
    )
    assert outcome.state == "sent"
    assert len(fake_twilio.messages()) == 1


def test_many_429s_never_fail_a_message(runtime, fake_twilio):
    [item] = write(runtime.db, 1)
    for _ in range(outbox.MAX_ATTEMPTS + 2):
        fake_twilio.fail_next(1, status=429)
        with runtime.db.session() as s:
            due = s.get(OutboxItem, item.id).next_attempt_at
        outcome = deliver_item(runtime, item.id, now=due)
        assert outcome.state == "held"
    with runtime.db.session() as s:
        assert s.get(OutboxItem, item.id).state == "pending"


# --- two real workers ------------------------------------------------------------------------


def start_workers(runtime, fake_twilio, rate, count=2):
    env = dict(
        os.environ,
        **_env_of(runtime.settings),
        TWILIO_API_BASE_URL=fake_twilio.base_url,
        CHECKIN_SEND_RATE=str(rate),
    )
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    return [
        subprocess.Popen(
            [
                rq,
                "worker",
                "--worker-class",
                "workers.worker.Worker",
                "--with-scheduler",
                "--url",
                runtime.settings.redis_url,
                *QUEUES,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(count)
    ]


def stop(workers):
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


def states(db):
    from sqlalchemy import func

    with db.session() as s:
        return dict(s.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all())


def assert_paced(sent, rate, t0):
    """No send earlier than the pace allows: the k-th send on a number at or after t0 + k/rate (the
    first slot is booked at t0 or later), on the one clock Redis and the fake Twilio share."""
    arrivals = sorted(m["created_wall"] for m in sent)
    for k, at in enumerate(arrivals):
        assert at >= t0 + k / rate - 0.002, (k, at - t0)


def test_two_workers_keep_to_the_configured_rate_send_each_once_oldest_first(runtime, fake_twilio):
    rate, count = 10, 30
    items = write(runtime.db, count)
    workers = start_workers(runtime, fake_twilio, rate)
    try:
        t0 = time.time()
        dispatch(runtime, items)
        fake_twilio.wait_for_messages(count, timeout=180)
        # Every row recorded as sent before the workers are stopped (stopping one mid-job would leave its
        # row "sending"); a duplicate send would have come from a job still running, so it is in by now.
        _wait(lambda: states(runtime.db) == {"sent": count})
        sent = fake_twilio.messages()
    finally:
        stop(workers)
    bodies = [m["params"]["Body"] for m in sent]
    assert len(bodies) == count and len(set(bodies)) == count  # each exactly once
    assert states(runtime.db) == {"sent": count}
    assert_paced(sent, rate, t0)
    # Oldest due first: two workers may swap neighbours, but the first ten due all go in the first dozen.
    order = [int(b.split()[1]) for b in bodies]
    assert set(range(10)) <= set(order[:12]), order


def test_429s_from_twilio_back_off_and_still_send_each_once(runtime, fake_twilio):
    rate, count = 10, 20
    items = write(runtime.db, count)
    fake_twilio.fail_next(3, status=429)
    workers = start_workers(runtime, fake_twilio, rate)
    try:
        dispatch(runtime, items)
        fake_twilio.wait_for_messages(count, timeout=180)
        _wait(lambda: states(runtime.db) == {"sent": count})  # recorded, before the workers are stopped
        sent = fake_twilio.messages()
    finally:
        stop(workers)
    assert fake_twilio.count_429() == 3
    assert len(sent) == count and len({m["params"]["Body"] for m in sent}) == count
    with runtime.db.session() as s:
        rows = s.scalars(select(OutboxItem)).all()
        assert {r.state for r in rows} == {"sent"}
        assert {r.attempts for r in rows} == {1}  # a 429 is not an attempt
        assert sum(r.last_error_code == 20429 for r in rows) == 0  # cleared once sent


def test_an_alert_is_not_paced_behind_a_fan_out(runtime, fake_twilio):
    rate, count = 4, 16
    reminders = write(runtime.db, count, prefix="reminder")
    workers = start_workers(runtime, fake_twilio, rate)
    try:
        dispatch(runtime, reminders)
        fake_twilio.wait_for_messages(3, timeout=180)
        [alert] = write(runtime.db, 1, prefix="alert", queue=outbox.ALERT_QUEUE)
        dispatch(runtime, [alert])
        # Counted once the alert is on its queue: reminders sent while this test waited to enqueue it (a
        # loaded machine) are not "ahead of it".
        sent_before = len(fake_twilio.messages())
        fake_twilio.wait_for_messages(count + 1, timeout=180)
        sent = fake_twilio.messages()
    finally:
        stop(workers)
    order = [m["params"]["Body"] for m in sent]
    # At most the reminders the two workers already held slots for go before it; the other ten-odd wait.
    assert order.index("alert 0") <= sent_before + 2, (sent_before, order)
    assert len(order) == count + 1 and len(set(order)) == count + 1

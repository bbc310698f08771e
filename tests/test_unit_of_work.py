"""The unit of work: effects go out once, ordered, only after commit; a failed dispatch never undoes a commit."""

import logging

import pytest

from checkin import outbox
from checkin.db import unit_of_work as commit_block
from checkin.models import OutboxItem
from checkin.unit_of_work import ListDispatcher, pending, record_timer


def _session(db, dispatcher):
    return commit_block(db.sessions(dispatcher=dispatcher))


def test_effects_go_to_the_dispatcher_after_commit_alerts_first(db):
    from checkin.db import utcnow

    sent = ListDispatcher()
    with _session(db, sent) as s:
        notice, _ = outbox.add(s, "k:notice", to="+12025550101", body="hi")
        call, _ = outbox.add(s, "k:call", to="+12025550102", channel="voice", queue=outbox.ALERT_QUEUE)
        text, _ = outbox.add(s, "k:text", to="+12025550103", body="alert", queue=outbox.ALERT_QUEUE)
        record_timer(s, 7, utcnow())
        assert sent.dispatched == []  # nothing before the commit
        assert [x.id for x in pending(s).sends] == [notice.id, call.id, text.id]
    assert [x.id for x in sent.sends] == [text.id, call.id, notice.id]  # alerts first, texts before calls
    assert [t.escalation_id for t in sent.timers] == [7]


def test_a_rollback_forgets_what_it_recorded(db):
    sent = ListDispatcher()

    def decide_and_fail():
        with _session(db, sent) as s:
            outbox.add(s, "k:gone", to="+12025550101", body="hi")
            raise RuntimeError("deciding failed")

    with pytest.raises(RuntimeError):
        decide_and_fail()
    with _session(db, sent) as s:
        try:
            with s.begin_nested():
                outbox.add(s, "k:savepoint", to="+12025550101", body="hi")
                raise RuntimeError("one case failed")
        except RuntimeError:
            pass
        kept, _ = outbox.add(s, "k:kept", to="+12025550101", body="hi")
    assert [x.id for x in sent.sends] == [kept.id]


def test_a_console_style_plain_commit_dispatches_too(db):
    sent = ListDispatcher()
    s = db.sessions(dispatcher=sent)
    try:
        item, _ = outbox.add(s, "k:console", to="+12025550101", body="hi")
        s.commit()
    finally:
        s.close()
    assert [x.id for x in sent.sends] == [item.id]


def test_a_failing_dispatcher_is_logged_and_the_commit_stands(db, caplog):
    class Broken:
        def dispatch(self, effects):
            raise ConnectionError("redis is down")

    with caplog.at_level(logging.ERROR, logger="checkin.unit_of_work"), _session(db, Broken()) as s:
        item, _ = outbox.add(s, "k:kept-anyway", to="+12025550101", body="hi")
    with db.session() as s:
        assert s.get(OutboxItem, item.id).state == "pending"  # stored: the sweeper will enqueue it
    assert f"outbox=[{item.id}]" in caplog.text

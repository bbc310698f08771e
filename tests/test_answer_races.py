"""Answers racing for one open check-in prompt (PostgreSQL, the signed SMS webhook): exactly one text is
the prompt's answer and is told "saved" with its own score; a text that loses the race is answered as a
later answer is: by the member's older open prompt if there is one ("saved"), else "there is nothing to answer right now";
the prompt keeps the winner's score."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from checkin.checkins import CheckIn
from checkin.db import utcnow
from tests.conftest import open_checkin, said
from tests.test_inbound_exactly_once import _joined, _post_in_thread, _until_it_waits_for_the_lock

SAVED = "Thanks, Sam. We saved your check-in:"
LATER = "Thanks. There is nothing to answer right now."


def _text(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return said(response)[0]


def _prompt(db, checkin_id):
    with db.session() as s:
        return s.get(CheckIn, checkin_id)


def _answer_held(db, checkin_id, score):
    """The prompt answered in a transaction left open, as a request a moment ahead would have it."""
    session = db.sessions()
    now = utcnow()
    session.execute(
        update(CheckIn)
        .where(CheckIn.id == checkin_id)
        .values(state="answered", score=score, answered_at=now, closed_at=now, channel="sms")
    )
    return session


def _lose_the_race(db, member, body, sid):
    checkin_id = open_checkin(db, member, None, f"prompt:{member.id}:race")
    holder = _answer_held(db, checkin_id, 5)
    try:
        thread, out = _post_in_thread(db.twilio, member.phone, body, sid)
        _until_it_waits_for_the_lock(db, thread)
        holder.commit()
    finally:
        holder.close()
    return _text(_joined(thread, out)), _prompt(db, checkin_id)


def test_a_bare_3_that_loses_the_prompt_to_a_concurrent_answer_is_not_told_saved(
    postgres_only, twilio, db, member
):
    db.twilio = twilio
    text, prompt = _lose_the_race(db, member, "3", "SM" + "3" * 32)
    assert text.startswith(LATER), text
    assert (prompt.state, prompt.score) == ("answered", 5)


def test_a_bare_2_that_loses_the_prompt_to_a_concurrent_answer_is_not_told_saved(
    postgres_only, twilio, db, member
):
    db.twilio = twilio
    text, prompt = _lose_the_race(db, member, "2", "SM" + "2" * 32)
    assert text.startswith(LATER), text
    assert (prompt.state, prompt.score) == ("answered", 5)


def test_answers_posted_at_once_save_exactly_one_with_its_own_score(postgres_only, twilio, db, member):
    checkin_id = open_checkin(db, member, None, f"prompt:{member.id}:race")
    bodies = ["3", "5", "4", "3", "5", "4"]
    barrier = threading.Barrier(len(bodies))
    texts = [None] * len(bodies)

    def post(i):
        barrier.wait(30)
        texts[i] = _text(twilio.sms(member.phone, bodies[i], sid=f"SM{i:032d}"))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    saved = [i for i, text in enumerate(texts) if text.startswith(SAVED)]
    assert len(saved) == 1, texts
    prompt = _prompt(db, checkin_id)
    assert texts[saved[0]] == f"{SAVED} {prompt.score} of 5."
    assert prompt.score == int(bodies[saved[0]])
    assert all(text.startswith(LATER) for i, text in enumerate(texts) if i != saved[0]), texts
    with db.session() as s:
        assert s.scalars(select(CheckIn.id).where(CheckIn.member_id == member.id)).all() == [checkin_id]


@pytest.mark.parametrize("body, score", [("3", 3), ("4 good", 4)])
def test_an_answer_that_loses_the_newest_prompt_answers_the_members_older_open_prompt(
    postgres_only, twilio, db, member, body, score
):
    older = open_checkin(db, member, None, f"prompt:{member.id}:older", ago=timedelta(hours=5))
    newer = open_checkin(db, member, None, f"prompt:{member.id}:newer")
    holder = _answer_held(db, newer, 5)
    try:
        thread, out = _post_in_thread(twilio, member.phone, body, "SM" + "3" * 32)
        _until_it_waits_for_the_lock(db, thread)
        holder.commit()
    finally:
        holder.close()
    # As had it arrived a moment later: the older prompt, still open, is what the 3 answers.
    assert _text(_joined(thread, out)) == f"{SAVED} {score} of 5."
    assert (_prompt(db, older).state, _prompt(db, older).score) == ("answered", score)
    assert (_prompt(db, newer).state, _prompt(db, newer).score) == ("answered", 5)
    # Nothing open is left: the next 4 is a later answer, and no unprompted check-in was made.
    assert _text(twilio.sms(member.phone, "4", sid="SM" + "4" * 32)).startswith(LATER)
    with db.session() as s:
        ids = s.scalars(select(CheckIn.id).where(CheckIn.member_id == member.id)).all()
    assert sorted(ids) == sorted([older, newer])

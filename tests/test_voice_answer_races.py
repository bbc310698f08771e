"""A keypad answer racing a text for one open check-in prompt (PostgreSQL, signed webhooks): the text
that took the prompt first keeps it, with its score; the caller's answer is saved as a check-in of its
own (as a call a moment later finds no open prompt), never written over the text's; with an older prompt
still open, the answer is that one's."""

import threading
from datetime import timedelta

from sqlalchemy import select

from checkin.checkins import CheckIn
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, open_checkin
from tests.test_answer_races import _answer_held
from tests.test_inbound_exactly_once import _until_it_waits_for_the_lock
from webhooks.call_walker import CallWalker

SAVED = "Thank you, Sam. Your check-in is saved. You can call or text 9 8 8 any time. Goodbye."


def _ok(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _press_2_while_a_text_answers(db, twilio, settings, member, prompt_id):
    """A call at the score step; a text answers `prompt_id` with 5 and holds its commit while the keypad's 2
    waits on the prompt's row; then the text commits. Returns the call, its 2 pressed and answered."""
    call = CallWalker(
        lambda path, params: _ok(twilio.post(path, params)),
        settings.public_base_url,
        member.phone,
        FROM_NUMBER,
        ACCOUNT_SID,
    )
    call.start()
    call.press("1")  # check in: asked for a score
    holder = _answer_held(db, prompt_id, 5)
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("step", call.press("2")))
    try:
        thread.start()
        _until_it_waits_for_the_lock(db, thread)  # the keypad answer waits on the prompt's row
        holder.commit()
    finally:
        holder.close()
    thread.join(120)
    assert not thread.is_alive(), "the keypad answer never finished"
    return call


def test_a_keypad_answer_that_loses_the_prompt_to_a_text_does_not_overwrite_it(
    postgres_only, twilio, settings, db, member
):
    checkin_id = open_checkin(db, member, None, f"prompt:{member.id}:race")
    call = _press_2_while_a_text_answers(db, twilio, settings, member, checkin_id)
    # The call goes on as after any score: its message is asked for, then the check-in is saved.
    assert call.record().said == [SAVED]
    with db.session() as s:
        rows = s.scalars(select(CheckIn).where(CheckIn.member_id == member.id).order_by(CheckIn.id)).all()
        got = [(c.id == checkin_id, c.state, c.score, c.channel, c.call_sid) for c in rows]
    assert got == [(True, "answered", 5, "sms", None), (False, "answered", 2, "voice", call.call_sid)], got


def test_a_keypad_answer_that_loses_the_newest_prompt_answers_the_members_older_open_prompt(
    postgres_only, twilio, settings, db, member
):
    older = open_checkin(db, member, None, f"prompt:{member.id}:older", ago=timedelta(hours=5))
    newer = open_checkin(db, member, None, f"prompt:{member.id}:newer")
    call = _press_2_while_a_text_answers(db, twilio, settings, member, newer)
    assert call.record().said == [SAVED]
    # As a call a moment later: the older prompt, still open, takes the answer; no check-in of its own.
    with db.session() as s:
        rows = s.scalars(select(CheckIn).where(CheckIn.member_id == member.id).order_by(CheckIn.id)).all()
        got = [(c.id, c.state, c.score, c.channel, c.call_sid) for c in rows]
    assert got == [(older, "answered", 2, "voice", call.call_sid), (newer, "answered", 5, "sms", None)], got

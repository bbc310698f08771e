"""Texts with no words: an empty text, and a picture (MMS) sent alone. Found by an outside fault tester,
who saw both answered as free text ("Nobody reads texts to this number...") and kept for the inbox.

An empty text is answered that it reached us empty (it may be words the carrier lost: silence would let
the member think they were heard); a picture alone is kept, with how many files it carried, and answered
that the service can only read words. Both in the member's language, with 988; neither is read as an
answer to a prompt, a keyword or consent, and neither waits in the inbox. A picture with words is read
by its words. Signed requests through the webhook; replies as the member gets them."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.escalation.models import Escalation
from checkin.inbox.models import Conversation
from checkin.models import Message
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, said, texted_replies
from webhooks.simulate import sms_params

EMPTY_EN = (
    "Sam, your text reached us empty. If you meant to tell us something, please send it again in words. "
    "In a crisis, call or text 988."
)
EMPTY_ES = (
    "Rosa, recibimos tu mensaje en blanco. Si quieres decirnos algo, vuelve a mandarlo. "
    "En crisis llama al 988 y marca 2."
)
PICTURE_EN = (
    "Thanks, Sam. We got a picture or file, but we can only read words: please tell us in words. "
    "In a crisis, call or text 988."
)
PICTURE_ES = (
    "Rosa, recibimos una foto o archivo, pero solo leemos palabras: responde con palabras. "
    "En crisis llama al 988 y marca 2."
)


def text(twilio, phone: str, body: str, *, pictures: int = 0, sid: str | None = None):
    """What the member is answered for a text as Twilio posts it; an MMS carries MediaUrl0.. and MM... SID."""
    sid = sid or ("MM" if pictures else "SM") + uuid.uuid4().hex
    params = sms_params(phone, FROM_NUMBER, body, sid, ACCOUNT_SID)
    params["NumMedia"] = str(pictures)
    for i in range(pictures):
        params[f"MediaUrl{i}"] = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Media/ME{i:032x}"
        params[f"MediaContentType{i}"] = "image/jpeg"
    response = twilio.post("/twilio/sms", params)
    assert response.status_code == 200, response.get_data(as_text=True)
    response.texted = lambda: texted_replies(twilio.client.application, sid)
    return said(response), sid


def message(db, sid: str) -> Message:
    with db.session() as s:
        return s.scalar(select(Message).where(Message.provider_sid == sid))


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("body", ["", "   ", "\n"])
def test_an_empty_text_is_answered_that_it_arrived_empty(twilio, db, member, body):
    answer, sid = text(twilio, member.phone, body)
    assert answer == [EMPTY_EN]
    stored = message(db, sid)
    assert stored.body.strip() == "" and stored.media_count is None
    assert count(db, Conversation) == 0 and count(db, Escalation) == 0  # nothing waits for a person


def test_a_picture_alone_is_kept_and_answered_that_only_words_can_be_read(twilio, db, member):
    answer, sid = text(twilio, member.phone, "", pictures=2)
    assert answer == [PICTURE_EN]
    stored = message(db, sid)
    assert stored.media_count == 2 and stored.body == "" and stored.member_id == member.id
    assert count(db, Conversation) == 0 and count(db, Escalation) == 0


def test_a_spanish_member_is_answered_in_spanish(twilio, db, spanish_member):
    from sqlalchemy import update

    from checkin.models import Member

    assert text(twilio, spanish_member.phone, "")[0] == [EMPTY_ES]
    with db.session() as s:  # answered again only after a while (the next test): as if it had passed
        s.execute(update(Member).values(wordless_replied_at=None))
    assert text(twilio, spanish_member.phone, "", pictures=1)[0] == [PICTURE_ES]


def test_a_picture_alone_answers_no_prompt_and_gives_no_consent(twilio, db, member):
    with db.session() as s:
        s.add(
            CheckIn(member_id=member.id, prompt_key="prompt:pic", prompted_at=utcnow() - timedelta(hours=2))
        )
    assert text(twilio, member.phone, "", pictures=1)[0] == [PICTURE_EN]
    with db.session() as s:
        assert s.scalar(select(CheckIn.state).where(CheckIn.prompt_key == "prompt:pic")) == "open"
    # Opted out, a picture (or an empty text) is kept and not answered, and the member stays out.
    assert text(twilio, member.phone, "STOP")[0]
    assert text(twilio, member.phone, "", pictures=1)[0] == []
    assert text(twilio, member.phone, "")[0] == []
    with db.session() as s:
        from checkin.models import Member

        assert s.get(Member, member.id).opted_out
    with db.session() as s:
        kept = s.scalars(
            select(Message.media_count).where(Message.direction == "inbound").order_by(Message.id)
        )
        assert kept.all() == [1, None, 1, None]  # the picture, STOP, the picture, the empty text: all kept


def test_a_picture_with_words_is_read_by_its_words(twilio, db, member):
    with db.session() as s:
        s.add(
            CheckIn(member_id=member.id, prompt_key="prompt:pic", prompted_at=utcnow() - timedelta(hours=2))
        )
    answer, sid = text(twilio, member.phone, "4 good week", pictures=1)
    assert answer == ["Thanks, Sam. We saved your check-in: 4 of 5."]
    assert message(db, sid).media_count == 1
    crisis, _sid = text(twilio, member.phone, "I am going to kill myself tonight", pictures=1)
    assert len(crisis) == 1 and "988" in crisis[0] and "911" in crisis[0]
    assert count(db, Escalation) == 1


@pytest.mark.parametrize(
    ("num_media", "why"),
    [
        ("abc", "NumMedia is not a whole number"),
        ("-1", "NumMedia is not a whole number"),
        ("11", "NumMedia is out of range: Twilio allows at most 10 files"),
        ("99999999999", "NumMedia is out of range: Twilio allows at most 10 files"),
    ],
)
def test_a_num_media_twilio_would_never_send_is_refused_with_the_reason(twilio, db, member, num_media, why):
    """Read as 0, a picture with NumMedia=99999999999 was answered "your text reached us empty"."""
    sid = "MM" + uuid.uuid4().hex
    params = sms_params(member.phone, FROM_NUMBER, "", sid, ACCOUNT_SID)
    params["NumMedia"] = num_media
    response = twilio.post("/twilio/sms", params)
    assert response.status_code == 400
    assert why in response.get_data(as_text=True)
    assert message(db, sid) is None  # nothing stored, nothing answered


def test_ten_pictures_the_most_twilio_sends_are_taken(twilio, db, member):
    answer, sid = text(twilio, member.phone, "", pictures=10)
    assert answer == [PICTURE_EN] and message(db, sid).media_count == 10


def test_a_text_with_no_words_is_answered_again_only_once_the_period_has_passed(twilio, db, member):
    """Two auto-responders (or a phone that sends blanks) must not ping-pong with "your text reached us
    empty"; a person sending a blank again later is answered again, and a crisis every time."""
    from sqlalchemy import update

    from checkin.auto_replies import REPEAT_AFTER
    from checkin.models import Member

    assert text(twilio, member.phone, "")[0] == [EMPTY_EN]
    assert text(twilio, member.phone, "")[0] == []
    assert text(twilio, member.phone, "", pictures=1)[0] == []  # the same loop, a picture this time
    assert "988" in text(twilio, member.phone, "I want to end it all tonight")[0][0]
    with db.session() as s:
        s.execute(update(Member).values(wordless_replied_at=utcnow() - REPEAT_AFTER))
    assert text(twilio, member.phone, "", pictures=1)[0] == [PICTURE_EN]


@pytest.mark.parametrize("body", ["I want to end it all tonight", "STOP", "HELP"])
def test_how_many_files_a_text_answered_at_once_carried_is_kept_too(twilio, db, member, body):
    """A crisis, STOP or HELP is answered in the webhook's one claiming statement (PostgreSQL), which left
    out how many files came with it: a picture with "I want to die" was stored as a text without one."""
    answer, sid = text(twilio, member.phone, body, pictures=2)
    assert answer  # answered at once, as without the picture
    assert message(db, sid).media_count == 2
    assert message(db, text(twilio, member.phone, body)[1]).media_count is None  # none: NULL, as before

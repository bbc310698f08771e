"""Members' replies to reminders and prompts: RSVPs, check-in scores in both languages, one clarifying
question, crisis replies first. Through the signed SMS webhook, real PostgreSQL, Redis and rules engine;
reminders are real outbox rows delivered to the loopback Twilio server."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from checkin import outbox
from checkin.answers import rsvp as rsvp_module
from checkin.answers.models import Clarification, Rsvp
from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.escalation.models import AssessmentRecord
from checkin.models import Member, Message
from checkin.schedules.recurrence import occurrence_key
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, open_checkin, said, zone_where_it_is
from tests.inbox_helpers import NOBODY_READS_SAM
from webhooks.call_walker import CallWalker
from workers import jobs

# As checkin.schedules keys an occurrence: a meeting a week ahead, so its reminder is never for one that started.
OCCURRENCE = occurrence_key((utcnow() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0))


def reply(twilio, phone, body):
    response = twilio.sms(phone, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    replies = said(response)
    return replies[0] if replies else None


def send_reminder(runtime, member, occurrence=OCCURRENCE, offset="1440", sent_ago=None):
    """A meeting reminder as the planner writes it, delivered by the worker job to the fake Twilio.

    The job runs on the real clock and holds a reminder in the member's night: they live where it is day now."""
    db = runtime.db
    with db.session() as s:
        s.get(Member, member.id).timezone = zone_where_it_is(12, utcnow())
        item, _ = outbox.add(
            s,
            f"reminder:{member.id}:{occurrence}:{offset}",
            to=member.phone,
            member_id=member.id,
            purpose="reminder",
            body="Group tomorrow 6pm. Reply 1 if you're coming, 2 if not.",
        )
    assert jobs.deliver(item.id, runtime=runtime) == "sent"
    if sent_ago is not None:  # as if it went out earlier
        with db.session() as s:
            s.get(outbox.OutboxItem, item.id).sent_at = utcnow() - sent_ago
    return item


def open_prompt(db, member, ago=timedelta(hours=1), key=None):
    return open_checkin(db, member, None, key or f"prompt:{member.id}:{OCCURRENCE}", ago)


def rsvps(db):
    with db.session() as s:
        return [(r.member_id, r.occurrence_key, r.answer) for r in s.scalars(select(Rsvp).order_by(Rsvp.id))]


def checkin_row(db, checkin_id):
    with db.session() as s:
        return s.get(CheckIn, checkin_id)


def assessed_scores(db):
    with db.session() as s:
        return list(s.scalars(select(AssessmentRecord.score).order_by(AssessmentRecord.id)))


# --- RSVP -----------------------------------------------------------------------------------


def test_reply_1_to_a_reminder_is_an_rsvp_and_is_acknowledged(
    runtime, twilio, db, fake_twilio, member, group
):
    send_reminder(runtime, member)
    assert (
        reply(twilio, member.phone, "1")
        == "Thanks, Sam. We have you down as coming. Reply WHEN for the time and place."
    )
    assert rsvps(db) == [(member.id, OCCURRENCE, "yes")]
    with db.session() as s:
        stored = s.scalar(select(Rsvp))
        assert stored.group_id == group.id and stored.message_id is not None
        # Not a check-in score of 1: no check-in, and the rules did not see a "very hard" week.
        assert s.scalar(select(CheckIn)) is None
    assert assessed_scores(db) == [None]
    with db.session() as s:
        assert rsvp_module.for_occurrence(s, group.id, OCCURRENCE) == {"yes": ["Sam Rivera"], "no": []}


def test_latest_rsvp_wins_one_row_per_member_and_meeting(runtime, twilio, db, fake_twilio, member):
    send_reminder(runtime, member)
    assert reply(twilio, member.phone, "2").startswith("Thanks for letting us know, Sam")
    assert reply(twilio, member.phone, "yes, I'll be there").startswith(
        "Thanks, Sam. We have you down as coming"
    )
    assert rsvps(db) == [(member.id, OCCURRENCE, "yes")]
    # The 2-hour reminder for the same meeting, after it was moved: the answer still lands on that meeting.
    send_reminder(runtime, member, offset="120:v1")
    reply(twilio, member.phone, "not coming")
    assert rsvps(db) == [(member.id, OCCURRENCE, "no")]


@pytest.mark.parametrize("body, answer", [("sí", "yes"), ("Voy", "yes"), ("2", "no"), ("no voy", "no")])
def test_spanish_rsvp_acknowledged_in_spanish(runtime, twilio, db, fake_twilio, spanish_member, body, answer):
    send_reminder(runtime, spanish_member)
    text = reply(twilio, spanish_member.phone, body)
    assert text.startswith("Gracias, Rosa. Ya te anotamos" if answer == "yes" else "Gracias por avisar, Rosa")
    assert rsvps(db) == [(spanish_member.id, OCCURRENCE, answer)]


@pytest.mark.parametrize(
    "who, body, answer",
    [
        ("en", "sorry not coming", "no"),
        ("en", "can't make it", "no"),
        ("en", "count me in", "yes"),
        ("es", "no puedo ir", "no"),
        ("es", "allí estaré", "yes"),
    ],
)
def test_rsvp_in_words_is_recorded_and_counted_for_the_meeting(
    runtime, twilio, db, fake_twilio, member, spanish_member, group, who, body, answer
):
    person = member if who == "en" else spanish_member
    send_reminder(runtime, person)
    reply(twilio, person.phone, body)
    assert rsvps(db) == [(person.id, OCCURRENCE, answer)]
    with db.session() as s:
        assert rsvp_module.counts(s, group.id, [OCCURRENCE]) == {OCCURRENCE: {answer: 1}}


def test_bare_digit_answers_the_prompt_when_the_prompt_came_after_the_reminder(
    runtime, twilio, db, fake_twilio, member
):
    send_reminder(runtime, member, sent_ago=timedelta(hours=5))
    prompt = open_prompt(db, member, ago=timedelta(hours=1))
    assert reply(twilio, member.phone, "2") == "Thanks, Sam. We saved your check-in: 2 of 5."
    assert rsvps(db) == []
    stored = checkin_row(db, prompt)
    assert stored.state == "answered" and stored.score == 2
    # A word RSVP is unambiguous: it still answers the reminder, and the prompt stays answered as it was.
    assert reply(twilio, member.phone, "yes coming").startswith("Thanks, Sam. We have you down as coming")
    assert rsvps(db) == [(member.id, OCCURRENCE, "yes")]


def test_bare_digit_answers_the_reminder_when_the_reminder_came_after_the_prompt(
    runtime, twilio, db, fake_twilio, member
):
    prompt = open_prompt(db, member, ago=timedelta(hours=3))
    send_reminder(runtime, member)
    assert reply(twilio, member.phone, "1").startswith("Thanks, Sam. We have you down as coming")
    assert rsvps(db) == [(member.id, OCCURRENCE, "yes")]
    assert checkin_row(db, prompt).state == "open"  # still waiting for its own answer
    assert reply(twilio, member.phone, "4 good week") == "Thanks, Sam. We saved your check-in: 4 of 5."
    assert checkin_row(db, prompt).score == 4


def test_a_keypad_score_on_a_call_is_a_check_in_even_after_a_reminder(
    runtime, twilio, db, fake_twilio, settings, member
):
    """The call asks "on a scale of 1 to 5"; pressing 2 there is a low score, not "not coming" to the reminder."""
    send_reminder(runtime, member)
    call = CallWalker(
        lambda path, params: twilio.post(path, params).get_data(as_text=True),
        settings.public_base_url,
        member.phone,
        FROM_NUMBER,
        ACCOUNT_SID,
    )
    call.start()
    assert call.press("1").said[0].startswith("On a scale of 1 to 5")
    call.press("2")
    with db.session() as s:
        [checkin] = s.scalars(select(CheckIn)).all()
        assert (checkin.state, checkin.score, checkin.channel) == ("answered", 2, "voice")
    assert rsvps(db) == []


def test_no_recent_reminder_means_no_rsvp(runtime, twilio, db, fake_twilio, member):
    send_reminder(runtime, member, sent_ago=timedelta(days=4))  # too old to be answered
    # "yes" is a keyword (an RSVP word), not free text for the inbox: the plain acknowledgement.
    assert reply(twilio, member.phone, "yes") == "Thanks, Sam, we got your message."
    # Nothing asked: a bare digit is not a score (it used to be, and a bare 1 raised an alert).
    assert reply(twilio, member.phone, "1").startswith("Thanks. There is nothing to answer right now.")
    assert rsvps(db) == []


def test_opted_out_member_rsvp_gets_no_text(runtime, twilio, db, fake_twilio, member):
    send_reminder(runtime, member)
    reply(twilio, member.phone, "STOP")
    assert reply(twilio, member.phone, "1") is None
    assert rsvps(db) == []


# --- check-in scores ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, score",
    [
        ("3", 3),
        ("3/5", 3),
        ("3 - tired", 3),
        ("three", 3),
        ("Three, tired", 3),
        ("4 good week", 4),
        ("5!", 5),
        ("two - rough week", 2),
        ("1 of 5", 1),
        ("4 out of 5", 4),
    ],
)
def test_english_score_formats_answer_the_prompt(twilio, db, member, body, score):
    prompt = open_prompt(db, member, ago=timedelta(hours=2))
    assert reply(twilio, member.phone, body) == f"Thanks, Sam. We saved your check-in: {score} of 5."
    stored = checkin_row(db, prompt)
    assert (stored.state, stored.score) == ("answered", score)
    assert stored.words == (None if body == str(score) else body)
    took = stored.answered_at - stored.prompted_at
    assert timedelta(hours=2) <= took < timedelta(hours=2, minutes=1)
    with db.session() as s:
        assert s.scalar(select(CheckIn.message_id)) == s.scalar(
            select(Message.id).where(Message.direction == "inbound")
        )


@pytest.mark.parametrize(
    "body, score",
    [
        ("tres", 3),
        ("Tres, cansada", 3),
        ("4 buena semana", 4),
        ("cuatro - bien", 4),
        ("1 muy mal", 1),
        ("dos", 2),
        ("5 de 5", 5),
        ("cinco", 5),
        ("uno", 1),
    ],
)
def test_spanish_score_formats_answer_the_prompt(twilio, db, spanish_member, body, score):
    prompt = open_prompt(db, spanish_member)
    assert (
        reply(twilio, spanish_member.phone, body) == f"Gracias, Rosa. Guardamos tu respuesta: {score} de 5."
    )
    assert checkin_row(db, prompt).score == score


@pytest.mark.parametrize("body", ["7", "0", "10/10", "feeling kind of flat", "2 pills left"])
def test_unclear_answer_gets_one_clarifying_reply_and_is_still_assessed(twilio, db, member, body):
    prompt = open_prompt(db, member)
    assert (
        reply(twilio, member.phone, body)
        == "Please reply with a number from 1 to 5 (1 = very bad, 5 = very good). You can add words too."
    )
    assert reply(twilio, member.phone, "not sure") == NOBODY_READS_SAM  # never twice
    assert len(assessed_scores(db)) == 2  # both went to the rules engine
    assert checkin_row(db, prompt).state == "open"
    assert reply(twilio, member.phone, "3") == "Thanks, Sam. We saved your check-in: 3 of 5."
    with db.session() as s:
        assert s.scalar(select(Clarification.checkin_id)) == prompt


def test_spanish_clarifying_reply(twilio, db, spanish_member):
    open_prompt(db, spanish_member)
    assert reply(twilio, spanish_member.phone, "más o menos").startswith(
        "Por favor responde del 1 al 5 (1 = muy mal, 5 = muy bien)"
    )


def test_free_text_without_an_open_prompt_gets_the_usual_reply(twilio, db, member):
    assert reply(twilio, member.phone, "see you tuesday") == NOBODY_READS_SAM
    with db.session() as s:
        assert s.scalar(select(Clarification)) is None


def test_free_text_after_a_reminder_is_not_asked_for_a_score(runtime, twilio, db, fake_twilio, member):
    open_prompt(db, member, ago=timedelta(hours=3))
    send_reminder(runtime, member)  # the reminder is the last thing we asked
    assert reply(twilio, member.phone, "running late") == NOBODY_READS_SAM


def test_crisis_reply_wins_over_a_score_and_an_rsvp(runtime, twilio, db, fake_twilio, member):
    prompt = open_prompt(db, member)
    text = reply(twilio, member.phone, "1 - I want to kill myself")
    assert "988" in text and "911" in text
    assert checkin_row(db, prompt).score == 1  # the answer is still recorded
    send_reminder(runtime, member)
    assert "988" in reply(twilio, member.phone, "no, I want to die")


# --- WHEN / CUANDO --------------------------------------------------------------------------


def weekly_tuesday(db, group, **where):
    from datetime import date, time

    from checkin.schedules import set_schedule

    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(18, 0),
            duration_minutes=90,
            starts_on=date(2026, 1, 6),
            **where,
        )


def when_at(db, member, now, to=None):
    from checkin.answers import when
    from checkin.models import Member

    with db.session() as s:
        return when.reply(s, s.get(Member, member.id), to, now)


def test_when_over_sms_in_each_language(twilio, db, group, member, spanish_member):
    weekly_tuesday(db, group, location="12 Main St")
    assert reply(twilio, member.phone, "WHEN").startswith("Next meeting: Tue, ")
    assert reply(twilio, member.phone, "when is the meeting?").endswith(", at 12 Main St.")
    assert reply(twilio, spanish_member.phone, "¿Cuándo?").startswith("Nos reunimos el martes ")
    assert rsvps(db) == []


def test_when_is_in_the_members_zone_across_dst(db, group, member):
    from datetime import datetime

    from checkin.models import Member

    weekly_tuesday(db, group, location="12 Main St")
    before_dst = datetime(2030, 3, 7, 12, 0, tzinfo=UTC)  # US clocks go forward on Sunday 10 March 2030
    assert when_at(db, member, before_dst) == "Next meeting: Tue, Mar 12 at 6:00 pm EDT, at 12 Main St."
    with db.session() as s:
        s.get(Member, member.id).timezone = "America/Los_Angeles"
    assert when_at(db, member, before_dst) == "Next meeting: Tue, Mar 12 at 3:00 pm PDT, at 12 Main St."
    with db.session() as s:
        s.get(Member, member.id).timezone = "Europe/London"  # Britain changes on 31 March: still GMT
    assert when_at(db, member, before_dst) == "Next meeting: Tue, Mar 12 at 10:00 pm GMT, at 12 Main St."


def test_when_skips_a_cancelled_meeting_and_says_a_moved_one(db, group, spanish_member):
    from datetime import datetime

    from checkin.schedules import cancel_occurrence, move_occurrence

    weekly_tuesday(db, group, dial_in="+12025550199")
    now = datetime(2030, 3, 7, 12, 0, tzinfo=UTC)
    with db.session() as s:
        cancel_occurrence(s, group.id, "20300312T2200Z")
        move_occurrence(s, group.id, "20300319T2200Z", datetime(2030, 3, 20, 19, 30))
    assert (
        when_at(db, spanish_member, now)
        == "Cambio de horario: nos reunimos el miércoles 20 de marzo, 7:30 p. m. EDT, por teléfono: +12025550199."
    )


def test_when_without_a_schedule(twilio, group, member):
    assert (
        reply(twilio, member.phone, "WHEN")
        == "No meeting is scheduled yet. Your facilitator will let you know."
    )


def test_rsvp_to_a_reminder_the_planner_wrote(twilio, db, runtime, fake_twilio, group, member):
    """End to end: the cron tick writes the 24-hour reminder, a worker job sends it, the member answers 1."""
    from datetime import datetime

    from workers.schedule_jobs import tick

    weekly_tuesday(db, group, location="12 Main St")
    day_before = datetime(2030, 3, 11, 22, 0, 30, tzinfo=UTC)  # 6 pm EDT the day before the meeting
    assert tick(now=day_before, runtime=runtime) >= 1
    with db.session() as s:
        [reminder] = s.scalars(select(outbox.OutboxItem).where(outbox.OutboxItem.purpose == "reminder")).all()
        assert reminder.idempotency_key.startswith(f"reminder:{member.id}:20300312T2200Z:")
    outcome = outbox.deliver(
        db,
        reminder.id,
        runtime.port,
        status_callback_base=None,
        lease_seconds=120,
        rules=runtime.rules,
        now=day_before + timedelta(minutes=1),
    )
    assert outcome.state == "sent"
    assert "Reply 1 if you're coming" in fake_twilio.messages()[0]["params"]["Body"]
    assert reply(twilio, member.phone, "1").startswith("Thanks, Sam. We have you down as coming")
    with db.session() as s:
        assert rsvp_module.for_occurrence(s, group.id, "20300312T2200Z") == {"yes": ["Sam Rivera"], "no": []}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("1", ("yes", True)),
        ("2", ("no", True)),
        (" 1. ", ("yes", True)),
        ("yes", ("yes", False)),
        ("Yes!", ("yes", False)),
        ("I'm coming", ("yes", False)),
        ("I'll be there", ("yes", False)),
        ("sí", ("yes", False)),
        ("voy", ("yes", False)),
        ("Sí, voy", ("yes", False)),
        ("no", ("no", False)),
        ("not coming", ("no", False)),
        ("can't make it", ("no", False)),
        ("No voy", ("no", False)),
        ("no puedo ir", ("no", False)),
        # In words, with an apology, a when or thanks around the answer.
        ("sorry not coming", ("no", False)),
        ("Sorry, can't make it tonight", ("no", False)),
        ("I won't be able to make it", ("no", False)),
        ("unfortunately I can't come", ("no", False)),
        ("Not this time, sorry", ("no", False)),
        ("lo siento, no puedo ir hoy", ("no", False)),
        ("no voy a poder ir", ("no", False)),
        ("esta vez no", ("no", False)),
        ("count me in", ("yes", False)),
        ("Count me in!", ("yes", False)),
        ("see you tonight", ("yes", False)),
        ("allí estaré", ("yes", False)),
        ("ahí estaré, gracias", ("yes", False)),
        ("nos vemos mañana", ("yes", False)),
        # Not RSVPs: acknowledgements, maybes, sentences.
        ("ok", (None, False)),
        ("maybe", (None, False)),
        ("there", (None, False)),
        ("no one cares", (None, False)),
        ("ok thanks", (None, False)),
        # It may mean much more than a meeting: left to the rules and a person, never filed as "not coming".
        ("I'm not going to make it", (None, False)),
        ("I can't make it anymore", (None, False)),
        ("i cant go on", (None, False)),
    ],
)
def test_rsvp_words(body, expected):
    from checkin.answers.parse import parse_rsvp

    assert parse_rsvp(body) == expected

"""The console simulator's phone call: the real voice flow, played as Twilio plays it, with nothing kept."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from checkin.checkins import CheckIn
from checkin.escalation.models import Escalation
from checkin.models import Member, Message, OutboxItem
from checkin.voice.models import VoiceCall
from webhooks.console.call_simulator import CallInputError, run_call

CRISIS_WORDS = "I am going to kill myself tonight"
ROSA_SAVED = "Gracias, Rosa. Guardamos tu registro. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós."
DANA, FAY = "+12025550201", "+12025550203"


@pytest.fixture
def facilitators(db, group):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana Ortiz", "dana@example.org", "facilitator", DANA, [group.name])
        add_staff(s, "Fay Backup", "fay@example.org", "facilitator", FAY, [group.name], tier="backup")


@pytest.fixture
def call(app, db, settings):
    def run(who, group, inputs):
        return run_call(
            db,
            who.id,
            group.id,
            inputs,
            context=app.extensions["checkin.escalation"],
            base=settings.public_base_url + "/twilio/voice",
        )

    return run


def _counts(db):
    with db.session() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t))
            for t in (VoiceCall, Message, Escalation, OutboxItem, CheckIn)
        )


def said(turn) -> list[str]:
    return [line.text for line in turn.lines if line.kind == "say"]


def test_the_call_starts_with_the_greeting_and_the_menu(call, member, group):
    sim = call(member, group, [])
    [start] = sim.turns
    assert said(start)[0] == "Hi Sam. This is Checkin for Tuesday Group."
    assert said(start)[1].startswith("If you need help now, press 9 or say help. To check in, press 1.")
    # The offer of Spanish is said in Spanish, by the Spanish voice.
    assert (start.lines[2].text, start.lines[2].language) == ("Para español, oprime 8.", "es-US")
    assert sim.listening == "dtmf speech" and sim.inputs == []


def test_menu_2_reads_the_next_meeting_then_the_menu_again(call, member, group, db):
    from checkin.schedules import set_schedule

    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TH",
            start_local=time(18, 30),
            duration_minutes=60,
            location="12 Main Street",
        )
    sim = call(member, group, ["key:2"])
    meeting = sim.turns[1]
    assert meeting.given == "key:2"
    assert said(meeting)[0].startswith("Your next meeting is Thursday, ")
    assert said(meeting)[0].endswith(" at 6:30 PM. It meets at 12 Main Street.")
    assert said(meeting)[1].startswith("If you need help now, press 9") and sim.listening == "dtmf speech"


def test_a_check_in_with_a_crisis_said_shows_the_alert_and_keeps_nothing(
    call, member, group, db, facilitators
):
    before = _counts(db)
    sim = call(member, group, ["key:1", f"say:4 {CRISIS_WORDS}"])
    score_prompt, crisis = sim.turns[1], sim.turns[2]
    assert said(score_prompt) == [
        "On a scale of 1 to 5, where 1 is very bad and 5 is very good, how are you doing? Press a number or say it."
    ]
    assert crisis.level == "crisis"
    # Help now: 911 first, then the crisis line offered (1, yes or silence), 3 for a facilitator.
    assert said(crisis)[0] == "If you are in danger now, hang up and call 9 1 1."
    assert "9 8 8 crisis line" in said(crisis)[2] and sim.listening == "dtmf speech"
    # Silence: the crisis line would be rung (here: no answer), then each on-call facilitator in turn.
    waited = call(member, group, ["key:1", f"say:4 {CRISIS_WORDS}", "wait"]).turns[3]
    notes = [line.text for line in waited.lines if line.kind == "note"]
    assert notes[:3] == [
        "Rings the crisis line for up to 30 s (not placed here: no answer).",
        "Rings Dana Ortiz for up to 20 s (not placed here: no answer).",
        "Rings Fay Backup for up to 20 s (not placed here: no answer).",
    ]
    assert said(waited)[1].startswith("We could not reach the crisis line.")
    assert said(waited)[-2].startswith("No facilitator could answer right now. If you are in danger")
    assert notes[3].startswith("(the caller would now leave a recording of up to 60 s)")
    assert waited.lines[-1].kind == "end"
    # The first alert level goes to the primary facilitator, by text and by an alert call.
    assert [(a.to, a.channel) for a in crisis.alerts] == [("Dana Ortiz", "sms"), ("Dana Ortiz", "voice")]
    assert "(crisis): Sam, Tuesday Group" in crisis.alerts[0].body
    # Nothing survives: no call, message, escalation, outbox row or check-in; the member is untouched.
    assert _counts(db) == before
    with db.session() as s:
        assert s.get(Member, member.id).status == "active"


def test_a_crisis_in_the_recordings_transcript_is_read_like_a_text(call, member, group, db, facilitators):
    before = _counts(db)
    sim = call(member, group, ["key:1", "key:4"])
    assert sim.transcribable and sim.listening == ""
    assert (
        sim.turns[-1].alerts == ()
        and "Thank you, Sam. Your check-in is saved. You can call or text 9 8 8 any time. Goodbye."
        in said(sim.turns[-1])
    )
    after = call(member, group, ["key:1", "key:4", f"transcript:{CRISIS_WORDS}"])
    transcript = after.turns[-1]
    assert transcript.level == "crisis" and any(a.to == "Dana Ortiz" for a in transcript.alerts)
    assert not after.transcribable
    assert _counts(db) == before


def test_help_by_key_9_is_a_crisis_alert_and_offers_the_crisis_line(call, member, group, db, facilitators):
    sim = call(member, group, ["key:9"])
    assert sim.turns[1].level == "crisis"
    assert said(sim.turns[1])[:2] == [
        "If you are in danger now, hang up and call 9 1 1.",
        "We are letting the on-call facilitator know now.",
    ]
    assert [(a.to, a.channel) for a in sim.turns[1].alerts] == [
        ("Dana Ortiz", "sms"),
        ("Dana Ortiz", "voice"),
    ]
    assert "(crisis): Sam, Tuesday Group" in sim.turns[1].alerts[0].body


def test_spanish_by_8_and_a_spanish_members_call(call, member, spanish_member, group):
    switched = call(member, group, ["key:8"])
    assert said(switched.turns[1])[0].startswith("Si necesitas ayuda ahora, oprime 9 o di ayuda.")
    assert switched.turns[1].lines[0].language == "es-US"
    rosa = call(spanish_member, group, ["key:1", "key:3"])
    assert said(rosa.turns[0])[0] == "Hola Rosa. Habla Checkin de Tuesday Group."
    # A Spanish message is heard by speech recognition, not recorded: it is typed like other speech.
    assert said(rosa.turns[-1]) == [
        "Gracias. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Si quieres, cuéntanos ahora con tus palabras cómo estás. "
        "Cuando termines, deja de hablar unos segundos. Para no dejar mensaje, oprime numeral."
    ]
    assert rosa.listening == "dtmf speech" and not rosa.transcribable
    calm = call(spanish_member, group, ["key:1", "key:3", "say:Fue una semana tranquila"])
    assert said(calm.turns[-1]) == [ROSA_SAVED] and calm.listening == ""
    assert calm.turns[-1].level == "none" and calm.turns[-1].alerts == ()
    silent = call(spanish_member, group, ["key:1", "key:3", "wait"])
    assert said(silent.turns[-1]) == [ROSA_SAVED] and silent.listening == ""


def test_a_crisis_in_a_spanish_message_is_answered_and_alerts(call, spanish_member, group, db, facilitators):
    before = _counts(db)
    sim = call(spanish_member, group, ["key:1", "key:3", "say:esta noche me voy a quitar la vida"])
    crisis = sim.turns[-1]
    assert crisis.level == "crisis" and said(crisis)[:2] == [
        "Si estás en peligro ahora, cuelga y llama al 9 1 1.",
        "Te escuchamos. Estamos avisando ahora al facilitador de turno.",
    ]
    assert [(a.to, a.channel) for a in crisis.alerts] == [("Dana Ortiz", "sms"), ("Dana Ortiz", "voice")]
    # The crisis line is offered; 3 rings the facilitators (not here), then the message is heard as words too.
    assert (
        "Línea 9 8 8 de Prevención del Suicidio y Crisis" in said(crisis)[2]
        and sim.listening == "dtmf speech"
    )
    facilitator = call(
        spanish_member, group, ["key:1", "key:3", "say:esta noche me voy a quitar la vida", "key:3"]
    ).turns[-1]
    assert said(facilitator)[-1].startswith("Ningún facilitador pudo contestar ahora.")
    assert _counts(db) == before


def test_waiting_and_wrong_keys_reprompt_as_on_a_real_call(call, member, group):
    sim = call(member, group, ["wait", "key:*", "key:#"])
    assert said(sim.turns[1])[:2] == [
        "Sorry, I did not get that.",
        said(sim.turns[0])[1],
    ]  # and the menu again
    assert said(sim.turns[2])[0] == "Sorry, I did not get that."
    assert (
        said(sim.turns[3])[-1]
        == "Thank you for calling Checkin. You can call or text 9 8 8 any time. Goodbye."
        and sim.listening == ""
    )


@pytest.mark.parametrize(
    "inputs, reason",
    [
        (["key:A"], "not a key on a phone keypad"),
        (["key:12"], "not a key on a phone keypad"),
        (["say:   "], "type what the caller says"),
        (["say:" + "x" * 1001], "at most 1000 characters"),
        (["key:1"] * 41, "at most 40"),
        (["press 1"], "not a caller's input"),
        (["transcript:hello"], "only after a recording"),
        (["key:1", "key:4", "key:1"], "the call is over"),
        (["key:1", "key:4", "transcript:fine", "transcript:again"], "only after a recording"),
    ],
)
def test_bad_input_says_why(call, member, group, db, inputs, reason):
    before = _counts(db)
    with pytest.raises(CallInputError, match=reason):
        call(member, group, inputs)
    assert _counts(db) == before


def test_keys_only_question_refuses_words(call, member, group, db):
    from checkin.voice.calls import set_phq9

    with db.session() as s:
        set_phq9(s, group.id, True)
    with pytest.raises(CallInputError, match="keys only") as caught:
        call(member, group, ["key:1", "key:3", "say:two"])
    # The call so far comes with the error, to show again.
    assert caught.value.call.listening == "dtmf" and len(caught.value.call.turns) == 3

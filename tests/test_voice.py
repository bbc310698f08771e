"""Member calls walked as Twilio would: signed webhooks for the call, each Gather result, the
recordings, the Dial outcomes and the status callbacks, TwiML parsed back, in English and Spanish."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.models import Message, OutboxItem
from checkin.voice.models import VoiceCall
from tests.conftest import ACCOUNT_SID, FROM_NUMBER
from tests.rota_helpers import off_shift_now, on_shift_now
from tests.voice_helpers import CRISIS_LINE, digits_only, spoken_in
from webhooks.call_walker import CallWalker

DANA, ELI, FAY, CORA = "+12025550201", "+12025550202", "+12025550203", "+12025550209"
STRANGER = "+12025550999"


@pytest.fixture
def staff(db, group):
    from checkin.directory import add_staff

    with db.session() as s:
        return {
            "dana": add_staff(s, "Dana", "dana@example.org", "facilitator", DANA, [group.name]),
            "fay": add_staff(s, "Fay", "fay@example.org", "facilitator", FAY, [group.name], tier="backup"),
            "cora": add_staff(s, "Cora", "cora@example.org", "coordinator", CORA),
        }


@pytest.fixture
def caller(twilio, settings):
    def make(from_, to=FROM_NUMBER, **kw):
        post = lambda path, params: _ok(twilio.post(path, params))  # noqa: E731
        return CallWalker(post, settings.public_base_url, from_, to, ACCOUNT_SID, **kw)

    return make


def _ok(response):
    if response.status_code == 204:  # a callback Twilio expects no TwiML for
        return ""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/xml")
    return response.get_data(as_text=True)


def only(db, model):
    with db.session() as s:
        rows = s.scalars(select(model)).all()
        assert len(rows) == 1, rows
        return rows[0]


def escalations(db):
    with db.session() as s:
        return s.scalars(select(Escalation)).all()


# --- greeting and menu -----------------------------------------------------------------------------


def test_known_caller_is_greeted_by_name_and_group_with_an_interruptible_menu(caller, member, settings):
    call = caller(member.phone)
    step = call.start()
    gather = step.find("Gather")
    assert step.said[0] == "Hi Sam. This is Checkin for Tuesday Group."
    assert gather.get("input") == "dtmf speech" and gather.get("numDigits") == "1"
    assert gather.get("language") == "en-US" and "facilitator" in gather.get("hints")
    assert gather.get("action") == f"{settings.public_base_url}/twilio/voice/menu?tries=0"
    # Everything is said inside the Gather, so a key press interrupts it.
    said_inside = [s.text for s in gather.iter("Say")]
    assert said_inside == step.said
    # Help now is offered first, by key or by voice.
    assert said_inside[1].startswith("If you need help now, press 9 or say help. To check in, press 1.")
    assert "press 3" in said_inside[1] and gather.get("hints").startswith("help,")
    # The offer of Spanish is said by the Spanish voice.
    switch = gather.findall("Say")[2]
    assert switch.text == "Para español, oprime 8." and switch.get("language") == "es-US"


def test_spanish_member_hears_spanish_and_can_switch_to_english(caller, spanish_member):
    call = caller(spanish_member.phone)
    step = call.start()
    assert step.said[0] == "Hola Rosa. Habla Checkin de Tuesday Group."
    assert (
        step.find("Gather/Say").get("language") == "es-US" and step.find("Gather").get("language") == "es-US"
    )
    step = call.press("8")
    assert step.said[0].startswith("If you need help now, press 9 or say help.")
    assert step.find("Gather").get("language") == "en-US"
    step = call.press("8")
    assert step.said[0].startswith("Si necesitas ayuda ahora, oprime 9 o di ayuda. Para registrar cómo estás")


def test_zero_repeats_the_menu_and_the_same_call_sid_is_stored_once(caller, member, db):
    call = caller(member.phone)
    first = call.start()
    again = call.start()  # Twilio retried the first webhook
    assert first.said == again.said
    assert call.press("0").said == first.said[1:]
    row = only(db, VoiceCall)
    assert row.call_sid == call.call_sid and row.member_id == member.id and row.direction == "inbound"


@pytest.mark.parametrize("spanish", [False, True])
def test_silence_or_wrong_key_reprompts_twice_then_says_goodbye(caller, member, spanish_member, spanish):
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    step = call.silence()
    assert step.said[0] == ("Perdón, no entendí." if spanish else "Sorry, I did not get that.")
    assert step.find("Gather").get("action").endswith("tries=1")
    step = call.press("7")
    assert step.find("Gather").get("action").endswith("tries=2")
    step = call.silence()
    assert step.hung_up
    # Three silences end the call, with how to reach 988 (before, it was a bare goodbye).
    assert step.said[-1] == (
        "Gracias por llamar a Checkin. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós."
        if spanish
        else "Thank you for calling Checkin. You can call or text 9 8 8 any time. Goodbye."
    )
    spoken_in(step, "es" if spanish else "en")


def test_next_meeting_without_a_schedule_says_so_and_returns_to_the_menu(caller, member):
    call = caller(member.phone)
    call.start()
    step = call.press("2")
    assert step.said[0] == "There is no meeting on the calendar right now."
    assert step.find("Gather") is not None


def test_a_signature_is_required(twilio, member):
    from webhooks.call_walker import call_params

    params = call_params("CA" + "a" * 32, member.phone, FROM_NUMBER, ACCOUNT_SID)
    assert twilio.post("/twilio/voice", params, signature="").status_code == 403
    assert twilio.post("/twilio/voice", params, signature="bad").status_code == 403
    assert twilio.post("/twilio/voice", dict(params, CallSid="nope")).status_code == 400
    assert twilio.post("/twilio/voice/menu?tries=9", params).status_code == 400
    assert twilio.post("/twilio/voice/nowhere", params).status_code == 404


# --- check in ----------------------------------------------------------------------------------


def test_check_in_by_keypad_with_a_recorded_message(caller, member, db):
    call = caller(member.phone)
    call.start()
    step = call.press("1")
    assert step.said[0].startswith("On a scale of 1 to 5")
    step = call.press("4")
    record = step.find("Record")
    assert record.get("maxLength") == "60" and record.get("finishOnKey") == "#"
    assert "pound" in step.said[0] and step.find("Gather") is None
    step = call.record(recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
    assert (
        step.hung_up
        and step.said[-1]
        == "Thank you, Sam. Your check-in is saved. You can call or text 9 8 8 any time. Goodbye."
    )
    checkin = only(db, CheckIn)
    assert (checkin.state, checkin.score, checkin.channel) == ("answered", 4, "voice")
    assert checkin.recording_url.endswith("/Recordings/RE1") and checkin.call_sid == call.call_sid
    assert escalations(db) == []


# A Spanish speaker's message is heard by speech recognition (Twilio transcribes recordings in English only).
ES_MESSAGE = (
    "Gracias. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Si quieres, cuéntanos ahora con tus palabras cómo estás. "
    "Cuando termines, deja de hablar unos segundos. Para no dejar mensaje, oprime numeral."
)
ES_SAVED = "Gracias, Rosa. Guardamos tu registro. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós."


def listens_in_spanish(step, action: str) -> None:
    """The step asks for a spoken message in Spanish: a speech Gather, nothing recorded."""
    gather = step.find("Gather")
    assert step.find("Record") is None and gather is not None
    assert "speech" in gather.get("input").split() and gather.get("language") == "es-US"
    # Not "auto", which ends at the first pause: people pause to think mid-message.
    assert gather.get("speechTimeout") == "3" and gather.get("action").endswith(f"/twilio/voice/{action}")
    spoken_in(step, "es")


@pytest.mark.parametrize("switched", [False, True])
def test_a_spanish_check_in_message_is_heard_and_a_crisis_in_it_gets_988_911_and_an_alert(
    caller, member, spanish_member, staff, db, switched
):
    who = member if switched else spanish_member
    call = caller(who.phone)
    call.start()
    if switched:
        call.press("8")  # Sam chose Spanish for this call
    call.press("1")
    step = call.press("2")
    listens_in_spanish(step, "recorded")
    assert step.said == [ES_MESSAGE]
    assert escalations(db) == []
    step = call.say("ya no puedo más, esta noche me voy a quitar la vida")
    assert step.said == CRISIS["es"]
    offers_the_crisis_line(step, "es")  # help now, as for a crisis said at the menu
    [esc] = escalations(db)
    assert esc.level == "crisis" and esc.member_id == who.id
    with db.session() as s:
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
        assert DANA in {a.to_number for a in alerts}
        assert s.scalar(select(AssessmentRecord.source).where(AssessmentRecord.level == "crisis")) == "voice"
    checkin = only(db, CheckIn)
    assert checkin.score == 2 and checkin.words is None  # a crisis is the case's, as with a transcript


def test_a_calm_spanish_message_becomes_the_check_ins_words_encrypted(caller, spanish_member, db):
    call = caller(spanish_member.phone)
    call.start()
    call.press("1")
    call.press("4")
    step = call.say("Fue una buena semana, salí a caminar todos los días")
    assert step.hung_up and step.said == [ES_SAVED]
    spoken_in(step, "es")
    checkin = only(db, CheckIn)
    assert checkin.score == 4 and checkin.words == "Fue una buena semana, salí a caminar todos los días"
    assert checkin.recording_url is None and escalations(db) == []
    with db.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT words FROM checkins").scalar_one()
    assert b"caminar" not in bytes(raw)


@pytest.mark.parametrize("how", ["silence", "pound"])
def test_no_spanish_message_ends_the_call_politely(caller, spanish_member, db, how):
    call = caller(spanish_member.phone)
    call.start()
    call.press("1")
    call.press("4")
    step = call.silence() if how == "silence" else call.press("#")
    assert step.hung_up and step.said == [ES_SAVED]
    checkin = only(db, CheckIn)
    assert checkin.score == 4 and checkin.words is None and escalations(db) == []


def test_check_in_answers_the_open_prompt(caller, member, db):
    with db.session() as s:
        s.add(CheckIn(member_id=member.id, prompt_key="prompt:1:x", prompted_at=utcnow(), state="open"))
    call = caller(member.phone)
    call.start()
    call.press("1")
    call.press("3")
    checkin = only(db, CheckIn)
    assert checkin.prompt_key == "prompt:1:x" and checkin.state == "answered" and checkin.score == 3


@pytest.mark.parametrize(
    "spanish, words, score, body",
    [
        (False, "four, it was a good week", 4, "4: four, it was a good week"),
        (True, "cuatro, bastante bien", 4, "4: cuatro, bastante bien"),
        (True, "tres", 3, "3"),
        # "una" is the article here: the score is the number said.
        (True, "fue una semana difícil, dos", 2, "2: fue una semana difícil, dos"),
    ],
)
def test_check_in_by_voice_goes_through_the_rules_engine(
    caller, member, spanish_member, db, spanish, words, score, body
):
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    call.press("1")
    step = call.say(words)
    if spanish:
        listens_in_spanish(step, "recorded")
        assert step.said == [ES_MESSAGE]
        step = call.silence()
    else:
        assert step.find("Record") is not None
        assert (
            step.said[0] == "Thank you. You can call or text 9 8 8 any time. "
            "If you like, leave a short message after the tone, then press pound."
        )
        step = call.record()
    assert step.hung_up and step.said == (
        [ES_SAVED]
        if spanish
        else ["Thank you, Sam. Your check-in is saved. You can call or text 9 8 8 any time. Goodbye."]
    )
    spoken_in(step, "es" if spanish else "en")
    with db.session() as s:
        message = s.scalar(select(Message).where(Message.channel == "voice"))
        assert message.body == body and message.direction == "inbound"
        assert s.scalar(select(AssessmentRecord)).level == "none"
    checkin = only(db, CheckIn)
    assert (checkin.state, checkin.score, checkin.call_sid) == ("answered", score, call.call_sid)
    assert escalations(db) == []


# Help now, for a crisis heard: 911 first (before anything asks them to stay on the line), who is being
# told (true: the alert is going out; no call-back time promised), then the crisis line's offer, and
# the <Dial> to it that silence falls through to.
DANGER = {
    "en": "If you are in danger now, hang up and call 9 1 1.",
    "es": "Si estás en peligro ahora, cuelga y llama al 9 1 1.",
}
OFFER = {
    "en": "To talk with someone at the 9 8 8 crisis line now, press 1 or say yes, or stay on the line. "
    "To try a facilitator instead, press 3.",
    "es": "Para hablar ahora con alguien de la Línea 9 8 8 de Prevención del Suicidio y Crisis, oprime 1 o di sí, "
    "o espera sin colgar. "
    "Para llamar a un facilitador, oprime 3.",
}
CONNECTING_LINE = {
    "en": "Connecting you to the crisis line now.",
    "es": "Te comunicamos con la línea de crisis. Cuando contesten, oprime 2 para español.",
}
TOLD = {
    "en": "We are letting the on-call facilitator know now.",
    "es": "Estamos avisando ahora al facilitador de turno.",
}
CRISIS = {
    lang: [DANGER[lang], heard + " " + TOLD[lang], OFFER[lang], CONNECTING_LINE[lang]]
    for lang, heard in (("en", "We hear you."), ("es", "Te escuchamos."))
}
HELP = {lang: [DANGER[lang], TOLD[lang], OFFER[lang], CONNECTING_LINE[lang]] for lang in ("en", "es")}


def offers_the_crisis_line(step, lang: str) -> None:
    """The step is help now: the offer in a Gather (1/yes, 3 for a facilitator), then the <Dial> to the
    configured crisis line, which a caller who says nothing falls through to."""
    verbs = [el.tag for el in step.root]
    assert verbs == ["Say", "Say", "Gather", "Say", "Dial"], verbs
    gather, dial = step.find("Gather"), step.find("Dial")
    assert gather.get("input") == "dtmf speech" and gather.get("action").endswith("/twilio/voice/help")
    assert gather.get("language") == ("es-US" if lang == "es" else "en-US")
    assert dial.findtext("Number") == CRISIS_LINE and dial.get("action").endswith("/twilio/voice/crisisline")
    assert dial.get("callerId") is None  # Twilio passes on the caller's own number
    spoken_in(step, lang)


@pytest.mark.parametrize(
    "spanish, words",
    [
        (False, "two, I am going to kill myself tonight"),
        (True, "dos, quiero matarme esta noche"),
        (True, "ya no aguanto, me voy a quitar la vida"),  # no score said at all
    ],
)
def test_a_crisis_said_at_check_in_gets_988_and_911_and_is_escalated(
    caller, member, spanish_member, staff, db, spanish, words
):
    who = spanish_member if spanish else member
    call = caller(who.phone)
    call.start()
    call.press("1")
    step = call.say(words)
    assert step.said == CRISIS["es" if spanish else "en"]
    offers_the_crisis_line(step, "es" if spanish else "en")
    [esc] = escalations(db)
    assert esc.level == "crisis" and esc.member_id == who.id
    with db.session() as s:
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
        assert {a.to_number for a in alerts} >= {DANA}
        assert s.scalar(select(Message).where(Message.channel == "voice")).body.endswith(words)
    # They ask for a facilitator instead (3); nobody answers: the message is asked for in their language.
    step = call.press("3")
    assert call.dialled() == DANA
    call.dial_result("no-answer")
    step = call.dial_result("no-answer")
    assert step.said[0].startswith(
        "Ningún facilitador pudo contestar ahora. Si estás en peligro, cuelga y llama al 9 1 1. Si lo necesitas, puedes llamar al 9 8 8"
        if spanish
        else "No facilitator could answer right now. If you are in danger, hang up and call 9 1 1. "
        "You can call or text 9 8 8 any time. To leave a message, speak after the tone"
    )
    if spanish:
        listens_in_spanish(step, "message")
    else:
        assert step.find("Record") is not None
        spoken_in(step, "en")


@pytest.mark.parametrize("spanish", [False, True])
def test_a_bug_in_a_call_step_still_gives_988_911_and_alerts_directly(
    caller, member, spanish_member, staff, db, monkeypatch, spanish
):
    from checkin.escalation import service as escalation_service

    def broken(*args, **kwargs):
        raise RuntimeError("bug while escalating")

    monkeypatch.setattr(escalation_service, "handle_verdict", broken)
    who = spanish_member if spanish else member
    call = caller(who.phone)
    call.start()
    call.press("1")
    step = call.say("dos, quiero matarme esta noche" if spanish else "two, I am going to kill myself tonight")
    assert step.said[0] == DANGER["es" if spanish else "en"] and "9 8 8" in step.said[1]
    spoken_in(step, "es" if spanish else "en")
    assert step.find("Hangup") is not None
    with db.session() as s:
        # Whatever the failed step wrote is gone; the facilitator and the coordinator are paged directly.
        assert s.scalar(select(func.count()).select_from(Escalation)) == 0
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
    assert {a.to_number for a in alerts} == {DANA, CORA, FAY}
    assert all(a.idempotency_key.startswith(f"alert:failsafe:call:{call.call_sid}:") for a in alerts)
    assert all(who.phone not in a.body and "could not be processed" in a.body for a in alerts)


@pytest.mark.parametrize("spanish", [False, True])
def test_speech_at_the_menu_is_assessed_too(caller, member, spanish_member, staff, db, spanish):
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    step = call.say(
        "ya no quiero vivir, tengo las pastillas"
        if spanish
        else "I don't want to be alive anymore, I have pills"
    )
    level = escalations(db)[0].level
    assert step.said[0] == DANGER["es" if spanish else "en"] and "9 8 8" in step.text
    spoken_in(step, "es" if spanish else "en")
    # A crisis gets help now (the crisis line's offer); urgent words ring a facilitator.
    assert (level, call.dialled()) in (("crisis", CRISIS_LINE), ("urgent", DANA))


@pytest.mark.parametrize("how, spanish", [("key", False), ("word", False), ("key", True), ("word", True)])
def test_help_by_key_or_word_pages_as_a_crisis_and_offers_the_crisis_line(
    caller, member, spanish_member, staff, db, how, spanish
):
    # Before: help was urgent (a page within the hour), "thank you for telling us", and no way to 988.
    lang = "es" if spanish else "en"
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    step = call.press("9") if how == "key" else call.say("ayuda" if spanish else "help")
    assert step.said == HELP[lang]
    offers_the_crisis_line(step, lang)
    [esc] = escalations(db)
    assert esc.level == "crisis"
    with db.session() as s:
        record = s.scalar(select(AssessmentRecord))
        assert "voice.help_request" in record.rules and record.source == "voice"
        # The on-call facilitator is paged at once, by text and by an alert call (the crisis policy).
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
        assert {(a.to_number, a.channel) for a in alerts} >= {(DANA, "sms"), (DANA, "voice")}
    # 1 (or yes) connects at once; the crisis line answers and the call ends when they are done.
    step = call.press("1") if how == "key" else call.say("sí" if spanish else "yes")
    assert step.said == [CONNECTING_LINE[lang]] and call.dialled() == CRISIS_LINE
    step = call.dial_result("completed")
    assert step.hung_up and step.said == []
    assert len(escalations(db)) == 1


@pytest.mark.parametrize("spanish", [False, True])
def test_help_now_silence_connects_and_an_unreachable_crisis_line_rings_the_facilitators(
    caller, member, spanish_member, staff, db, spanish
):
    lang = "es" if spanish else "en"
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    call.press("9")
    step = call.silence()  # nothing pressed: Twilio plays on to the <Dial> after the offer
    assert step.said == [CONNECTING_LINE[lang]] and call.dialled() == CRISIS_LINE
    step = call.dial_result("failed")
    assert step.said == [
        "No pudimos comunicarte con la línea de crisis. Puedes llamar tú al 9 8 8 y oprimir 2, a cualquier hora."
        if spanish
        else "We could not reach the crisis line. You can call or text 9 8 8 yourself, any time.",
        "Por favor no cuelgues. Estamos llamando a un facilitador."
        if spanish
        else "Please stay on the line. We are calling a facilitator for you.",
    ]
    spoken_in(step, lang)
    assert call.dialled() == DANA
    call.dial_result("no-answer")
    step = call.dial_result("no-answer")  # Fay neither: a message, after 911 and 988
    assert "9 8 8" in step.said[0] and step.said[0].index("9 1 1") < step.said[0].index("9 8 8")
    digits_only(step)
    assert [e.level for e in escalations(db)] == ["crisis"]


def test_help_now_3_or_no_rings_the_facilitators_instead(caller, member, staff, db):
    for answer in ("3", "no, a facilitator please"):
        with db.session() as s:  # each call its own case
            for esc in s.scalars(select(Escalation)):
                esc.state = "resolved"
        call = caller(member.phone)
        call.start()
        call.press("9")
        step = call.press(answer) if answer.isdigit() else call.say(answer)
        assert step.said == ["Please stay on the line. We are calling a facilitator for you."]
        assert call.dialled() == DANA


@pytest.mark.parametrize("spanish", [False, True])
def test_phq9_question_when_the_group_asks_it(caller, member, spanish_member, staff, db, group, spanish):
    from checkin.voice.calls import set_phq9

    who = spanish_member if spanish else member
    with db.session() as s:
        set_phq9(s, group.id, True)
    call = caller(who.phone)
    call.start()
    call.press("1")
    step = call.press("4")
    assert step.said[0].startswith("Durante las últimas 2 semanas" if spanish else "Over the last 2 weeks")
    assert step.find("Gather").get("input") == "dtmf"
    step = call.press("0")
    assert step.find("Gather" if spanish else "Record").get("action").endswith("/twilio/voice/recorded")
    assert escalations(db) == []
    # A second call, answering "several days": urgent.
    call = caller(who.phone)
    call.start()
    call.press("1")
    call.press("4")
    step = call.press("1")
    assert step.said[0] == DANGER["es" if spanish else "en"]  # before "stay on the line"
    assert step.said[1].startswith("Gracias por contarnos." if spanish else "Thank you for telling us.")
    assert "9 8 8" in step.said[1] and call.dialled() == DANA
    spoken_in(step, "es" if spanish else "en")
    [esc] = escalations(db)
    assert esc.level == "urgent"
    with db.session() as s:
        assert "voice.phq9_item9" in assessed_rules(s)


def test_phq9_is_not_asked_by_default(caller, member, db):
    call = caller(member.phone)
    call.start()
    call.press("1")
    assert call.press("2").find("Record") is not None


def test_wrong_score_key_reprompts(caller, member, db):
    call = caller(member.phone)
    call.start()
    call.press("1")
    step = call.press("7")
    assert step.said[0] == "Sorry, I did not get that." and step.said[1].startswith("On a scale")
    assert call.press("5").find("Record") is not None


def assessed_rules(s) -> list[str]:
    """The rule ids of the case's assessed message: on its (encrypted) assessment, not in the event's detail."""
    from checkin.escalation.models import AssessmentRecord

    event = s.scalar(select(EscalationEvent).where(EscalationEvent.kind == "assessed"))
    assert event.detail is None
    return s.scalar(select(AssessmentRecord.rules).where(AssessmentRecord.message_id == event.message_id))


# --- a facilitator, now -------------------------------------------------------------------------


@pytest.mark.parametrize("spanish", [False, True])
def test_talk_to_a_facilitator_rings_each_in_order_then_takes_a_message(
    caller, member, spanish_member, staff, db, group, spanish
):
    who = spanish_member if spanish else member
    call = caller(who.phone)
    call.start()
    step = call.press("3")
    dial = step.find("Dial")
    assert dial.get("timeout") == "20" and dial.get("callerId") == group.phone_number
    assert call.dialled() == DANA and "/twilio/voice/dial?n=0&at=" in dial.get("action")
    step = call.dial_result("no-answer")
    assert call.dialled() == FAY  # the backup, next
    assert escalations(db) == []
    step = call.dial_result("busy")
    if spanish:
        listens_in_spanish(step, "message")
    else:
        assert step.find("Record") is not None
    assert step.said[0].startswith("Ningún facilitador" if spanish else "No facilitator could answer")
    [esc] = escalations(db)
    assert esc.level == "urgent"
    with db.session() as s:
        assert "voice.no_facilitator_answered" in assessed_rules(s)
    if spanish:
        step = call.say("Necesito hablar con alguien sobre mi semana")
    else:
        step = call.record(recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE9")
    # What is true: the on-call facilitator is being told (not "will call you back"), and 988.
    assert step.hung_up and step.said == [
        "Gracias. Estamos avisando ahora al facilitador de turno. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós."
        if spanish
        else "Thank you. We are letting the on-call facilitator know now. You can call or text 9 8 8 any time. "
        "Goodbye."
    ]
    with db.session() as s:
        note = s.scalar(select(EscalationEvent).where(EscalationEvent.kind == "note"))
        if spanish:  # the case names the message heard, whose words the facilitator reads (never in the note)
            words = s.get(Message, note.message_id).body
            assert words == "Necesito hablar con alguien sobre mi semana" and "semana" not in note.detail
            assert note.detail.endswith(f"spoken, message {note.message_id}")
        else:
            assert note.detail.endswith("/Recordings/RE9")


def test_a_crisis_in_a_spanish_message_left_when_nobody_answered_raises_the_case(
    caller, spanish_member, staff, db
):
    call = caller(spanish_member.phone)
    call.start()
    call.press("3")
    call.dial_result("no-answer")
    step = call.dial_result("no-answer")
    listens_in_spanish(step, "message")
    [esc] = escalations(db)
    assert esc.level == "urgent"
    words = "no contestó nadie y esta noche me voy a quitar la vida"
    action = step.find("Gather").get("action")
    step = call.say(words)
    # Nobody answered and the message is a crisis: help now, the crisis line offered.
    assert step.said == CRISIS["es"]
    offers_the_crisis_line(step, "es")
    [esc] = escalations(db)
    assert esc.level == "crisis"
    with db.session() as s:
        raised = s.scalar(select(EscalationEvent).where(EscalationEvent.kind == "raised"))
        assert raised.detail == "urgent -> crisis"
        # Crisis widens the alerts: the facilitator is now rung too, not only texted.
        channels = {a.channel for a in s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert"))}
        assert "voice" in channels
        alerts = s.scalar(select(func.count()).select_from(OutboxItem))
    # Twilio retries the webhook: the same words are not stored, alerted or noted twice.
    assert call._go(action, SpeechResult=words, Confidence="0.9").said == step.said
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == alerts
        assert len(s.scalars(select(EscalationEvent).where(EscalationEvent.kind == "note")).all()) == 1
        assert s.scalars(select(Message.body).where(Message.channel == "voice")).all().count(words) == 1


def test_talk_to_a_facilitator_rings_only_those_on_shift_now(caller, member, staff, db, group):
    with db.session() as s:
        off_shift_now(s, group.id, staff["dana"].id)  # the primary's shift is another day
        on_shift_now(s, group.id, staff["fay"].id)
        s.commit()
    call = caller(member.phone)
    call.start()
    call.press("3")
    assert call.dialled() == FAY
    step = call.dial_result("no-answer")
    assert step.find("Dial") is None and step.find("Record") is not None  # Dana is not rung
    assert escalations(db)[0].level == "urgent"


def test_a_shift_ending_while_the_primary_rings_does_not_skip_the_backup(
    caller, member, staff, db, group, monkeypatch
):
    # Dana's weekday shift ends at 17:00 while she rings (20 s): the list asked for when the member
    # pressed 3 stands, so Fay, the backup, is still rung before the member is sent to a message.
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from checkin import rota
    from checkin.models import GroupStaff

    pressed = datetime(2026, 12, 2, 16, 59, 50, tzinfo=ZoneInfo("America/New_York"))  # a Wednesday
    clock = [pressed]
    monkeypatch.setattr("webhooks.twilio_voice.utcnow", lambda: clock[0])
    with db.session() as s:
        rota.add_weekly(
            s, s.get(GroupStaff, (group.id, staff["dana"].id)), [1, 2, 3, 4, 5], time(9), time(17)
        )
    call = caller(member.phone)
    call.start()
    call.press("3")
    assert call.dialled() == DANA
    clock[0] = pressed + timedelta(seconds=21)  # 17:00:11: Dana's shift is over, she did not answer
    call.dial_result("no-answer")
    assert call.dialled() == FAY
    assert escalations(db) == []


def test_a_facilitator_who_answers_ends_the_call_without_escalation(caller, member, staff, db):
    call = caller(member.phone)
    call.start()
    call.press("3")
    step = call.dial_result("completed")
    assert step.hung_up and escalations(db) == []


def test_no_facilitator_on_call_takes_a_message_at_once(caller, member, db):
    call = caller(member.phone)
    call.start()
    step = call.press("3")
    assert step.find("Dial") is None and step.find("Record") is not None
    assert escalations(db)[0].level == "urgent"


# --- unknown callers -----------------------------------------------------------------------------


def test_unknown_caller_hears_who_we_are_and_the_message_reaches_the_coordinator(caller, member, staff, db):
    call = caller(STRANGER)
    step = call.start()
    assert "Checkin" in step.text and "9 8 8" in step.text and "hang up and call 9 1 1" in step.text
    digits_only(step)
    assert "Sam" not in step.text and "Tuesday" not in step.text
    step = call.silence() if step.find("Redirect") is not None else step
    step = call.record(recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE7")
    assert step.hung_up and step.said[0] == (
        "Thank you. Your message will be passed on. You can call or text 9 8 8 any time. Goodbye."
    )
    with db.session() as s:
        [item] = s.scalars(select(OutboxItem)).all()
        assert item.to_number == CORA and item.body.endswith("/Recordings/RE7") and "Spanish" not in item.body
        assert s.scalars(select(Message).where(Message.channel == "voice")).all() == []


@pytest.mark.parametrize("to", ["+12025550777", "client:alice"], ids=["another-number", "not-a-number"])
def test_a_call_to_a_number_that_is_not_ours_is_told_so_with_911_and_988_and_nothing_is_stored(
    caller, member, staff, db, caplog, to
):
    """The SMS webhook refuses a text to a number that is none of ours; a call to one ran the member's menu
    as if it were their group's line. Now the caller is told, in English and Spanish, and hung up on."""
    call = caller(member.phone, to=to)
    step = call.start()
    assert step.hung_up and step.find("Gather") is None
    assert step.said[0].startswith("This number is not set up for Checkin.")
    assert step.said[1].startswith("Este número no está configurado para Checkin.")
    assert "hang up and call 9 1 1" in step.said[0] and "9 8 8" in step.said[0]
    digits_only(step)
    assert "Sam" not in step.text
    [line] = [r.getMessage() for r in caplog.records if "not one of this service's" in r.getMessage()]
    assert call.call_sid in line and member.phone not in line and to not in line
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(VoiceCall)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_unknown_caller_is_offered_spanish_first_and_leaves_a_message_in_spanish(caller, staff, db):
    call = caller(STRANGER)
    step = call.start()
    gather = step.find("Gather")
    assert gather.get("action").endswith("/twilio/voice/unknown?choose=1") and gather.get("input") == "dtmf"
    # A Spanish speaker hears the offer before the English, and may press 8 all through it.
    offer, english = gather.findall("Say")
    assert (offer.text, offer.get("language"), offer.get("voice")) == (
        "Para español, oprime 8.",
        "es-US",
        "Polly.Lupe",
    )
    assert english.text.startswith("You have reached Checkin") and english.get("language") == "en-US"
    step = call.press("8")
    assert step.said == [
        "Llamaste a Checkin, una línea de avisos para grupos de apoyo. Si estás en peligro, cuelga y llama al 9 1 1. "
        "Puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Para dejar un mensaje al coordinador, "
        "habla después del tono y oprime numeral.",
        "Gracias. Pasaremos tu mensaje. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós.",
    ]
    record = step.find("Record")
    assert record.get("action").endswith("/twilio/voice/unknown") and record.get("transcribe") is None
    spoken_in(step, "es")
    step = call.record(recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE8")
    assert step.hung_up and step.said == [
        "Gracias. Pasaremos tu mensaje. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós."
    ]
    spoken_in(step, "es")
    with db.session() as s:
        [item] = s.scalars(select(OutboxItem)).all()
        # The coordinator knows to call back in Spanish.
        assert (
            item.to_number == CORA
            and " voice message in Spanish " in item.body
            and item.body.endswith("/RE8")
        )


# --- status callbacks ----------------------------------------------------------------------------


def test_inbound_call_status_callbacks_are_recorded(caller, twilio, member, db):
    call = caller(member.phone)
    call.start()
    from webhooks.call_walker import call_params

    params = call_params(
        call.call_sid, member.phone, FROM_NUMBER, ACCOUNT_SID, CallStatus="completed", CallDuration="42"
    )
    assert twilio.post("/twilio/voice/status", params).status_code == 204
    row = only(db, VoiceCall)
    assert row.status == "completed" and row.duration_seconds == 42 and row.ended_at is not None
    assert twilio.post("/twilio/voice/status", dict(params, CallStatus="exploded")).status_code == 400


# --- the next meeting --------------------------------------------------------------------------


@pytest.mark.parametrize("spanish", [False, True])
def test_next_meeting_is_read_in_local_time_with_the_place(
    caller, member, spanish_member, db, group, spanish
):
    from datetime import time

    from checkin.schedules import next_meeting, set_schedule
    from checkin.voice.speech import spoken_when

    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(19, 0),
            duration_minutes=90,
            location="12 Main Street, room 4",
        )
        local = next_meeting(s, group.id, utcnow()).local_start
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    step = call.press("2")
    when = spoken_when(local, "es" if spanish else "en")
    assert local.hour == 19 and ("a las 7 de la noche" in when if spanish else "at 7 PM" in when)
    assert step.said[0] == (
        f"Tu próxima reunión es {when}. Es en 12 Main Street, room 4."
        if spanish
        else f"Your next meeting is {when}. It meets at 12 Main Street, room 4."
    )
    assert step.find("Gather") is not None  # then the menu again, interruptible


@pytest.mark.parametrize("spanish", [False, True])
def test_next_meeting_by_phone_reads_the_dial_in_number(caller, member, spanish_member, db, group, spanish):
    from datetime import time

    from checkin.schedules import set_schedule

    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TH",
            start_local=time(18, 30),
            duration_minutes=60,
            dial_in="+1 202 555 0188",
        )
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    step = call.press("2")
    # The number digit by digit in groups, in either language.
    if spanish:
        assert step.said[0].startswith("Tu próxima reunión es el jueves ")
        assert step.said[0].endswith(
            " a las 6:30 de la tarde. Para unirte por teléfono, marca 2 0 2, 5 5 5, 0 1 8 8."
        )
    else:
        assert step.said[0].startswith("Your next meeting is Thursday, ")
        assert step.said[0].endswith(" at 6:30 PM. To join by phone, dial 2 0 2, 5 5 5, 0 1 8 8.")
    spoken_in(step, "es" if spanish else "en")
    assert step.find("Gather").get("language") == ("es-US" if spanish else "en-US")  # then the menu again


# --- transcripts of recorded messages ----------------------------------------------------------


def test_a_crisis_in_a_recorded_check_in_message_is_escalated_from_its_transcript(caller, member, staff, db):
    call = caller(member.phone)
    call.start()
    call.press("1")
    step = call.press("4")
    assert step.find("Record").get("transcribe") == "true"
    call.record()
    assert escalations(db) == []
    # After the call, Twilio posts the transcript (signed); the answer is empty.
    assert call.transcription("I have the pills ready and I am going to take them all tonight") == ""
    [esc] = escalations(db)
    assert esc.level == "crisis"


def test_a_benign_transcript_becomes_the_check_ins_words(caller, member, db):
    call = caller(member.phone)
    call.start()
    call.press("1")
    call.press("4")
    call.record()
    call.transcription("Good week, I went for walks every day.")
    checkin = only(db, CheckIn)
    assert checkin.score == 4 and checkin.words == "Good week, I went for walks every day."
    assert escalations(db) == []


@pytest.mark.parametrize("step", ["score", "phq9"])
def test_every_question_reprompts_twice_then_says_goodbye(caller, member, db, group, step):
    from checkin.voice.calls import set_phq9

    with db.session() as s:
        set_phq9(s, group.id, True)
    call = caller(member.phone)
    call.start()
    call.press("1")
    if step == "phq9":
        call.press("3")
    for tries in (1, 2):
        again = call.silence() if tries == 1 else call.press("*")
        assert again.said[0] == "Sorry, I did not get that." and again.find("Gather").get("action").endswith(
            f"tries={tries}"
        )
    goodbye = call.silence()
    assert goodbye.hung_up and goodbye.said == [
        "Sorry, I did not get that.",
        "Thank you for calling Checkin. You can call or text 9 8 8 any time. Goodbye.",
    ]
    assert escalations(db) == []


# --- nobody can be paged: no promise of a person, the crisis line instead --------------------------

UNHEARD = {
    "en": "No facilitator can be reached right now. The crisis line can help you.",
    "es": "Ahora no podemos localizar a un facilitador. La Línea 9 8 8 de Prevención del Suicidio y Crisis te puede ayudar.",
}


@pytest.mark.parametrize("spanish", [False, True])
def test_help_now_with_nobody_to_page_promises_no_facilitator_and_offers_the_crisis_line(
    caller, member, spanish_member, db, spanish
):
    # No staff at all: the policy and every fallback reach nobody.
    lang = "es" if spanish else "en"
    call = caller(spanish_member.phone if spanish else member.phone)
    call.start()
    step = call.press("9")
    assert step.said == [DANGER[lang], UNHEARD[lang], OFFER[lang], CONNECTING_LINE[lang]]
    assert TOLD[lang] not in step.text
    offers_the_crisis_line(step, lang)
    assert escalations(db)[0].level == "crisis"  # the case is open for whoever signs in


def test_urgent_words_with_nobody_to_ring_go_to_the_crisis_line_not_a_dead_dial(caller, member, db):
    call = caller(member.phone)
    call.start()
    call.press("1")
    step = call.say("two. I have been feeling hopeless and I cannot cope")
    assert escalations(db)[0].level == "urgent"
    assert TOLD["en"] not in step.text and UNHEARD["en"] in step.said
    offers_the_crisis_line(step, "en")


def test_a_bug_in_a_call_step_with_nobody_to_alert_does_not_say_anyone_is_told(
    caller, member, db, monkeypatch
):
    from checkin.escalation import service as escalation_service

    def broken(*args, **kwargs):
        raise RuntimeError("bug while escalating")

    monkeypatch.setattr(escalation_service, "handle_verdict", broken)
    call = caller(member.phone)
    call.start()
    call.press("1")
    step = call.say("two, I am going to kill myself tonight")
    assert step.said[0] == DANGER["en"]
    assert "facilitator" not in step.text and "9 8 8" in step.text
    assert step.find("Hangup") is not None

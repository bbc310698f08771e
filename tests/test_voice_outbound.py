"""Calls we place to members, end to end: the outbox row the planner writes, a real RQ worker, the
real twilio library against the loopback Twilio server (which answers the call by fetching our
TwiML, signed, with AnsweredBy), signed status callbacks, retries and the cap on calls at once."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select

from checkin import outbox
from checkin.checkins import CheckIn
from checkin.db import utcnow
from checkin.models import Member, Message, OutboxItem
from checkin.schedules.recurrence import occurrence_key
from checkin.status import StatusUpdate
from checkin.voice import outbound
from checkin.voice.config import load as load_config
from checkin.voice.models import VoiceCall
from tests.conftest import ACCOUNT_SID, FROM_NUMBER, zone_where_it_is
from tests.voice_helpers import CRISIS_LINE, placed_call, spoken_in
from webhooks.call_walker import CallWalker, http_post
from workers.queues import dispatch
from workers.worker import Worker

# The schedules part's occurrence key (the original UTC start) of a meeting a week ahead, so a reminder
# call is never for a meeting that has started (the send-time gate would cancel it).
OCCURRENCE = occurrence_key((utcnow() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0))


def noon_zone(now: datetime) -> str:
    """A zone where it is about noon now, so calls and retries fall inside quiet hours whenever the suite runs."""
    return zone_where_it_is(12, now)


@pytest.fixture
def voice_member(db, group):
    from checkin.directory import add_member

    with db.session() as s:
        member = add_member(s, group.name, "+12025550111", "Lee Park", "en", noon_zone(utcnow()), "voice")
        return member


@pytest.fixture
def spanish_voice_member(db, group):
    from checkin.directory import add_member

    with db.session() as s:
        return add_member(s, group.name, "+12025550112", "Rosa Medina", "es", noon_zone(utcnow()), "voice")


def work(rt):
    Worker(["alerts", "outbox"], connection=rt.redis, runtime=rt).work(burst=True)


def plan_call(rt, member, kind="prompt", key=None):
    """Write the outbox row exactly as the planner does for a voice member (and the prompt's check-in)."""
    key = key or f"{kind}:{member.id}:{OCCURRENCE}"
    url = (
        f"{rt.settings.public_base_url}/twilio/voice/outbound?kind={kind}&member={member.id}"
        f"&occurrence={quote(OCCURRENCE, safe='')}"
    )
    with rt.db.session() as s:
        item, _ = outbox.add(
            s,
            key,
            to=member.phone,
            twiml_url=url,
            channel="voice",
            purpose=kind,
            member_id=member.id,
            from_number=FROM_NUMBER,
        )
        if kind in ("prompt", "nudge"):
            s.add(
                CheckIn(
                    member_id=member.id, prompt_key=key, prompted_at=utcnow(), state="open", channel="voice"
                )
            )
    dispatch(rt, [item])
    return item


def row(db, model, **where):
    with db.session() as s:
        return s.scalars(select(model).filter_by(**where)).all()


CONFIRM = {
    "en": "Hello, this is Checkin with a call for {name}. {name}, please press 1 or say yes. "
    "If {name} is not there, press 2.",
    "es": "Hola, habla Checkin con una llamada para {name}. {name}, oprime 1 o di sí. Si {name} no está, oprime 2.",
}
# Nothing a family member or a machine hears names the group, the service's purpose or a crisis line.
PRIVATE = ("Tuesday", "support group", "grupo de apoyo", "9 8 8", "988", "check in", "registr", "crisis")


def asks_who(step, first_name: str, lang: str) -> None:
    """Whoever picked up is asked whether they are the member, and hears nothing else."""
    assert step.said == [CONFIRM[lang].format(name=first_name)]
    gather = step.find("Gather")
    assert gather.get("input") == "dtmf speech" and "confirm=0" in gather.get("action")
    assert not any(word in step.text for word in PRIVATE), step.text
    spoken_in(step, lang)


def walker(rt, member, sid):
    return CallWalker(
        http_post(rt.settings, None),
        rt.settings.public_base_url,
        FROM_NUMBER,
        member.phone,
        ACCOUNT_SID,
        call_sid=sid,
        direction="outbound-api",
    )


@pytest.mark.parametrize("spanish", [False, True])
def test_a_person_answers_the_check_in_call(
    live_app, fake_twilio, db, voice_member, spanish_voice_member, spanish
):
    who = spanish_voice_member if spanish else voice_member
    rt = live_app
    plan_call(rt, who)
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    params = call["params"]
    assert params["To"] == who.phone and params["From"] == FROM_NUMBER
    # A member's answering machine is waited out to its beep, so the reminder is recorded whole.
    assert (
        params["MachineDetection"] == "DetectMessageEnd"
        and "/twilio/status?outbox=" in params["StatusCallback"]
    )
    assert "/twilio/voice/outbound?kind=prompt" in params["Url"]
    status, twiml = fake_twilio.answer_call(call["sid"], "human")
    assert status == 200
    caller = walker(rt, who, call["sid"])
    asks_who(caller.resume(twiml), who.first_name, "es" if spanish else "en")
    step = caller.say("sí, soy yo") if spanish else caller.press("1")
    if spanish:
        assert step.said == [
            "Hola Rosa, habla Checkin de Tuesday Group.",
            "Del 1 al 5, donde 1 es muy mal y 5 es muy bien, ¿cómo estás? Oprime un número o dilo.",
        ]
        assert step.find("Gather").get("language") == "es-US" and "cuatro" in step.find("Gather").get("hints")
    else:
        assert step.said[0] == "Hi Lee, this is Checkin for Tuesday Group."
        assert step.said[1].startswith("On a scale of 1 to 5")
    spoken_in(step, "es" if spanish else "en")
    step = caller.say("dos, más o menos") if spanish else caller.press("2")
    spoken_in(step, "es" if spanish else "en")
    # The message: recorded in English; in Spanish heard by speech recognition and kept as words.
    if spanish:
        step = caller.say("estuve cansada, pero bien")
    else:
        step = caller.record(recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE3")
    assert step.hung_up and step.said == (
        [
            "Gracias, Rosa. Guardamos tu registro. Si lo necesitas, puedes llamar al 9 8 8 y oprimir 2, a cualquier hora. Adiós."
        ]
        if spanish
        else ["Thank you, Lee. Your check-in is saved. You can call or text 9 8 8 any time. Goodbye."]
    )
    [checkin] = row(db, CheckIn)
    assert (checkin.state, checkin.score, checkin.call_sid) == ("answered", 2, call["sid"])
    if spanish:
        # The words said with the score stay the check-in's (as with a transcript); the message is kept too.
        assert checkin.words == "2: dos, más o menos" and checkin.recording_url is None
        with db.session() as s:
            assert (
                "estuve cansada, pero bien"
                in s.scalars(select(Message.body).where(Message.channel == "voice")).all()
            )
    else:
        assert checkin.recording_url.endswith("/RE3")
    # The call ends: its status is recorded on the call, and nothing is retried.
    assert fake_twilio.send_status(call["sid"], "completed", duration=75) == 204
    [stored] = row(db, VoiceCall)
    assert (stored.direction, stored.kind, stored.status, stored.answered_by) == (
        "outbound",
        "prompt",
        "completed",
        "human",
    )
    assert stored.language == ("es" if spanish else "en")
    work(rt)
    assert len(fake_twilio.calls()) == 1


def test_spanish_person_gets_the_spoken_reminder_then_the_menu(
    live_app, fake_twilio, db, spanish_voice_member
):
    rosa = spanish_voice_member
    rt = live_app
    plan_call(rt, rosa, kind="reminder")
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    status, twiml = fake_twilio.answer_call(call["sid"], "human")
    caller = walker(rt, rosa, call["sid"])
    asks_who(caller.resume(twiml), "Rosa", "es")
    step = caller.press("1")
    assert step.said[:2] == [
        "Hola Rosa, habla Checkin de Tuesday Group.",
        "Un aviso sobre la próxima reunión de tu grupo.",
    ]
    assert step.said[2].startswith("Si necesitas ayuda ahora, oprime 9 o di ayuda.")
    assert step.said[3] == "For English, press 8."
    assert step.find("Gather").get("language") == "es-US"
    spoken_in(step, "es")


@pytest.mark.parametrize("answered_by", ["machine_end_beep", "machine_start", "fax"])
def test_an_answering_machine_gets_a_short_reminder_with_no_private_detail(
    live_app, fake_twilio, db, voice_member, answered_by
):
    rt = live_app
    plan_call(rt, voice_member)
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    status, twiml = fake_twilio.answer_call(call["sid"], answered_by)
    step = walker(rt, voice_member, call["sid"]).resume(twiml)
    assert step.hung_up and step.find("Gather") is None
    # Before, it said "a reminder from your support group" to whoever plays the tape back.
    assert step.said == [
        "Hello, this is Checkin calling. Please call us back at 5 0 0, 5 5 5, 0 0 0 6. Goodbye."
    ]
    assert "Lee" not in step.text and not any(word in step.text for word in PRIVATE)
    # A machine took the message: no retry, and the check-in stays open for the member to call back.
    fake_twilio.send_status(call["sid"], "completed", answered_by=answered_by)
    work(rt)
    assert len(fake_twilio.calls()) == 1
    assert row(db, CheckIn)[0].state == "open"


@pytest.mark.parametrize(
    "outcomes, spanish",
    [(("no-answer",) * 3, False), (("busy",) * 3, False), (("no-answer", "busy", "no-answer"), True)],
)
def test_unanswered_calls_are_retried_twice_then_the_check_in_is_missed(
    live_app, fake_twilio, db, voice_member, spanish_voice_member, outcomes, spanish
):
    who = spanish_voice_member if spanish else voice_member
    rt = live_app
    first = plan_call(rt, who)
    work(rt)
    waits = []
    for n, outcome in enumerate(outcomes):
        call = fake_twilio.wait_for_calls(n + 1)[n]
        before = utcnow()
        assert fake_twilio.send_status(call["sid"], outcome) == 204
        retries = row(db, OutboxItem, idempotency_key=f"{first.idempotency_key}:call{n + 1}")
        if n == 2:
            assert retries == []  # at most two retries
            break
        [retry] = retries
        waits.append(round((retry.next_attempt_at - before).total_seconds() / 60))
        assert row(db, CheckIn)[0].state == "open"
        with db.session() as s:  # the wait passes
            s.get(OutboxItem, retry.id).next_attempt_at = utcnow()
        dispatch(rt, [retry])
        work(rt)
    assert waits == [15, 60]
    assert len(fake_twilio.calls()) == 3
    # Every try rings the member with the same spoken check-in (its language is the member's, at pickup).
    assert {(c["params"]["To"], c["params"]["Url"]) for c in fake_twilio.calls()} == {
        (who.phone, first.twiml_url)
    }
    [checkin] = row(db, CheckIn)
    assert checkin.state == "missed"
    assert sorted(c.status for c in row(db, VoiceCall)) == sorted(outcomes)
    # Nothing else goes to the member: no text about the missed calls, in any language.
    assert sorted(i.idempotency_key for i in row(db, OutboxItem)) == [first.idempotency_key] + [
        f"{first.idempotency_key}:call{n}" for n in (1, 2)
    ]


def test_no_retry_into_the_members_night(db, voice_member):
    """A retry that would ring after 21:00 member-local is not placed; the check-in is missed."""
    tz_night = datetime(2026, 12, 1, 20, 50, tzinfo=UTC)  # 20:50 in UTC+0 -> +15 min is 21:05
    with db.session() as s:
        member = s.get(Member, voice_member.id)
        member.timezone = "Etc/GMT"
        item, _ = outbox.add(
            s,
            "prompt:night",
            to=member.phone,
            twiml_url="https://x/twilio/voice/outbound?kind=prompt",
            channel="voice",
            purpose="prompt",
            member_id=member.id,
        )
        s.add(CheckIn(member_id=member.id, prompt_key="prompt:night", prompted_at=tz_night, state="open"))
        s.flush()
        outbound.on_call_status(
            s, item, StatusUpdate(sid="CA" + "e" * 32, status="failed", call_status="no-answer"), now=tz_night
        )
        assert s.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == "prompt:night:call1")) is None
        assert s.scalar(select(CheckIn)).state == "missed"


@pytest.mark.parametrize("spanish", [False, True])
def test_calls_in_progress_are_capped(live_app, fake_twilio, db, group, monkeypatch, spanish):
    from checkin.directory import add_member

    rt = live_app
    rt.reconfigure(voice=load_config(1))  # Settings.max_concurrent_calls, CHECKIN_MAX_CONCURRENT_CALLS=1
    assert rt.voice.max_concurrent == 1
    language = "es" if spanish else "en"
    with db.session() as s:
        zone = noon_zone(utcnow())
        one = add_member(s, group.name, "+12025550121", "Ana One", language, zone, "voice")
        two = add_member(s, group.name, "+12025550122", "Ben Two", language, zone, "voice")
    plan_call(rt, one)
    held = plan_call(rt, two)
    before = utcnow()  # held means due later than the worker found it (not "later than now": that races)
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    [waiting] = row(db, OutboxItem, id=held.id)
    assert waiting.state == "pending" and waiting.attempts == 0 and waiting.next_attempt_at > before
    # The first call ends; the held one goes out when it is due.
    fake_twilio.send_status(call["sid"], "completed")
    with db.session() as s:
        s.get(OutboxItem, held.id).next_attempt_at = utcnow()
    dispatch(rt, [waiting])
    work(rt)
    calls = fake_twilio.wait_for_calls(2)
    assert calls[1]["params"]["To"] == two.phone
    # The held call, once placed, is the member's own: their name, in their language.
    status, twiml = fake_twilio.answer_call(calls[1]["sid"], "human")
    caller = walker(rt, two, calls[1]["sid"])
    asks_who(caller.resume(twiml), "Ben", language)
    step = caller.press("1")
    assert step.said[0] == (
        "Hola Ben, habla Checkin de Tuesday Group."
        if spanish
        else "Hi Ben, this is Checkin for Tuesday Group."
    )
    spoken_in(step, language)


def test_outbound_twiml_needs_a_signature_and_a_known_kind(twilio, voice_member):
    from webhooks.call_walker import call_params

    params = call_params(
        "CA" + "b" * 32, FROM_NUMBER, voice_member.phone, ACCOUNT_SID, direction="outbound-api"
    )
    path = f"/twilio/voice/outbound?kind=prompt&member={voice_member.id}&occurrence=x"
    assert twilio.post(path, params, signature="").status_code == 403
    assert (
        twilio.post(f"/twilio/voice/outbound?kind=party&member={voice_member.id}", params).status_code == 400
    )
    assert twilio.post("/twilio/voice/outbound?kind=prompt&member=abc", params).status_code == 400


def test_a_call_answered_at_a_number_that_is_no_longer_the_members_says_nothing_private(
    twilio, settings, voice_member
):
    caller = placed_call(twilio, settings, "+12025550177")
    step = caller.start(
        f"/twilio/voice/outbound?kind=prompt&member={voice_member.id}&occurrence=x", AnsweredBy="human"
    )
    assert "Lee" not in step.text and step.hung_up


@pytest.mark.parametrize(
    "kind, spanish", [("reminder", False), ("change", False), ("reminder", True), ("change", True)]
)
def test_spoken_reminder_and_change_notice_name_the_planned_meeting(
    twilio, settings, db, group, voice_member, spanish_voice_member, kind, spanish
):
    from datetime import time

    from checkin.schedules import cancel_occurrence, next_meeting, set_schedule
    from checkin.voice.speech import spoken_when

    who = spanish_voice_member if spanish else voice_member
    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(19, 0),
            duration_minutes=90,
            location="12 Main Street",
        )
        occ = next_meeting(s, group.id, utcnow())
        if kind == "change":
            cancel_occurrence(s, group.id, occ.key)
    caller = placed_call(twilio, settings, who.phone)
    asks_who(
        caller.start(
            f"/twilio/voice/outbound?kind={kind}&member={who.id}&occurrence={occ.key}", AnsweredBy="human"
        ),
        who.first_name,
        "es" if spanish else "en",
    )
    step = caller.press("1")
    # The member's zone differs from the group's here: the meeting's clock (a room in New York), its
    # place said, so that nobody arrives an hour off.
    assert who.timezone != group.timezone and occ.local_start.hour == 19
    when = spoken_when(occ.local_start, "es" if spanish else "en")
    when += " hora de Nueva York" if spanish else " New York time"
    if spanish:
        expected = (
            f"Un aviso: tu próxima reunión es {when}. Es en 12 Main Street."
            if kind == "reminder"
            else f"La reunión programada para {when} queda cancelada."
        )
        assert step.said[:2] == ["Hola Rosa, habla Checkin de Tuesday Group.", expected]
    else:
        expected = (
            f"A reminder: your next meeting is {when}. It meets at 12 Main Street."
            if kind == "reminder"
            else f"The meeting on {when} is canceled."
        )
        assert step.said[:2] == ["Hi Lee, this is Checkin for Tuesday Group.", expected]
    spoken_in(step, "es" if spanish else "en")
    assert step.find("Gather") is not None


def test_a_crisis_said_on_a_check_in_call_we_placed_is_escalated_and_connected(
    twilio, settings, db, group, voice_member
):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana", "dana@example.org", "facilitator", "+12025550201", [group.name])
    caller = placed_call(twilio, settings, voice_member.phone)
    caller.start(
        f"/twilio/voice/outbound?kind=prompt&member={voice_member.id}&occurrence={OCCURRENCE}",
        AnsweredBy="human",
    )
    caller.say("yes")
    step = caller.say("one, I am going to kill myself tonight")
    assert step.said[:2] == [
        "If you are in danger now, hang up and call 9 1 1.",
        "We hear you. We are letting the on-call facilitator know now.",
    ]
    assert "9 8 8" in step.said[2] and caller.dialled() == CRISIS_LINE
    step = caller.press("3")  # a facilitator instead, rung from the group's number
    dial = step.find("Dial")
    assert dial.findtext("Number") == "+12025550201" and dial.get("callerId") == FROM_NUMBER
    from checkin.escalation.models import Escalation

    [esc] = row(db, Escalation)
    assert esc.level == "crisis" and esc.member_id == voice_member.id


def test_a_spanish_answering_machine_hears_spanish(twilio, settings, db, group):
    from checkin.directory import add_member

    with db.session() as s:
        rosa = add_member(s, group.name, "+12025550113", "Rosa Medina", "es", None, "voice")
    step = placed_call(twilio, settings, rosa.phone).start(
        f"/twilio/voice/outbound?kind=reminder&member={rosa.id}&occurrence=x", AnsweredBy="machine_start"
    )
    assert step.said == ["Hola, habla Checkin. Por favor, llámanos al 5 0 0, 5 5 5, 0 0 0 6. Adiós."]
    assert step.find("Say").get("language") == "es-US" and step.hung_up


def test_no_retry_once_the_check_in_is_answered(db, voice_member):
    """Nobody picked up, but the member texted their score meanwhile: no second call."""
    now = utcnow()
    with db.session() as s:
        item, _ = outbox.add(
            s,
            "prompt:answered",
            to=voice_member.phone,
            twiml_url="https://x/twilio/voice/outbound?kind=prompt",
            channel="voice",
            purpose="prompt",
            member_id=voice_member.id,
        )
        s.add(
            CheckIn(
                member_id=voice_member.id,
                prompt_key="prompt:answered",
                prompted_at=now,
                state="answered",
                score=3,
            )
        )
        s.flush()
        outbound.on_call_status(
            s, item, StatusUpdate(sid="CA" + "f" * 32, status="failed", call_status="busy"), now=now
        )
        assert (
            s.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == "prompt:answered:call1")) is None
        )
        assert s.scalar(select(CheckIn)).state == "answered"


@pytest.mark.parametrize(
    "answers, spanish",
    [(["2"], False), (["no, he's at work"], False), (["-", "-"], False), (["no"], True), (["-", "7"], True)],
)
def test_someone_else_who_answers_learns_nothing_about_the_group(
    twilio, settings, db, voice_member, spanish_voice_member, answers, spanish
):
    """A family member picks up (AnsweredBy human, or AMD unsure): asked for the member by name, they say
    no, say nothing or press something else; they hear a neutral message and the call ends."""
    who = spanish_voice_member if spanish else voice_member
    lang = "es" if spanish else "en"
    caller = placed_call(twilio, settings, who.phone)
    step = caller.start(
        f"/twilio/voice/outbound?kind=prompt&member={who.id}&occurrence={OCCURRENCE}",
        AnsweredBy="unknown" if spanish else "human",
    )
    asks_who(step, who.first_name, lang)
    for answer in answers:
        step = (
            caller.silence()
            if answer == "-"
            else caller.press(answer)
            if answer.isdigit()
            else caller.say(answer)
        )
    assert step.hung_up and step.said[-1] == (
        "Gracias. Por favor, pide a Rosa que llame a Checkin al 5 0 0, 5 5 5, 0 0 0 6. Adiós."
        if spanish
        else "Thank you. Please ask Lee to call Checkin back at 5 0 0, 5 5 5, 0 0 0 6. Goodbye."
    )
    heard = " ".join(" ".join(s.said) for s in caller.heard)
    assert not any(word in heard for word in PRIVATE), heard
    spoken_in(step, lang)
    # Nothing they said is kept or read as the member's words.
    assert row(db, Message) == [] and row(db, CheckIn) == []


@pytest.mark.parametrize("spanish", [False, True])
def test_help_now_on_a_call_we_placed_pages_and_connects_the_crisis_line_through_twilio(
    live_app, fake_twilio, db, group, voice_member, spanish_voice_member, spanish
):
    """9 on a check-in call placed through the loopback Twilio: the facilitator is paged at crisis level,
    the TwiML <Dial>s the configured crisis line, and Twilio's child leg and Dial action are followed:
    unreachable, then the on-call facilitator is rung; reached, the call ends."""
    from checkin.directory import add_staff
    from checkin.escalation.models import Escalation

    with db.session() as s:
        add_staff(s, "Dana", "dana@example.org", "facilitator", "+12025550201", [group.name])
    who = spanish_voice_member if spanish else voice_member
    lang = "es" if spanish else "en"
    rt = live_app
    plan_call(rt, who, kind="reminder")
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    status, twiml = fake_twilio.answer_call(call["sid"], "human")
    caller = walker(rt, who, call["sid"])
    caller.resume(twiml)
    caller.press("1")  # it is them
    step = caller.say("ayuda") if spanish else caller.press("9")
    assert step.said[0] == (
        "Si estás en peligro ahora, cuelga y llama al 9 1 1."
        if spanish
        else "If you are in danger now, hang up and call 9 1 1."
    )
    assert step.find("Dial").findtext("Number") == CRISIS_LINE
    spoken_in(step, lang)
    [esc] = row(db, Escalation)
    assert esc.level == "crisis" and esc.member_id == who.id
    with db.session() as s:
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
        assert {(a.to_number, a.channel) for a in alerts} >= {
            ("+12025550201", "sms"),
            ("+12025550201", "voice"),
        }
    # The crisis line does not answer: Twilio posts the Dial's action; the facilitator is rung next.
    twiml_now = ET.tostring(step.root, encoding="unicode")
    code, body, leg = fake_twilio.follow_dial(call["sid"], twiml_now, "no-answer")
    assert code == 200
    child = fake_twilio.call(leg)
    assert (child["to"], child["from"], child["parent_call_sid"], child["direction"]) == (
        CRISIS_LINE,
        FROM_NUMBER,  # the parent's From: our number, as Twilio passes it on a call we placed
        call["sid"],
        "outbound-dial",
    )
    step = caller.resume(body)
    assert "9 8 8" in step.said[0] and step.find("Dial").findtext("Number") == "+12025550201"
    spoken_in(step, lang)
    # Had it answered: they talk, and when they are done the call ends.
    caller.resume(twiml_now)
    code, body, leg = fake_twilio.follow_dial(call["sid"], twiml_now, "completed", duration=600)
    assert code == 200 and caller.resume(body).hung_up
    assert fake_twilio.call(leg)["status"] == "completed" and fake_twilio.call(leg)["duration"] == "600"

"""The call flow: what the caller hears at each step and where their answer goes next.

Each step takes the stored call and Twilio's input and returns a Script (checkin.voice.script: what
is said and gathered), which the web app renders as TwiML (checkin.adapters.twiml).
Paths are relative to /twilio/voice; `tries` counts the answers we could not use at a step: after
two re-prompts the caller hears a polite goodbye (with 988).

  start      known caller: greeting + menu (9 or "help": help now, offered first; 1 check in,
             2 next meeting, 3 facilitator, 8 language, 0 repeat); unknown caller: who we are,
             and a message for the coordinator
  menu       the menu's answer
  help       help now's offer: 1 / yes (or silence) the crisis line, 3 / no a facilitator
  crisisline after ringing the crisis line: talked (the call ends), or the on-call facilitators
  score      1-5 by key or voice; then PHQ-9 item 9 (if the group asks it) and a message
  phq9       0-3 by keypad; 1 or more is urgent
  recorded   the check-in's message: recorded (English) or heard by speech recognition (Spanish)
  dial       after ringing facilitator n: the next one, or a voice message and an urgent escalation
  message    the voice message left when nobody answered (recorded, or heard in Spanish)
  unknown    an unknown caller's language choice / recorded message
  outbound   a call we placed: who answered is asked whether they are the member first; a machine
             or anyone else hears no group name and nothing about health

Help now (9, "help", or a crisis heard anywhere) says "hang up and call 9 1 1" first, pages the
on-call facilitator through the escalation path at crisis level, and offers the crisis line
(config/voice.toml crisis_line.number, the Lifeline's ten-digit number by default): its <Dial>
follows the offer in the same TwiML, so a caller who stays silent is connected without another
webhook. Every way a call ends without a person on the line says how to reach 988, and 988 is said
before any recording's tone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from checkin.announcements.models import Announcement
from checkin.escalation import service as escalation
from checkin.models import Group, Member
from checkin.voice import calls, meetings, speech
from checkin.voice.calls import CallInput
from checkin.voice.config import VoiceConfig
from checkin.voice.models import VoiceCall
from checkin.voice.script import Script

MAX_TRIES = 2
MESSAGE_PAUSE = 3  # seconds of silence that end a spoken message
OUTBOUND_KINDS = ("reminder", "prompt", "nudge", "change", "announcement")
CONCERNING = ("urgent", "crisis")
HELP = ("crisis", "voice.help_request")  # an explicit request for help, by key or word: paged as a crisis


@dataclass
class Turn:
    """One webhook's work: the session, the call, what Twilio sent, and the script being written."""

    session: Session
    cfg: VoiceConfig
    base: str  # public URL of /twilio/voice
    ctx: escalation.Context
    now: datetime
    call: VoiceCall
    inp: CallInput
    member: Member | None = None
    group: Group | None = None
    response: Script = field(default_factory=Script)
    # Prompts that lead into the next question: said inside its <Gather>, so a key interrupts them.
    preface: list[tuple[str, dict]] = field(default_factory=list)

    @property
    def lang(self) -> str:
        return self.call.language

    def url(self, step: str, **query) -> str:
        return f"{self.base}/{step}" + (f"?{urlencode(query)}" if query else "")

    def say(
        self, key: str, into=None, language: str | None = None, voice_of: str | None = None, **values
    ) -> None:
        """Say a prompt in `language` (default: the call's), in the voice of `voice_of` (default: the same)."""
        lang = language or self.lang
        (into if into is not None else self.response).say(
            self.cfg.text(key, lang, **values), **self.cfg.say_attrs(voice_of or lang)
        )

    def lead(self, key: str, **values) -> None:
        self.preface.append((key, values))

    def flush(self, into=None) -> None:
        for key, values in self.preface:
            self.say(key, into=into, **values)
        self.preface.clear()

    def gather(self, step: str, tries: int, *, speech_too: bool = True, **query):
        """A one-key (or short spoken) answer; silence comes back to the same step without input."""
        hints = {"hints": speech.HINTS[self.lang]} if speech_too else {}
        return self._gather(self.url(step, tries=tries, **query), speech_too=speech_too, **hints)

    def _gather(self, action: str, *, speech_too: bool, then: str = "redirect", **options):
        options.update(
            input="dtmf speech" if speech_too else "dtmf",
            num_digits=1,
            action=action,
            method="POST",
            timeout=self.cfg.gather_timeout,
        )
        if speech_too:
            options.setdefault("speech_timeout", "auto")
            options.update(language=self.cfg.languages[self.lang])
        gather = self.response.gather(**options)
        self.flush(into=gather)
        if then == "redirect":  # silence comes back to the same step, without input
            self.response.redirect(action, method="POST")
        return gather

    def take_message(self, step: str, prompt: str) -> bool:
        """Say `prompt` and take a member's message for `step`: True if it is heard by speech
        recognition (a Gather: silence comes back to `step` without input), False if recorded
        (what follows plays when nothing was recorded).

        Twilio transcribes recordings in English only, and words nobody can read are words nobody
        assesses: so a message said in Spanish is heard by speech recognition instead, assessed at
        once like speech at the menu (no audio is kept). No hints: it is free speech, not a menu
        word. Once speech is heard Twilio ignores keys, so # only ends a message not yet begun."""
        if self.member is None or self.lang != "es":
            self.flush()
            self.say(prompt)
            self.record(step)
            return False
        self.lead(prompt)
        # "auto" ends at the first pause, which suits a menu word; someone talking about their week
        # pauses to think, so a message ends only after MESSAGE_PAUSE seconds of silence.
        self._gather(self.url(step), speech_too=True, speech_timeout=MESSAGE_PAUSE)
        return True

    def record(self, step: str) -> None:
        """Up to record_max seconds, ended by #. A member's (English) message is also transcribed, and
        the text assessed like a text; an unknown caller's goes to the coordinators as audio."""
        options = {
            "max_length": self.cfg.record_max,
            "finish_on_key": "#",
            "play_beep": True,
            "action": self.url(step),
            "method": "POST",
            "trim": "trim-silence",
        }
        if self.member is not None and self.lang == "en":
            options.update(transcribe=True, transcribe_callback=self.url("transcribed", of=step))
        self.response.record(**options)

    def connect_crisis_line(self) -> Script:
        """Say so, and <Dial> the configured crisis line. No callerId: Twilio passes on the caller's
        own number on a call they made (the Lifeline routes by it and can call back), ours on one we placed."""
        self.flush()
        self.say("crisis_line_connecting")
        self.response.dial(
            action=self.url("crisisline"), method="POST", timeout=self.cfg.crisis_line_timeout
        ).number(self.cfg.crisis_line)
        return self.response

    def goodbye(self, key: str = "goodbye", **values) -> Script:
        self.flush()
        self.say(key, **values)
        self.response.hangup()
        return self.response


def _names(turn: Turn) -> dict[str, str]:
    return _names_of(turn.member, turn.group)


def _names_of(member: Member, group: Group | None) -> dict[str, str]:
    return {"name": member.first_name, "group": group.name if group else "Checkin"}


def _retry(turn: Turn, tries: int, again) -> Script:
    """An answer we could not use: say so and ask again, at most twice, then a polite goodbye."""
    turn.lead("not_understood")
    if tries >= MAX_TRIES:
        return turn.goodbye()
    return again(tries + 1)


# --- start and menu ------------------------------------------------------------------------------


def start(turn: Turn) -> Script:
    if turn.member is None:
        return unknown_start(turn)
    turn.lead("greeting", **_names(turn))
    return menu_prompt(turn, 0)


def menu_prompt(turn: Turn, tries: int) -> Script:
    gather = turn.gather("menu", tries)
    turn.say("menu", into=gather)
    # The offer to switch is worded in the other language, so it is said by that language's voice.
    turn.say("switch", into=gather, voice_of="es" if turn.lang == "en" else "en")
    return turn.response


def menu(turn: Turn, tries: int) -> Script:
    choice = speech.menu_choice(turn.inp.digits, turn.inp.speech)
    if turn.inp.speech:
        # Whatever a member says is assessed like a text, menu word or not; "help" is paged as a crisis.
        said = calls.heard(
            turn.session,
            turn.call,
            turn.member,
            f"menu{tries}",
            turn.inp.speech,
            now=turn.now,
            ctx=turn.ctx,
            raise_to=HELP if choice == "9" else None,
        )
        if choice == "9":
            return help_now(turn, "help")
        if said.level in CONCERNING:
            return concerning(turn, said.level)
    if choice == "1":
        return score_prompt(turn, 0)
    if choice == "2":
        meeting = meetings.next_for(turn.session, turn.group, turn.now)
        if meeting is None:
            turn.lead("no_meeting")
        else:
            turn.lead(
                "meeting", **meetings.words(turn.cfg, meeting, turn.lang, turn.member.effective_timezone)
            )
        return menu_prompt(turn, 0)
    if choice == "3":
        turn.say("connecting")
        return dial(turn, -1)
    if choice == "8":
        turn.call.language = "es" if turn.lang == "en" else "en"
        return menu_prompt(turn, 0)
    if choice == "9":
        calls.heard(
            turn.session,
            turn.call,
            turn.member,
            "help",
            "(pressed 9: help now)",
            now=turn.now,
            ctx=turn.ctx,
            raise_to=HELP,
        )
        return help_now(turn, "help")
    if choice == "0":
        return menu_prompt(turn, 0)
    return _retry(turn, tries, lambda t: menu_prompt(turn, t))


def concerning(turn: Turn, level: str) -> Script:
    """What was said is concerning (the case is open, its alerts written): a crisis gets help now;
    urgent (PHQ-9 item 9, urgent words) hears 911 first, 988, and is put through to a facilitator."""
    if level == "crisis":
        return help_now(turn, "crisis")
    if not _someone_told(turn):
        return help_now(turn, "help")  # nobody to ring: the crisis line is the person on offer
    turn.preface.clear()  # nothing comes before the reply
    turn.say("danger")  # before anything asks them to stay on the line
    turn.say("urgent")
    turn.say("connecting")
    return dial(turn, -1)


def _someone_told(turn: Turn) -> bool:
    """Whether the member's open case has paged anyone: "we are letting the facilitator know" must
    be true, or not be said."""
    if turn.member is None:
        return False
    return escalation.anyone_told(turn.session, escalation.live_for(turn.session, turn.member.id))


def help_now(turn: Turn, why: str) -> Script:
    """9, "help", or a crisis heard (the case is already open at crisis, its alerts written): "hang up
    and call 9 1 1" first; the on-call facilitator is being told (true: the alert is going out, no
    call-back time promised); then the crisis line: 1 or yes connects at once, 3 or no rings the
    facilitators instead, and silence falls through to the <Dial> that follows the offer."""
    turn.preface.clear()  # nothing comes before the crisis reply
    turn.say("danger")
    if not _someone_told(turn):
        turn.say("unheard")
    else:
        turn.say("crisis" if why == "crisis" else "help_now")
    gather = turn._gather(
        turn.url("help"), speech_too=True, then="fall through", hints=speech.HELP_HINTS[turn.lang]
    )
    turn.say("crisis_line_offer", into=gather)
    return turn.connect_crisis_line()


def help_choice(turn: Turn) -> Script:
    """The answer to help now's offer. Words are assessed like any (they are stored with the case)."""
    if turn.inp.speech:
        calls.heard(
            turn.session, turn.call, turn.member, "help-said", turn.inp.speech, now=turn.now, ctx=turn.ctx
        )
    wants_line = speech.yes_or_no(turn.inp.digits, turn.inp.speech, yes="1", no="3")
    if wants_line is None and speech.menu_choice("", turn.inp.speech) == "3":
        wants_line = False  # "facilitator", "talk to a person"
    if wants_line is False:
        turn.say("connecting")
        return dial(turn, -1)
    return turn.connect_crisis_line()  # 1, yes, or anything else: a person now


def crisis_line(turn: Turn) -> Script:
    """After the crisis line rang: they talked (the call is over), or it could not be reached and
    the on-call facilitators are rung (then a message, as for 3)."""
    if turn.inp.dial_status == "completed":
        turn.response.hangup()
        return turn.response
    turn.say("crisis_line_failed")
    turn.say("connecting")
    return dial(turn, -1)


# --- check in ------------------------------------------------------------------------------------


def score_prompt(turn: Turn, tries: int) -> Script:
    turn.say("score", into=turn.gather("score", tries))
    return turn.response


def score(turn: Turn, tries: int) -> Script:
    value = speech.score(turn.inp.digits, turn.inp.speech)
    said_words = turn.inp.speech.strip()
    if value is None and not said_words:
        return _retry(turn, tries, lambda t: score_prompt(turn, t))
    if value is None:
        body = said_words
    elif not said_words or speech.is_only_a_number(said_words):
        body = str(value)
    else:
        body = f"{value}: {said_words}"  # the score first, so it is read as one, then their words
    said = calls.heard(
        turn.session, turn.call, turn.member, f"score{tries}", body, now=turn.now, ctx=turn.ctx
    )
    calls.link_checkin(turn.session, turn.call, said.message)
    if said.level in CONCERNING:
        return concerning(turn, said.level)
    if value is None:
        return _retry(turn, tries, lambda t: score_prompt(turn, t))
    if calls.asks_phq9(turn.session, turn.call.group_id):
        return phq9_prompt(turn, 0)
    return record_prompt(turn)


def phq9_prompt(turn: Turn, tries: int) -> Script:
    turn.say("phq9", into=turn.gather("phq9", tries, speech_too=False))
    return turn.response


def phq9(turn: Turn, tries: int) -> Script:
    digits = turn.inp.digits.strip()
    if digits not in ("0", "1", "2", "3"):
        return _retry(turn, tries, lambda t: phq9_prompt(turn, t))
    answer = int(digits)
    said = calls.heard(
        turn.session,
        turn.call,
        turn.member,
        "phq9",
        f"(PHQ-9 item 9 answered {answer} of 3)",
        now=turn.now,
        ctx=turn.ctx,
        raise_to=("urgent", "voice.phq9_item9") if answer >= 1 else None,
    )
    if said.level in CONCERNING:
        return concerning(turn, said.level)
    return record_prompt(turn)


def record_prompt(turn: Turn) -> Script:
    if turn.take_message("recorded", "record"):
        return turn.response
    # No recording (silence, or nothing before the pound key): Twilio carries on here.
    return turn.goodbye("saved", name=turn.member.first_name)


def recorded(turn: Turn) -> Script:
    """The check-in's message: a recording (English), or the words heard (Spanish); nothing is fine too."""
    if turn.inp.recording_url:
        calls.attach_recording(turn.session, turn.call, turn.inp.recording_url)
    words = turn.inp.speech.strip()
    if words:
        said = _message_words(turn, "spoken-recorded", words, of="recorded")
        if said.level in CONCERNING:
            return concerning(turn, said.level)
    return turn.goodbye("saved", name=turn.member.first_name)


def _message_words(turn: Turn, step: str, text: str, *, of: str) -> calls.Heard:
    """A member's message in words (Twilio's transcript, or Spanish speech heard at once): assessed
    like a text, so a crisis in it is escalated too; a check-in's message becomes its words."""
    said = calls.heard(turn.session, turn.call, turn.member, step, text, now=turn.now, ctx=turn.ctx)
    if of == "recorded" and said.level not in CONCERNING:
        calls.transcript_words(turn.session, turn.call, text)
    return said


# --- a facilitator, now -------------------------------------------------------------------------


def dial(turn: Turn, after: int, asked: int | None = None) -> Script:
    """Ring the group's on-call facilitators one after another; `after` is the one who just rang.
    `asked` (epoch seconds, carried in the action URL) is when the member asked: the list is the
    rota's at that instant on every step, so a shift ending mid-ring neither skips nor repeats anyone."""
    if turn.inp.dial_status == "completed" and after >= 0:
        turn.response.hangup()  # they talked; the call is over
        return turn.response
    if asked is None:
        asked = int(turn.now.timestamp())
    people = calls.facilitators_on_call(turn.session, turn.call.group_id, datetime.fromtimestamp(asked, UTC))
    following = after + 1
    turn.flush()
    if following < len(people):
        group = turn.group
        # The group's number, else the number this call is on (ours: To when they called, From when we did).
        ours = turn.inp.from_number if turn.call.direction == "outbound" else turn.inp.to_number
        caller_id = (group.phone_number if group else None) or ours or None
        options = {
            "action": turn.url("dial", n=following, at=asked),
            "method": "POST",
            "timeout": turn.cfg.dial_timeout,
        }
        if caller_id:
            options["caller_id"] = caller_id
        turn.response.dial(**options).number(people[following].phone)
        return turn.response
    # Nobody answered: the case opens now, before the caller records anything.
    calls.heard(
        turn.session,
        turn.call,
        turn.member,
        "nobody",
        "(asked to talk to a facilitator by phone; nobody answered)",
        now=turn.now,
        ctx=turn.ctx,
        raise_to=("urgent", "voice.no_facilitator_answered"),
    )
    # The case is open (urgent) and the facilitator who calls back would rather hear the audio. An
    # English recording's transcript is assessed after the call and can raise the case to crisis (a
    # wider circle, alert calls); a Spanish recording is never transcribed, so it could not. A Spanish
    # speaker's message is therefore heard as words (see take_message), which the facilitator reads in the case.
    if turn.take_message("message", "nobody"):
        return turn.response
    return turn.goodbye("callback" if _someone_told(turn) else "callback_unheard")


def transcribed(turn: Turn, of: str) -> None:
    """Twilio's transcript of a member's recorded message, after the call."""
    text = turn.inp.transcript.strip()
    if text and turn.member is not None:
        _message_words(turn, f"transcript-{of}", text, of=of)


def message(turn: Turn) -> Script:
    """The message left when nobody answered: a recording, or the words heard (Spanish)."""
    if turn.inp.recording_url:
        calls.note_voicemail(turn.session, turn.call, turn.member, turn.now, url=turn.inp.recording_url)
    words = turn.inp.speech.strip()
    if words:
        said = _message_words(turn, "spoken-message", words, of="message")
        calls.note_voicemail(turn.session, turn.call, turn.member, turn.now, message=said.message)
        if said.level == "crisis":
            # The case is raised to crisis (heard() did it); nobody answered, so the crisis line is offered.
            return help_now(turn, "crisis")
    return turn.goodbye("callback" if _someone_told(turn) else "callback_unheard")


# --- unknown callers: who we are, and a message for the coordinator -----------------------------


def unknown_start(turn: Turn) -> Script:
    gather = turn.response.gather(
        input="dtmf", num_digits=1, timeout=2, action=turn.url("unknown", choose=1), method="POST"
    )
    # The offer of Spanish comes first: a Spanish speaker on a phone we do not know can press 8
    # at once, rather than only in the two seconds after the English prompt.
    turn.say("switch", into=gather, language="en", voice_of="es")
    turn.say("unknown", into=gather, language="en")
    return _unknown_record(turn)


def unknown(turn: Turn, choosing: bool) -> Script:
    if choosing:
        if turn.inp.digits.strip() == "8":
            turn.call.language = "es"
            turn.say("unknown")
        return _unknown_record(turn)
    if turn.inp.recording_url:
        calls.tell_coordinators(turn.session, turn.call, turn.inp.from_number, turn.inp.recording_url)
    return turn.goodbye("unknown_saved")


def _unknown_record(turn: Turn) -> Script:
    # Recorded in either language: a caller who is not a member has nobody to escalate for (only
    # members' words are assessed), and the coordinators are texted the audio to listen to.
    turn.record("unknown")
    return turn.goodbye("unknown_saved")


# --- calls we placed ----------------------------------------------------------------------------


def is_machine(answered_by: str) -> bool:
    answered_by = (answered_by or "").lower()
    return answered_by.startswith("machine") or answered_by == "fax"


def outbound(
    turn: Turn, kind: str, occurrence: str | None, number: str, confirm: int | None = None
) -> Script:
    """A call we placed. A machine (or anyone at a number that is no longer this member's) hears only
    who called and the number to call back. A person is first asked whether they are the member
    ("This is a call for Ben. Ben, press 1 or say yes"): a family member who answers learns nothing
    about the group. `confirm` is None when the call is answered, then the tries at the question."""
    spoken = speech.spoken_number(number)
    if turn.member is None or turn.member.phone != turn.inp.to_number or is_machine(turn.inp.answered_by):
        return turn.goodbye("machine", number=spoken)
    if confirm is None:
        return _confirm_prompt(turn, kind, occurrence, 0)
    answer = speech.yes_or_no(turn.inp.digits, turn.inp.speech)
    if answer is None and confirm < 1:
        turn.lead("not_understood")
        return _confirm_prompt(turn, kind, occurrence, confirm + 1)
    if not answer:  # not them, or still no answer: a neutral message, no group, no 988
        turn.preface.clear()
        return turn.goodbye("not_there", name=turn.member.first_name, number=spoken)
    said = opening(
        turn.cfg,
        turn.lang,
        turn.member,
        turn.group,
        kind,
        meeting=lambda: meetings.find(turn.session, turn.group, occurrence, turn.now),
        announcement=lambda: _announcement_text(turn, occurrence),
    )
    for key, values in said:
        turn.lead(key, **values)
    if kind in ("prompt", "nudge"):
        turn.gather("score", 0)  # the question was led: it is said inside the gather, as score_prompt does
        return turn.response
    return menu_prompt(turn, 0)


def opening(
    cfg: VoiceConfig,
    lang: str,
    member: Member,
    group: Group | None,
    kind: str,
    *,
    meeting: Callable[[], object | None],
    announcement: Callable[[], str | None] = lambda: None,
) -> list[tuple[str, dict]]:
    """What a member hears on a call we placed once they said it is them, as (prompt key, values):
    who is calling, then what the call is for: the check-in question, the announcement, or the meeting
    a reminder or change notice is about (`meeting` finds it, only for those kinds; `announcement` gives
    the announcement's words). The console's plan preview says these very words (webhooks/console/views_plan)."""
    said = [("intro", _names_of(member, group))]
    if kind in ("prompt", "nudge"):
        return [*said, ("score", {})]
    if kind == "announcement":
        text = announcement()
        return [*said, ("announcement", {"group": group.name, "text": text})] if text else said
    found = meeting()
    if found is None:
        return [*said, ("reminder_plain", {})]
    key = "cancelled" if found.status == "cancelled" else "change" if kind == "change" else "reminder"
    return [*said, (key, meetings.words(cfg, found, lang, member.effective_timezone))]


def _announcement_text(turn: Turn, announcement_id: str | None) -> str | None:
    """The announcement's words in the call's language (English when it has no Spanish text); only
    one of the call's own group (the id comes from the call's URL)."""
    if turn.group is None or not (announcement_id or "").isdigit():
        return None
    found = turn.session.get(Announcement, int(announcement_id))
    if found is None or found.group_id != turn.group.id:
        return None
    return (found.text_es if turn.lang == "es" else None) or found.text_en


def _confirm_prompt(turn: Turn, kind: str, occurrence: str | None, tries: int) -> Script:
    query = {"kind": kind, "member": turn.member.id, "occurrence": occurrence or "", "confirm": tries}
    gather = turn._gather(
        turn.url("outbound", **query), speech_too=True, hints=speech.YES_NO_HINTS[turn.lang]
    )
    turn.say("confirm", into=gather, name=turn.member.first_name)
    return turn.response

"""Voice text and configuration: every prompt short enough to hear in under 20 seconds, both
languages complete, a bad config/voice.toml named precisely; and `checkin simulate call`."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checkin.voice import speech
from checkin.voice.config import LANGUAGES, PATH, PROMPTS, VoiceConfigError, load_file, parse

CHECKIN = str(Path(sys.executable).parent / "checkin")
WORDS_PER_MINUTE = 150  # a calm speaking pace; slower than most text-to-speech voices
# Long but plausible values for the placeholders, so the longest real prompt is what is timed.
LONGEST = {
    "name": "Maximiliano",
    "group": "Tuesday Evening Peer Support Group",
    "place": "the community room at 1200 Main Street",
    "dial_in": "5 5 5, 2 0 2, 0 1 0 1",
    "number": "2 0 2, 5 5 5, 0 1 0 1",
    # An announcement's words are the coordinator's, read whole however long; the prompt around them is timed.
    "text": "No meeting tonight.",
}


def seconds_aloud(text: str) -> float:
    return len(text.split()) / WORDS_PER_MINUTE * 60


def _doc():
    with open(PATH, "rb") as fh:
        return tomllib.load(fh)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_prompt_is_under_20_seconds_read_aloud(language):
    cfg = load_file()
    when = speech.spoken_when(datetime(2026, 9, 30, 19, 30, tzinfo=ZoneInfo("America/New_York")), language)
    where = cfg.text("meeting_place", language, place=LONGEST["place"])
    values = dict(LONGEST, when=when, where=where)
    timed = {key: seconds_aloud(cfg.text(key, language, **values)) for key in PROMPTS}
    too_long = {key: round(s, 1) for key, s in timed.items() if s >= 20}
    assert too_long == {}
    # The menu a caller hears first, with the greeting and the language offer, also fits.
    first = " ".join(cfg.text(k, language, **values) for k in ("greeting", "menu", "switch"))
    assert seconds_aloud(first) < 20


def test_spanish_is_spoken_with_es_us_and_the_configured_voices():
    cfg = load_file()
    assert cfg.languages == {"en": "en-US", "es": "es-US"}
    assert cfg.voices["es"] and cfg.voices["en"]


# Prompts that end a call with nobody on the line, or come before a recording's tone: each says
# how to reach 988 (in Spanish: call and press 2). The machine and "not there" messages do not:
# they may be heard by someone other than the member.
SAYS_988 = (
    "goodbye",
    "saved",
    "record",
    "urgent",
    "nobody",
    "callback",
    "failsafe",
    "crisis_line_offer",
    "crisis_line_failed",
    "unknown",
    "unknown_saved",
)
SAYS_HANG_UP_AND_911 = ("danger", "nobody", "unknown")
PRIVATE = ("988", "911", "support group", "grupo de apoyo", "{group}", "crisis", "help", "ayuda")


@pytest.mark.parametrize("language", LANGUAGES)
def test_988_and_911_are_said_digit_by_digit_wherever_a_call_can_end(language):
    cfg = load_file()
    values = dict(LONGEST, when="Tuesday", where="")
    said = {key: cfg.text(key, language, **values) for key in PROMPTS}
    # Never as a whole number: a voice reads "988" as "nine hundred eighty-eight".
    assert [key for key, text in said.items() if re.search(r"\b(988|911)\b", text)] == []
    for key in SAYS_988:
        assert "9 8 8" in said[key], key
        if language == "es" and key != "crisis_line_offer":
            assert re.search(r"al 9 8 8 y oprim(e|ir) 2", said[key]), key
    for key in SAYS_HANG_UP_AND_911:
        assert ("cuelga y llama al 9 1 1" if language == "es" else "hang up and call 9 1 1") in said[key]
    # Nothing promises a call back that a 60-minute policy step cannot keep.
    assert not any("call you back" in text or "te llamará" in text for text in said.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_what_a_machine_or_an_unconfirmed_pickup_hears_names_no_group_and_no_help(language):
    cfg = load_file()
    for key in ("machine", "confirm", "not_there"):
        raw = cfg.prompts[language][key].lower()
        assert not any(word in raw for word in PRIVATE), (key, raw)


def test_aloud_leaves_longer_numbers_and_times_alone():
    assert speech.aloud("call or text 988, or 911.") == "call or text 9 8 8, or 9 1 1."
    assert speech.aloud("llama al 988 y marca 2") == "llama al 9 8 8 y marca 2"
    for text in ("9880 Main Street", "at 9:11", "911-5555", "$9.11", "1-800-273-8255"):
        assert speech.aloud(text) == text


def test_the_crisis_line_is_the_lifelines_ten_digit_number_unless_set():
    assert load_file().crisis_line == "+18002738255"
    assert parse(_doc(), environ={"CHECKIN_CRISIS_LINE": "+1 202 555 0142"}).crisis_line == "+12025550142"
    doc = copy.deepcopy(_doc())
    doc["crisis_line"]["number"] = "988"
    with pytest.raises(
        VoiceConfigError, match="crisis_line.number: '988' is not a phone number Twilio can dial"
    ):
        parse(doc, environ={})


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["prompts"]["es"].pop("menu"), "prompts.es.menu: missing"),
        (
            lambda d: d["prompts"]["en"].update(menu="Hi {nickname}"),
            "prompts.en.menu: unknown placeholder {nickname}",
        ),
        (lambda d: d["prompts"]["en"].update(jingle="la la"), "prompts.en.jingle: unknown prompt"),
        (lambda d: d["languages"].update(es="en-US"), "languages.es: must be a es language tag"),
        (lambda d: d["voices"].pop("en"), "voices.en: missing"),
        (
            lambda d: d["calls"].update(max_concurrent=0),
            "calls.max_concurrent: must be a positive whole number",
        ),
        (
            lambda d: d["calls"].update(retry_minutes=[15, 60, 240]),
            "calls.retry_minutes: must be a list of at most two",
        ),
        (
            lambda d: d["calls"].update(dial_timeout_seconds="20"),
            "calls.dial_timeout_seconds: must be a positive whole number",
        ),
    ],
)
def test_a_bad_voice_config_names_the_key(change, message):
    doc = copy.deepcopy(_doc())
    change(doc)
    with pytest.raises(VoiceConfigError) as info:
        parse(doc, environ={})
    assert message in str(info.value) and "config/voice.toml" in str(info.value)


def test_max_concurrent_calls_from_the_environment():
    assert parse(_doc(), environ={"CHECKIN_MAX_CONCURRENT_CALLS": "7"}).max_concurrent == 7
    with pytest.raises(
        VoiceConfigError, match="CHECKIN_MAX_CONCURRENT_CALLS: must be a positive whole number"
    ):
        parse(_doc(), environ={"CHECKIN_MAX_CONCURRENT_CALLS": "lots"})


@pytest.mark.parametrize(
    "digits, words, choice",
    [
        ("1", "", "1"),
        ("7", "", None),
        ("", "Two.", "2"),
        ("", "I want to talk to someone", "3"),
        ("", "español", "8"),
        ("", "ayuda", "9"),
        ("", "help", "9"),
        ("", "I need help", "9"),
        ("", "repeat that", "0"),
        ("", "", None),
        ("", "I keep thinking about the pills in the cabinet tonight", None),
    ],
)
def test_menu_choice_by_key_or_word(digits, words, choice):
    assert speech.menu_choice(digits, words) == choice


def test_meeting_dates_are_read_in_the_callers_language():
    local = datetime(2026, 12, 8, 19, 0, tzinfo=ZoneInfo("America/New_York"))
    assert speech.spoken_when(local, "en") == "Tuesday, December 8 at 7 PM"
    assert speech.spoken_when(local, "es") == "el martes 8 de diciembre a las 7 de la noche"


@pytest.mark.parametrize(
    "hour, minute, said",
    [
        (1, 0, "a la 1 de la madrugada"),
        (9, 15, "a las 9:15 de la mañana"),
        (12, 0, "a las 12 del mediodía"),
        (13, 0, "a la 1 de la tarde"),
        (18, 30, "a las 6:30 de la tarde"),
        (19, 0, "a las 7 de la noche"),
        (0, 0, "a las 12 de la noche"),
    ],
)
def test_spanish_times_are_said_on_the_twelve_hour_clock_with_the_part_of_the_day(hour, minute, said):
    local = datetime(2026, 12, 8, hour, minute, tzinfo=ZoneInfo("America/Bogota"))
    assert speech.spoken_when(local, "es") == f"el martes 8 de diciembre {said}"


# --- the CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(env):
    return {**os.environ, **env, "MESSAGING_BACKEND": "console"}


def run(env, *args):
    return subprocess.run([CHECKIN, *args], env=env, capture_output=True, text=True, timeout=300)


def test_simulate_call_walks_a_check_in_against_the_running_server(live_app, cli_env, member, db):
    env = dict(cli_env, PUBLIC_BASE_URL=live_app.settings.public_base_url)
    result = run(env, "simulate", "call", "--from", member.phone, "--digits", "1,4,#")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "  caller hears: Hi Sam. This is Checkin for Tuesday Group."
    assert "  > presses 4" in lines and "  > records a message, presses #" in lines
    assert lines[-2:] == [
        "  caller hears: Thank you, Sam. Your check-in is saved. You can call or text 9 8 8 any time. Goodbye.",
        "  (call ends)",
    ]
    # Only what is heard: the goodbye after <Record> (played when nothing is recorded) is not printed early.
    assert result.stdout.count("Your check-in is saved") == 1
    from sqlalchemy import select

    from checkin.checkins import CheckIn
    from checkin.voice.models import VoiceCall

    with db.session() as s:
        assert s.scalar(select(CheckIn)).score == 4
        # The call ends as Twilio would end it: the final status, so no call is left "in progress".
        call = s.scalar(select(VoiceCall))
        assert call.status == "completed" and call.ended_at is not None


def test_simulate_call_with_words(live_app, cli_env, member):
    env = dict(cli_env, PUBLIC_BASE_URL=live_app.settings.public_base_url)
    result = run(
        env, "simulate", "call", "--from", member.phone, "--say", "I am going to kill myself tonight"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    said = lines.index("  > says: I am going to kill myself tonight")
    # 911 first, then who is being told (here nobody: this test has no staff, so no promise), then the
    # crisis line's offer (no input left: the caller hangs up).
    assert lines[said + 1 : said + 4] == [
        "  caller hears: If you are in danger now, hang up and call 9 1 1.",
        "  caller hears: No facilitator can be reached right now. The crisis line can help you.",
        "  caller hears: To talk with someone at the 9 8 8 crisis line now, press 1 or say yes, "
        "or stay on the line. To try a facilitator instead, press 3.",
    ]


def test_simulate_call_bad_number_and_nothing_listening(cli_env):
    result = run(cli_env, "simulate", "call", "--from", "hello")
    assert (
        result.returncode != 0
        and "'hello' is not a phone number" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = run(
        dict(cli_env, PUBLIC_BASE_URL="http://127.0.0.1:9"), "simulate", "call", "--from", "+12025550101"
    )
    assert result.returncode == 1 and "cannot reach the service" in result.stderr


def test_phq9_switch_per_group(runtime, cli_env, group, db):
    from checkin.voice.calls import asks_phq9

    result = run(cli_env, "voice", "phq9", "--group", group.name, "on")
    assert result.returncode == 0, result.stderr
    with db.session() as s:
        assert asks_phq9(s, group.id)
    result = run(cli_env, "voice", "phq9", "--group", "Nope", "off")
    assert result.returncode == 1 and "no group named 'Nope'" in result.stderr

"""config/voice.toml: prompts per language, voice names, and how calls are placed. Validated once."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from checkin.phones import InvalidPhone, normalize_phone
from checkin.voice.speech import aloud
from config import CONFIG_DIR, ConfigError

LANGUAGES = ("en", "es")
PATH = CONFIG_DIR / "voice.toml"
MAX_CONCURRENT_ENV = "CHECKIN_MAX_CONCURRENT_CALLS"
CRISIS_LINE_ENV = "CHECKIN_CRISIS_LINE"
# The 988 Suicide & Crisis Lifeline's ten-digit number: it still routes to 988, and can be dialled
# where the three-digit short code cannot (Twilio numbers, some carriers and PBXs).
LIFELINE = "+18002738255"

# Every prompt the call flow says, with the placeholders it may use.
PROMPTS = {
    "greeting": {"name", "group"},
    "menu": set(),
    "switch": set(),
    "not_understood": set(),
    "goodbye": set(),
    "score": set(),
    "phq9": set(),
    "record": set(),
    "saved": {"name"},
    "danger": set(),
    "crisis": set(),
    "urgent": set(),
    "help_now": set(),
    "unheard": set(),
    "crisis_line_offer": set(),
    "crisis_line_connecting": set(),
    "crisis_line_failed": set(),
    "connecting": set(),
    "nobody": set(),
    "callback": set(),
    "failsafe": set(),
    "callback_unheard": set(),
    "failsafe_unheard": set(),
    "meeting": {"when", "where"},
    "meeting_place": {"place"},
    "meeting_dial_in": {"dial_in"},
    "no_meeting": set(),
    "unknown": set(),
    "unknown_saved": set(),
    "not_our_number": set(),
    "confirm": {"name"},
    "not_there": {"name", "number"},
    "machine": {"number"},
    "intro": {"name", "group"},
    "reminder": {"when", "where"},
    "change": {"when", "where"},
    "cancelled": {"when"},
    "reminder_plain": set(),
    "announcement": {"group", "text"},
}


class VoiceConfigError(ConfigError):
    """config/voice.toml is wrong; the message names the key (reported like a bad setting)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__([("config/voice.toml", reason)])


@dataclass(frozen=True)
class VoiceConfig:
    prompts: Mapping[str, Mapping[str, str]]
    voices: Mapping[str, str]
    languages: Mapping[str, str]  # en -> en-US, es -> es-US
    max_concurrent: int
    retry_minutes: tuple[int, ...]
    dial_timeout: int
    gather_timeout: int
    record_max: int
    crisis_line: str = LIFELINE  # E.164, dialled by help now
    crisis_line_timeout: int = 30

    def text(self, key: str, language: str, **values) -> str:
        """A prompt as it is said: 988 and 911 digit by digit (in the template only, so a meeting
        place or a name given as a value is read as written)."""
        template = self.prompts[language if language in LANGUAGES else "en"][key]
        return aloud(template).format(**values)

    def say_attrs(self, language: str) -> dict[str, str]:
        """<Say> attributes for `language`: its language tag, and its voice when one is set."""
        attrs = {"language": self.languages[language]}
        if self.voices.get(language):
            attrs["voice"] = self.voices[language]
        return attrs


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _positive(raw, key: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw <= 0:
        raise VoiceConfigError(f"{key}: must be a positive whole number, not {raw!r}")
    return raw


def parse(doc: dict, environ: Mapping[str, str] | None = None) -> VoiceConfig:
    prompts: dict[str, dict[str, str]] = {}
    table = doc.get("prompts") or {}
    for lang in LANGUAGES:
        given = table.get(lang)
        if not isinstance(given, dict):
            raise VoiceConfigError(f"prompts.{lang}: missing")
        for key in given.keys() - PROMPTS.keys():
            raise VoiceConfigError(f"prompts.{lang}.{key}: unknown prompt")
        for key, allowed in PROMPTS.items():
            text = given.get(key)
            if not isinstance(text, str) or not text.strip():
                raise VoiceConfigError(f"prompts.{lang}.{key}: missing")
            try:
                extra = _placeholders(text) - allowed
            except ValueError as exc:
                raise VoiceConfigError(f"prompts.{lang}.{key}: {exc}") from None
            if extra:
                raise VoiceConfigError(f"prompts.{lang}.{key}: unknown placeholder {{{sorted(extra)[0]}}}")
        prompts[lang] = dict(given)
    voices, languages = doc.get("voices") or {}, doc.get("languages") or {}
    for lang in LANGUAGES:
        if not isinstance(voices.get(lang), str):
            raise VoiceConfigError(f'voices.{lang}: missing (a Twilio voice name, or "" for the default)')
        if not isinstance(languages.get(lang), str) or not languages[lang].lower().startswith(lang):
            raise VoiceConfigError(f"languages.{lang}: must be a {lang} language tag such as {lang}-US")
    calls = doc.get("calls") or {}
    environ = {} if environ is None else environ
    override = (environ.get(MAX_CONCURRENT_ENV) or "").strip()
    if override:
        if not override.isdigit() or int(override) <= 0:
            raise VoiceConfigError(f"{MAX_CONCURRENT_ENV}: must be a positive whole number, not {override!r}")
        max_concurrent = int(override)
    else:
        max_concurrent = _positive(calls.get("max_concurrent", 3), "calls.max_concurrent")
    retries = calls.get("retry_minutes", [15, 60])
    if not isinstance(retries, list) or len(retries) > 2:
        raise VoiceConfigError("calls.retry_minutes: must be a list of at most two numbers of minutes")
    line = doc.get("crisis_line") or {}
    for key in line.keys() - {"number", "dial_timeout_seconds"}:
        raise VoiceConfigError(f"crisis_line.{key}: unknown key")
    raw_line = (environ.get(CRISIS_LINE_ENV) or "").strip()
    where = CRISIS_LINE_ENV if raw_line else "crisis_line.number"
    raw_line = raw_line or line.get("number", LIFELINE)
    try:
        crisis_line = normalize_phone(raw_line if isinstance(raw_line, str) else "")
    except InvalidPhone:
        raise VoiceConfigError(
            f"{where}: {raw_line!r} is not a phone number Twilio can dial (the Lifeline's is {LIFELINE})"
        ) from None
    return VoiceConfig(
        prompts=prompts,
        voices=dict(voices),
        languages=dict(languages),
        max_concurrent=max_concurrent,
        retry_minutes=tuple(_positive(m, "calls.retry_minutes") for m in retries),
        dial_timeout=_positive(calls.get("dial_timeout_seconds", 20), "calls.dial_timeout_seconds"),
        gather_timeout=_positive(calls.get("gather_timeout_seconds", 6), "calls.gather_timeout_seconds"),
        record_max=_positive(calls.get("record_max_seconds", 60), "calls.record_max_seconds"),
        crisis_line=crisis_line,
        crisis_line_timeout=_positive(
            line.get("dial_timeout_seconds", 30), "crisis_line.dial_timeout_seconds"
        ),
    )


def load_file(path: Path = PATH, environ: Mapping[str, str] | None = None) -> VoiceConfig:
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise VoiceConfigError(f"{path.name}: {exc}") from None
    return parse(doc, environ)


@lru_cache(maxsize=4)
def load(max_concurrent: int | None = None, crisis_line: str | None = None) -> VoiceConfig:
    """config/voice.toml, with Settings.max_concurrent_calls (CHECKIN_MAX_CONCURRENT_CALLS) and
    Settings.crisis_line (CHECKIN_CRISIS_LINE) over it."""
    environ = {
        MAX_CONCURRENT_ENV: str(max_concurrent) if max_concurrent else None,
        CRISIS_LINE_ENV: crisis_line,
    }
    return load_file(environ={k: v for k, v in environ.items() if v})

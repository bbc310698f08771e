"""What a key press or a few spoken words mean, and how dates and numbers are read aloud (en/es)."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from babel.dates import format_date

# "una" is left out, as for texts (checkin.answers.parse): said in a sentence it is the article, and
# "fue una semana difícil, dos" is a 2, not a 1.
NUMBER_WORDS = {
    "zero": 0,
    "cero": 0,
    "one": 1,
    "uno": 1,
    "two": 2,
    "dos": 2,
    "three": 3,
    "tres": 3,
    "four": 4,
    "cuatro": 4,
    "five": 5,
    "cinco": 5,
    "eight": 8,
    "ocho": 8,
    "nine": 9,
    "nueve": 9,
}
# Menu words a caller may say instead of pressing a key.
MENU_WORDS = {
    "check": "1",
    "checkin": "1",
    "registrar": "1",
    "registro": "1",
    "meeting": "2",
    "reunion": "2",
    "next": "2",
    "proxima": "2",
    "facilitator": "3",
    "facilitador": "3",
    "talk": "3",
    "hablar": "3",
    "person": "3",
    "persona": "3",
    "spanish": "8",
    "espanol": "8",
    "english": "8",
    "ingles": "8",
    "repeat": "0",
    "again": "0",
    "repetir": "0",
    "repite": "0",
    "help": "9",
    "ayuda": "9",
}
MENU_KEYS = ("1", "2", "3", "8", "9", "0")
# Words to listen for (Twilio's speech recognition weighs these): numbers and the menu's words.
HINTS = {
    "en": "help, one, two, three, four, five, check in, meeting, facilitator, Spanish, repeat",
    "es": "ayuda, uno, dos, tres, cuatro, cinco, registrar, reunión, facilitador, inglés, repetir",
}
# Yes / no, said by whoever picked up a call we placed ("is this Ben?") or at the crisis line's offer.
YES_WORDS = {"yes", "yeah", "yep", "yup", "speaking", "si", "sip", "claro", "ok", "okay", "soy"}
NO_WORDS = {"no", "nope", "not", "nadie"}
YES_NO_HINTS = {"en": "yes, no, speaking", "es": "sí, no, soy yo"}
HELP_HINTS = {"en": "yes, facilitator, no", "es": "sí, facilitador, no"}


def fold(text: str | None) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text)).strip()


def number_in(speech: str | None) -> int | None:
    """The first number a caller said: "4.", "four", "I'm a three", "cuatro"."""
    for word in fold(speech).split():
        if word.isdigit():
            return int(word) if len(word) == 1 else None
        if word in NUMBER_WORDS:
            return NUMBER_WORDS[word]
    return None


def menu_choice(digits: str | None, speech: str | None) -> str | None:
    """'1', '2', '3', '8', '9' (help) or '0' from a key or a short spoken answer; None if unclear."""
    digits = (digits or "").strip()
    if digits:
        return digits if digits in MENU_KEYS else None
    words = fold(speech).split()
    if not words or len(words) > 6:
        return None  # a sentence is not a menu choice (it is still assessed)
    for word in words:
        if word in MENU_WORDS:
            return MENU_WORDS[word]
    number = number_in(speech)
    return str(number) if number is not None and str(number) in MENU_KEYS else None


def yes_or_no(digits: str | None, speech: str | None, yes: str = "1", no: str = "2") -> bool | None:
    """True for the `yes` key or a yes word, False for the `no` key or a no word, None if unclear."""
    digits = (digits or "").strip()
    if digits:
        return True if digits == yes else False if digits == no else None
    words = fold(speech).split()
    if not words or len(words) > 6:
        return None
    if any(word in NO_WORDS for word in words):
        return False
    return True if any(word in YES_WORDS for word in words) else None


def score(digits: str | None, speech: str | None) -> int | None:
    digits = (digits or "").strip()
    value = (
        int(digits) if digits.isdigit() and len(digits) == 1 else number_in(speech) if not digits else None
    )
    return value if value is not None and 1 <= value <= 5 else None


def is_only_a_number(speech: str | None) -> bool:
    words = fold(speech).split()
    return len(words) == 1 and number_in(speech) is not None


# --- reading aloud -------------------------------------------------------------------------------

# Day and month names from CLDR (Babel), as the SMS texts' dates (checkin.schedules.texts).
_LOCALES = {"en": "en_US", "es": "es"}


def spoken_when(local: datetime, language: str) -> str:
    """'Tuesday, December 8 at 7 PM' / 'el martes 8 de diciembre a las 7 de la noche', in the meeting's zone."""
    locale = _LOCALES.get(language, "en_US")
    day, month = format_date(local, "EEEE", locale=locale), format_date(local, "MMMM", locale=locale)
    twelve = local.hour % 12 or 12
    clock = f"{twelve}" if local.minute == 0 else f"{twelve}:{local.minute:02d}"
    if language == "es":
        # Spoken Spanish tells the time on the twelve-hour clock with the part of the day
        # ("a las 6:30 de la tarde"); "a las 18:30" is how it is written, not said.
        return f"el {day} {local.day} de {month} a la{'' if twelve == 1 else 's'} {clock} {_part_of_day(local.hour)}"
    return f"{day}, {month} {local.day} at {clock} {'AM' if local.hour < 12 else 'PM'}"


def _part_of_day(hour: int) -> str:
    if 1 <= hour < 6:
        return "de la madrugada"
    if 6 <= hour < 12:
        return "de la mañana"
    if hour == 12:
        return "del mediodía"
    return "de la tarde" if 13 <= hour < 19 else "de la noche"


# Emergency and crisis numbers, said digit by digit: a text-to-speech voice reads "988" as "nine
# hundred eighty-eight" ("novecientos ochenta y ocho") and "911" as "nine hundred eleven"
# ("novecientos once"), which is not what anyone dials. Not inside a longer number or a time.
_SHORT_CODES = re.compile(r"(?<![\d.,:/-])(988|911)(?!\d|[.,:/-]\d)")


def aloud(text: str) -> str:
    """'call or text 988' -> 'call or text 9 8 8'; '911' -> '9 1 1'; '9880' or '9:11' unchanged."""
    return _SHORT_CODES.sub(lambda m: " ".join(m[1]), text)


def spoken_number(number: str | None) -> str:
    """A phone number read digit by digit in groups: '+12025550101' -> '2 0 2, 5 5 5, 0 1 0 1'."""
    digits = re.sub(r"\D", "", number or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10:
        parts = (digits[:3], digits[3:6], digits[6:])
    else:
        parts = (digits,)
    return ", ".join(" ".join(part) for part in parts)

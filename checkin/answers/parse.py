"""What a member's short reply says: a check-in score, an RSVP, or neither. Pure text, no database.

The prompt says "Reply 1-5, 1 = very hard, 5 = very good, and add words if you like", so a score is a
digit or a number word (en, es) at the start, optionally "/5", optionally followed by words:
"4", "3/5", "3 - tired", "three", "tres", "4 good week", "1 muy mal". A number that counts
something ("1 more day", "2 pills", "3 días", "one of those days") is not a score.
"""

from __future__ import annotations

import re
import unicodedata

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    # "una" is left out on purpose: "una pregunta" is far more often an article than a score.
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
}
_COUNTED = (
    r"(?:more|less|other|of|days?|weeks?|hours?|hrs?|mins?|minutes?|times?|pills?|people|things?|am|pm|"
    r"m[aá]s|menos|d[ií]as?|semanas?|horas?|minutos?|veces|vez|pastillas?|personas?|cosas?|de)\b"
)
_NUMBER = r"([1-5]|" + "|".join(NUMBER_WORDS) + r")"
# What may follow the number: nothing, "/5", a separator and anything, or words that do not count something.
_TAIL = (
    r"\s*(?:/\s*5|(?:de|of|out\s+of)\s+5)?(?:\s*[-.,:;!]\s*(?:\S.*)?|\s+(?!" + _COUNTED + r")[^\W\d_].*)?$"
)
_SCORE = re.compile(r"^\s*" + _NUMBER + r"\b" + _TAIL, re.S | re.I)


def parse_score(body: str | None) -> int | None:
    """A check-in answer's score 1-5, or None when the text is not one."""
    match = _SCORE.match(body or "")
    if not match:
        return None
    number = match.group(1).lower()
    return int(number) if number.isdigit() else NUMBER_WORDS[number]


# --- RSVPs ----------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("’", "'").lower()
    text = re.sub(r"[^\w'\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


_YES = re.compile(
    r"^(?:(?:yes|yeah|yep|yup|y|si|sure)(?: (?:i'?m |i am |i'?ll |i will )?(?:coming|be there|going|voy))?"
    r"|(?:i'?m |i am )?(?:coming|going)|i'?m in|(?:i'?ll|i will) be there|count me in"
    r"|(?:si )?(?:voy|ire|alli estare|ahi estare|asistire|cuenta conmigo)"
    r")(?: (?:thanks|thank you|gracias))?$"
)
_NO = re.compile(
    r"^(?:(?:no|nope|nah|n)(?: (?:sorry|lo siento|thanks|gracias))?"
    r"|(?:no,? )?(?:i'?m not|i am not|not|can'?t|cannot|won'?t|will not) (?:coming|going|make it|be there|come|attend)(?: sorry)?"
    r"|(?:no )?(?:no voy|no puedo(?: ir)?|no ire|no asistire|no podre(?: ir)?)"
    r")(?: (?:this time|this week|esta vez|esta semana|sorry|lo siento))?$"
)


def parse_rsvp(body: str | None) -> tuple[str | None, bool]:
    """("yes" | "no" | None, whether it was a bare 1 or 2). A bare "1"/"2" is also a valid check-in
    score, so the caller decides which question it answers."""
    folded = _fold(body or "")
    if folded in ("1", "2"):
        return ("yes" if folded == "1" else "no"), True
    if _YES.match(folded):
        return "yes", False
    if _NO.match(folded):
        return "no", False
    return None, False

"""What a member's short reply says: a check-in score, an RSVP, or neither. Pure text, no database.

The prompt says "Reply 1-5, 1 = very bad, 5 = very good, and add words if you like", so a score is a
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


# An RSVP is the whole message: an answer with at most an apology or thanks before it and a when or
# a courtesy after it ("sorry, can't make it tonight", "count me in!", "lo siento, no puedo ir hoy").
# Anything longer is a sentence for a person (and is assessed like every text): "no one cares" is not a
# no, and neither is "I'm not going to make it", which can mean far more than a meeting.
_WHEN = (
    r"(?:tonight|today|tomorrow|this time|this week|on (?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"|hoy|manana|esta noche|esta vez|esta semana|el (?:lunes|martes|miercoles|jueves|viernes|sabado|domingo))"
)
_COURTESY = r"(?:thanks|thank you|thx|gracias|sorry|lo siento|perdon|see you(?: there| then)?|nos vemos)"
_APOLOGY = r"(?:(?:so |really |very )?sorry|apologies|unfortunately|lo siento|perdon|disculpa|ugh|oh)"
_YES_CORE = (
    r"(?:yes|yeah|yep|yup|y|si|sure|claro)(?: (?:i'?m |i am |i'?ll |i will )?(?:coming|be there|going|voy))?"
    r"|(?:i'?m |i am |i'?ll |i will )?(?:definitely |still )?(?:coming|going|be there|attend)"
    r"|i'?m in|count me in|see you (?:there|then|" + _WHEN + r")|i'?ll make it|i can make it"
    r"|(?:si )?(?:voy|ire|alli estare|ahi estare|alli nos vemos|ahi nos vemos|asistire|cuenta conmigo|cuentame)"
    r"|(?:si )?(?:voy a ir|ire a la reunion|nos vemos (?:alli|ahi|" + _WHEN + r"))"
)
_NO_CORE = (
    r"(?:no|nope|nah|n)"
    r"|(?:no,? )?(?:i'?m not|i am not|not|can'?t|cannot|won'?t|will not|i can'?t|i cannot|i won'?t|i will not"
    r"|i'?m unable to|i won'?t be able to|i will not be able to|won'?t be able to)"
    r" (?:coming|going|make it|be there|come|attend|go|join|be coming)"
    r"|(?:no )?(?:count me out|i'?ll miss (?:it|this one|the meeting)|have to miss (?:it|this one|the meeting)"
    r"|i have to miss (?:it|this one|the meeting)|not this (?:time|week))"
    r"|(?:no )?(?:no voy|no puedo(?: ir| asistir| llegar)?|no ire|no asistire|no podre(?: ir| asistir| llegar)?"
    r"|no voy a (?:poder(?: ir| asistir| llegar)?|ir)|no llego|esta vez no)"
)
_YES = re.compile(
    r"^(?:" + _APOLOGY + r" )?(?:" + _YES_CORE + r")(?: " + _WHEN + r")?(?: " + _COURTESY + r")*$"
)
_NO = re.compile(
    r"^(?:" + _APOLOGY + r" )?(?:" + _NO_CORE + r")(?: " + _WHEN + r")?(?: " + _COURTESY + r")*$"
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

"""Carrier-style keywords (STOP, START, HELP) and plain-language opt-outs.

A keyword counts only when it is the whole message, so "I want it all to stop" is never
taken as an opt-out: that sentence belongs to the risk rules, not to consent handling.
"""

from __future__ import annotations

import re
import unicodedata

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "PARAR", "BAJA"}
OPT_IN = {"START", "UNSTOP", "YES", "SUBSCRIBE", "ALTA"}
HELP = {"HELP", "INFO", "AYUDA"}
WHEN = {"WHEN", "CUANDO"}

# Plain-language opt-outs, English and Spanish: the WHOLE message must be one of these requests
# (so "stop texting me I want to die" is not one: it is assessed and escalated like any text). A
# request that names a kind of message or a day ("stop sending me reminders on sunday", "no me
# manden mensajes los domingos") is an opt-out too: there is no per-day consent, so we stop rather
# than keep texting someone who asked us to stop, and the confirmation tells them how to rejoin.
_PLEASE = r"(?:please|pls|plz|can\s+you|could\s+you|would\s+you|can\s+y'?all|just|ok|okay|hey|hi|hello|yo)"
_EN_WHAT = (
    r"(?:me|us|this\s+number|this\s+phone|these|this|those|them|that|it|stuff|things|any|more|anymore|any\s+more|"
    r"your|the|all|my|messages|message|texts|text|msgs|msg|txts|sms|reminders|reminder|notifications|alerts|"
    r"check\s*ins|prompts|calls|shit|crap|junk|spam)"
)
_WHEN = (
    r"(?:on\s+(?:the\s+)?(?:sundays?|mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|weekends?)|"
    r"at\s+night|in\s+the\s+(?:morning|evening)|so\s+early|so\s+late|every\s+day|everyday|every\s+week)"
)
_EN_TAIL = (
    rf"(?:\s+(?:please|pls|plz|anymore|any\s+more|now|thanks|thank\s+you|thx|ty|ever\s+again|again|{_WHEN}))*"
)
_ES_WHAT = (
    r"(?:mas|ya|estos|esos|estas|esas|los|las|sus|tus|mensajes|mensaje|mensajitos|textos|texto|sms|recordatorios|"
    r"notificaciones|llamadas|nada|nunca|cosas)"
)
_ES_WHEN = r"(?:(?:los|el|en\s+los|en\s+el)\s+(?:domingos?|lunes|martes|miercoles|jueves|viernes|sabados?|fines?\s+de\s+semana)|en\s+la\s+(?:noche|manana)|tan\s+temprano|cada\s+dia|todos\s+los\s+dias)"
_ES_TAIL = rf"(?:\s+(?:por\s+favor|porfa|porfavor|gracias|ya|nunca\s+mas|{_ES_WHEN}))*"
_PLAIN_OPT_OUT = re.compile(
    # "stop texting me", "please stop sending me these", "don't text me anymore", "no more texts please"
    rf"^(?:{_PLEASE}\s+)*(?:stop|quit|no\s+more|don'?t\s+(?:keep\s+)?|do\s+not\s+(?:keep\s+)?|never)\s*"
    r"(?:texting|messaging|sending|contacting|calling|text|message|msg|txt|texts|messages|send|reminding|reminders|msgs)"
    rf"(?:\s+{_EN_WHAT})*{_EN_TAIL}$"
    # "i don't want these texts anymore", "i do not want to get any more messages"
    rf"|^(?:i\s+)?(?:don'?t|do\s+not|no\s+longer)\s+(?:want|need)\s+(?:to\s+(?:get|receive)\s+)?(?:{_EN_WHAT}\s+)*"
    rf"(?:messages|texts|msgs|reminders|sms){_EN_TAIL}$"
    r"|^(?:unsubscribe|remove|take|opt)\s+me(?:\s+(?:off|from|out)(?:\s+(?:of\s+)?(?:the|this|your))?(?:\s+(?:list|texts|messages|mailing\s+list))?)?(?:\s+please)?$"
)
_PLAIN_OPT_OUT_ES = re.compile(
    # "deja de escribirme", "dejen de mandarme mensajes", "no me manden mas mensajes", "ya no me escriban"
    rf"^(?:por\s+favor\s+|porfa\s+|porfavor\s+|ya\s+|oigan\s+)*(?:"
    r"(?:deja|dejen|dejad|pueden\s+dejar|puedes\s+dejar|podrian\s+dejar)\s+de\s+"
    r"(?:escribirme|enviarme|mandarme|textearme|contactarme|llamarme|escribir|enviar|mandar)"
    r"|no\s+me\s+(?:mandes|manden|envies|envien|escribas|escriban|textees|texteen|contactes|contacten|llames|llamen|"
    r"sigan\s+(?:mandando|enviando|escribiendo)|sigas\s+(?:mandando|enviando|escribiendo))"
    rf")(?:\s+{_ES_WHAT})*{_ES_TAIL}$"
    # "ya no quiero recibir mensajes", "no quiero mas mensajes"
    rf"|^(?:ya\s+)?no\s+quiero\s+(?:recibir\s+|que\s+me\s+(?:manden|envien|escriban|mandes|envies|escribas)\s+)?(?:{_ES_WHAT}\s+)*"
    rf"(?:mensajes|textos|mensajitos|recordatorios|sms){_ES_TAIL}$"
)
# "when is the meeting", "when's group?", "cuándo es la reunión": asking for the next meeting.
_PLAIN_WHEN = re.compile(
    r"^(?:when\s+is|when's|whens|when\s+are\s+we\s+meeting|when\s+do\s+we\s+meet)"
    r"(?:\s+(?:the|our|my))?(?:\s+next)?(?:\s+(?:meeting|group|session|one))?(?:\s+again)?$"
    r"|^cuando\s+(?:es|nos\s+reunimos|hay)(?:\s+(?:la|el|mi|nuestra|nuestro))?(?:\s+(?:proxima|proximo))?"
    r"(?:\s+(?:reunion|grupo|sesion))?$"
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("’", "'").lower()
    text = re.sub(r"[^\w'\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def classify(body: str) -> tuple[str | None, str | None]:
    """('opt_out' | 'opt_in' | 'help' | 'when' | None, the keyword or 'phrase')."""
    folded = _fold(body or "")
    word = folded.replace("'", "").replace(" ", "").upper()
    if word in OPT_OUT:
        return "opt_out", word
    if word in OPT_IN:
        return "opt_in", word
    if word in HELP:
        return "help", word
    if _PLAIN_OPT_OUT.match(folded) or _PLAIN_OPT_OUT_ES.match(folded):
        return "opt_out", "phrase"
    if word in WHEN or _PLAIN_WHEN.match(folded):
        return "when", word if word in WHEN else "phrase"
    return None, None


def is_opt_out(body: str | None) -> bool:
    """The whole message is an opt-out, a keyword or a plain request ("no me manden más mensajes").
    Such a message is read by the risk rules alone, without the statistical second opinion: its few
    words cannot be a crisis sentence (anything more is not an opt-out), and the model reads Spanish
    "ya no" as despair, which paged a facilitator for a member who only asked us to stop."""
    return classify(body or "")[0] == "opt_out"


def spanish_opt_out(body: str | None) -> bool:
    """A Spanish opt-out (PARAR, BAJA or a plain Spanish request): its confirmation is in Spanish even
    when nothing else tells us the sender's language (the database is down)."""
    folded = _fold(body or "")
    return folded.replace("'", "").replace(" ", "").upper() in ("PARAR", "BAJA") or bool(
        _PLAIN_OPT_OUT_ES.match(folded)
    )

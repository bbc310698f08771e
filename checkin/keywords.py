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

_PLAIN_OPT_OUT = re.compile(
    r"^(?:please\s+)?(?:stop|quit|no\s+more|don'?t\s+(?:keep\s+)?)\s*"
    r"(?:texting|messaging|sending|contacting|calling|text|message|msg|txt|texts|messages)"
    r"(?:\s+(?:me|this\s+number|messages|texts))*(?:\s+(?:please|anymore|any\s+more|now))*$"
    r"|^(?:unsubscribe|remove|take)\s+me(?:\s+(?:off|from)(?:\s+(?:the|this|your))?\s+(?:list|texts|messages))?(?:\s+please)?$"
    r"|^(?:no\s+me\s+(?:mandes|envies|escribas)\s+mas(?:\s+mensajes)?|deja\s+de\s+(?:escribirme|enviarme\s+mensajes|mandarme\s+mensajes))$"
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
    if _PLAIN_OPT_OUT.match(folded):
        return "opt_out", "phrase"
    if word in WHEN or _PLAIN_WHEN.match(folded):
        return "when", word if word in WHEN else "phrase"
    return None, None

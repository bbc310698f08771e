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

_PLAIN_OPT_OUT = re.compile(
    r"^(?:please\s+)?(?:stop|quit|no\s+more|don'?t\s+(?:keep\s+)?)\s*"
    r"(?:texting|messaging|sending|contacting|calling|text|message|msg|txt|texts|messages)"
    r"(?:\s+(?:me|this\s+number|messages|texts))*(?:\s+(?:please|anymore|any\s+more|now))*$"
    r"|^(?:unsubscribe|remove|take)\s+me(?:\s+(?:off|from)(?:\s+(?:the|this|your))?\s+(?:list|texts|messages))?(?:\s+please)?$"
    r"|^(?:no\s+me\s+(?:mandes|envies|escribas)\s+mas(?:\s+mensajes)?|deja\s+de\s+(?:escribirme|enviarme\s+mensajes|mandarme\s+mensajes))$"
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("’", "'").lower()
    text = re.sub(r"[^\w'\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def classify(body: str) -> tuple[str | None, str | None]:
    """('opt_out' | 'opt_in' | 'help' | None, the keyword or 'phrase')."""
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
    return None, None

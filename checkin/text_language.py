"""Which language a text is written in, for answering a sender whose language we do not know (an
unknown number, or a text that could not be stored). The rule that matched is no guide: Spanish rules
match English words too ("pills" is close enough to "pastillas" for a fuzzy rule), so an English
overdose text was answered in Spanish. A count of each language's common words decides instead; when
the text does not clearly say (a word or two, or mixed), the reply goes out in both, English first.
No language-identification library is in the lock file, and for two languages this is enough."""

from __future__ import annotations

import re
import unicodedata

from checkin import templates
from checkin.rules.normalize import _strip_accents

# Common words of one language that are not also words of the other ("me", "no", "a", "de" are both,
# so they are left out). Accents are folded away before matching: texts are often typed without them.
_EN_WORDS = """
    i i'm im i've ive my mine the and all of to in is am are was were be been it it's its this that
    just have has had took take taking swallowed swallow pills meds want wanna going gonna will can't
    cant don't dont do did not never anymore myself kill die dying going tonight today now help please
    you your with what why how who where when so too very feel feeling hurt life live alone
    """
_ES_WORDS = """
    yo mi mis el la las los y todo todas todos toda que en es soy estoy estaba fue ser ya tome tomar
    tomo trague pastillas pastilla medicinas quiero voy va morir matarme suicidar vivir noche hoy ahora
    ayuda ayudame por favor tu tus con porque como quien donde cuando muy siento sola solo dolor vida
    nunca nada mas aguanto puedo hacer hice una un del al pero para
    """
_EN = frozenset(_EN_WORDS.split())
_ES = frozenset(_ES_WORDS.split())
_WORD = re.compile(r"[a-z']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(
        _strip_accents(unicodedata.normalize("NFKD", (text or "").lower().replace("\u2019", "'")))
    )


def detect(text: str) -> str | None:
    """'en' or 'es' when the text clearly says (two or more of one language's common words, and more
    than twice the other's), else None."""
    words = _words(text)
    en = sum(w in _EN for w in words)
    es = sum(w in _ES for w in words)
    if en >= 2 and en > 2 * es:
        return "en"
    if es >= 2 and es > 2 * en:
        return "es"
    return None


def render(key: str, text: str, **values) -> str:
    """The template `key` in the language `text` is written in; in English then Spanish when unclear."""
    language = detect(text)
    if language is not None:
        return templates.render(key, language, **values)
    return both(key, **values)


def both(key: str, **values) -> str:
    """The template `key` in English, then in Spanish, in one text."""
    return templates.render(key, "en", **values) + "\n\n" + templates.render(key, "es", **values)

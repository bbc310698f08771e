"""The languages members are texted in, by name: what pickers show and what people may type
("Spanish", "español", "ES" and "es" are all Spanish)."""

from __future__ import annotations

import unicodedata

from checkin.errors import ValidationError
from checkin.models import LANGUAGES

# What a picker shows: the English name, and the language's own where it differs.
NAMES = {"en": "English", "es": "Spanish / Español"}

ALIASES = {
    "en": ("en", "eng", "english", "ingles", "en-us"),
    "es": ("es", "spa", "spanish", "espanol", "castellano", "es-us", "es-mx", "spanish / espanol"),
}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).split())


_BY_WORD = {alias: code for code, aliases in ALIASES.items() for alias in aliases}


def name(code: str | None) -> str:
    return NAMES.get(code or "", code or "")


def code(raw: str | None, default: str | None = None) -> str:
    """'Spanish' / 'español' / 'es' -> 'es'; empty -> `default` (or an error when there is none)."""
    folded = _fold(raw or "")
    if not folded and default is not None:
        return default
    found = _BY_WORD.get(folded)
    if found is None or found not in LANGUAGES:
        choices = " or ".join(NAMES[c] for c in LANGUAGES if c in NAMES)
        raise ValidationError(f"language: {(raw or '').strip()!r} is not one we send in; choose {choices}")
    return found

"""Text normalisation for the risk rules engine.

The rules are written against the *normalised* form of a message, so every
spelling a member might use for the same words should normalise to the same
string.  ``normalize(text)`` applies, in order:

1. emoji used for means/finality (pills, weapons, rope, coffin ...) -> words;
2. Unicode compatibility folding (NFKC), lower case, accent stripping
   ("suicídarme" -> "suicidarme", "año" -> "ano");
3. English contractions expanded ("don't" -> "do not", "i'm" -> "i am");
4. look-alike digits and symbols inside words ("k1ll" -> "kill",
   "$uicide" -> "suicide", "su1c1de" -> "suicide");
5. punctuation -> clause marks (" , ") or spaces;
6. repeated letters squeezed ("sooo" -> "so", "diieee" -> "die"), choosing the
   spelling found in a vocabulary of known words when there is one;
7. SMS spellings, apostrophe-less forms and slang/algospeak expanded
   ("dont" -> "do not", "u" -> "you", "rn" -> "right now", "kms" ->
   "kill myself", "sewer slide" -> "suicide").

The output is lower-case ASCII words separated by single spaces, with clause
boundaries kept as a standalone comma token ("i am not ok , i want to die").
Everything is pure and deterministic; tables are module constants.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from itertools import product

import ahocorasick

from .literals import read_pattern

__all__ = ["BASE_VOCABULARY", "normalize", "normalize_pair", "squeeze_word"]

# 1. Emoji -> words.  Variation selectors / ZWJ are removed first.
EMOJI_WORDS: dict[str, str] = {
    "\U0001f48a": " pills ",  # 💊
    "\U0001f489": " needle ",  # 💉
    "\U0001f52b": " gun ",  # 🔫
    "\U0001f52a": " knife ",  # 🔪
    "\U0001f5e1": " knife ",  # 🗡
    "\u2694": " knife ",  # ⚔
    "\U0001fa92": " razor ",  # 🪒
    "\U0001faa2": " rope ",  # 🪢
    "\u26b0": " coffin ",  # ⚰
    "\U0001faa6": " grave ",  # 🪦
    "\u26b1": " urn ",  # ⚱
    "\U0001fa78": " blood ",  # 🩸
    "\U0001f309": " bridge ",  # 🌉
    "\U0001f6e4": " train tracks ",  # 🛤
    "\U0001f682": " train ",  # 🚂
    "\U0001f686": " train ",  # 🚆
    "\U0001f687": " train ",  # 🚇
    "\U0001f3e2": " building ",  # 🏢
    "\U0001f480": " skull ",  # 💀 (usually "I'm dead" = laughing: keep it neutral)
    "\u2620": " skull ",  # ☠
    "\U0001f602": " laughing ",  # 😂
    "\U0001f923": " laughing ",  # 🤣
    "\U0001f606": " laughing ",  # 😆
    "\U0001f62d": " crying ",  # 😭
    "\U0001f622": " crying ",  # 😢
    "\U0001f494": " heartbroken ",  # 💔
    "\U0001f44b": " bye ",  # 👋
}
_EMOJI_RE = re.compile("|".join(re.escape(k) for k in sorted(EMOJI_WORDS, key=len, reverse=True)))
_INVISIBLE_RE = re.compile("[\ufe0e\ufe0f\u200b\u200c\u200d\u2060\ufeff]")

# 3. Contractions with an apostrophe (apostrophes already folded to "'").
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\bwon't\b", "will not"),
        (r"\bcan't\b", "can not"),
        (r"\bcannot\b", "can not"),
        (r"\bain't\b", "am not"),
        (r"\bshan't\b", "shall not"),
        (r"n't\b", " not"),
        (r"\bi'm\b", "i am"),
        (r"\bim'\b", "i am"),
        (r"\b(i|you|we|they|he|she|it|that|there|who)'ll\b", r"\1 will"),
        (r"\b(i|you|we|they|he|she|it|that|there|who)'d\b", r"\1 would"),
        (r"\b(i|you|we|they|would|could|should|might|must)'ve\b", r"\1 have"),
        (r"\b(you|we|they|who)'re\b", r"\1 are"),
        (r"\b(he|she|it|that|there|what|who|where|here|everything|nothing|life)'s\b", r"\1 is"),
        (r"\blet's\b", "let us"),
        (r"\bod(?:'d|'ed|ed)\b", "overdosed"),
        (r"\by'all\b", "you all"),
        (r"'s\b", "s"),  # possessive: "friend's" -> "friends"
    )
)

# 4. Look-alike characters inside words.
_LEET_DIGITS = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
_LEET_SYMBOLS = {"$": "s", "@": "a", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l"}
_TOKEN_RE = re.compile(r"\S+")
# "30mg", "5am", "2nd", "10pm", "3x", "24h", "1/5", "2-3": digits that are numbers, not letters.
_NUMERIC_TOKEN_RE = re.compile(
    r"^[#~]?\d+([.,/:-]\d+)*(st|nd|rd|th|am|pm|mg|ml|g|kg|lb|lbs|x|h|hr|hrs|hs|min|mins|k|s|yo|yrs|y|m|ish|%)?$"
)
# SMS words that contain digits and must not go through the look-alike table.
_SMS_DIGIT_WORDS: dict[str, str] = {
    "2day": "today",
    "2nite": "tonight",
    "2night": "tonight",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "2mrw": "tomorrow",
    "2mr": "tomorrow",
    "b4": "before",
    "gr8": "great",
    "l8r": "later",
    "l8": "late",
    "h8": "hate",
    "h8e": "hate",
    "m8": "mate",
    "sum1": "someone",
    "some1": "someone",
    "any1": "anyone",
    "every1": "everyone",
    "no1": "no one",
    "ne1": "anyone",
    "4ever": "forever",
    "4eva": "forever",
    "w8": "wait",
    "2": "2",
    "4": "4",
    "1": "1",
    "w/": "with",
    "w/o": "without",
    "b/c": "because",
    "x2": "x2",
}

# 5. Punctuation.  Sentence/clause punctuation becomes a "," token; anything else a space.
_CLAUSE_PUNCT_RE = re.compile(r"[.,;:!?¡¿()\[\]{}\"“”«»…\n\r\t]+|\s-+\s|--+|\s/\s")
_OTHER_PUNCT_RE = re.compile(r"[^a-z0-9,\s]+")
_SPACES_RE = re.compile(r"\s+")
_COMMAS_RE = re.compile(r"(?:,\s*)+")

# 6. Repeated letters.  Letters never doubled in English/Spanish words are squeezed
#    to one; runs of three or more are resolved against the vocabulary.
_RUN_RE = re.compile(r"([a-z])\1+")
_NEVER_DOUBLE = set("aiuhjkqvwxy")

# 7. Word and phrase substitutions (applied to whole words of the squeezed text).
SMS_WORDS: dict[str, str] = {
    # English apostrophe-less forms and SMS spellings
    "dont": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "cant": "can not",
    "cannot": "can not",
    "couldnt": "could not",
    "wouldnt": "would not",
    "shouldnt": "should not",
    "wont": "will not",
    "isnt": "is not",
    "arent": "are not",
    "wasnt": "was not",
    "werent": "were not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "aint": "am not",
    "dnt": "do not",
    "dont't": "do not",
    "im": "i am",
    "iam": "i am",
    "ima": "i am going to",
    "imma": "i am going to",
    "ive": "i have",
    "youre": "you are",
    "theyre": "they are",
    "thats": "that is",
    "whats": "what is",
    "theres": "there is",
    "hes": "he is",
    "shes": "she is",
    "itll": "it will",
    "youll": "you will",
    "theyll": "they will",
    "itd": "it would",
    "wanna": "want to",
    "wana": "want to",
    "wanan": "want to",
    "gonna": "going to",
    "gona": "going to",
    "gunna": "going to",
    "finna": "going to",
    "gotta": "got to",
    "hafta": "have to",
    "tryna": "trying to",
    "outta": "out of",
    "kinda": "kind of",
    "sorta": "sort of",
    "lemme": "let me",
    "gimme": "give me",
    "dunno": "do not know",
    "u": "you",
    "yu": "you",
    "ur": "your",
    "urself": "yourself",
    "r": "are",
    "n": "and",
    "rn": "right now",
    "atm": "right now",
    "tn": "tonight",
    "tnite": "tonight",
    "tonite": "tonight",
    "2nite": "tonight",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmw": "tomorrow",
    "tomoro": "tomorrow",
    "2moro": "tomorrow",
    "tmrrw": "tomorrow",
    "yday": "yesterday",
    "ystd": "yesterday",
    "pls": "please",
    "plz": "please",
    "plez": "please",
    "ppl": "people",
    "bc": "because",
    "cuz": "because",
    "cos": "because",
    "coz": "because",
    "becuz": "because",
    "bcuz": "because",
    "abt": "about",
    "smth": "something",
    "sth": "something",
    "sumthin": "something",
    "nothin": "nothing",
    "nuthin": "nothing",
    "everythin": "everything",
    "nite": "night",
    "thx": "thanks",
    "thnx": "thanks",
    "ty": "thanks",
    "idk": "i do not know",
    "idc": "i do not care",
    "idgaf": "i do not care",
    "dk": "do not know",
    "ik": "i know",
    "tbh": "to be honest",
    "ngl": "not going to lie",
    "istg": "i swear",
    "omw": "on my way",
    "b": "be",
    "c": "see",
    "luv": "love",
    "wat": "what",
    "wut": "what",
    "prolly": "probably",
    "def": "definitely",
    "rly": "really",
    "realy": "really",
    "srsly": "seriously",
    "evry": "every",
    "every1": "everyone",
    "evryone": "everyone",
    "anymor": "anymore",
    "any more": "anymore",
    "thru": "through",
    "tho": "though",
    "cya": "see you",
    "ttyl": "talk to you later",
    "gn": "good night",
    "nvm": "never mind",
    "mins": "minutes",
    "meds": "meds",
    "hrs": "hours",
    "yrs": "years",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "bro": "brother",
    "sis": "sister",
    "mom": "mom",
    "mum": "mom",
    "mommy": "mom",
    "dad": "dad",
    "sry": "sorry",
    "srry": "sorry",
    "soz": "sorry",
    "ok": "ok",
    "okay": "ok",
    "okey": "ok",
    "kk": "ok",
    "k": "ok",
    "alr": "alright",
    "myslef": "myself",
    "mysef": "myself",
    "myselfe": "myself",
    "meself": "myself",
    "self harm": "self harm",
    "selfharm": "self harm",
    "sh": "self harm",
    "od": "overdose",
    "oding": "overdosing",
    "oded": "overdosed",
    "ods": "overdoses",
    "suicde": "suicide",
    "sucide": "suicide",
    "suiside": "suicide",
    "suicid": "suicide",
    "suiscide": "suicide",
    "sucicide": "suicide",
    "suicie": "suicide",
    "suicidial": "suicidal",
    "sucidal": "suicidal",
    "suisidal": "suicidal",
    "suicdal": "suicidal",
    "suicida": "suicida",
    "kil": "kill",
    "kiil": "kill",
    "kll": "kill",
    "kilm": "kill",
    "myslf": "myself",
    "ded": "dead",
    "deth": "death",
    "wanted": "wanted",
    "goodbey": "goodbye",
    "gbye": "goodbye",
    "goodby": "goodbye",
    "gudbye": "goodbye",
    "byee": "bye",
    "byeee": "bye",
    # algospeak and slang for suicide / self-harm
    "kmsl": "kill myself",
    "kys": "kill yourself",
    "unalive": "kill",
    "unalived": "killed",
    "unaliving": "killing",
    "unalives": "kills",
    "sewerslide": "suicide",
    "sewerslided": "suicided",
    "ctb": "catchthebus",
    "oofed": "killed",
    "s3lf": "self",
    "sui": "suicide",
    "suii": "suicide",
    "seggs": "sex",
    # Spanish SMS spellings
    "q": "que",
    "xq": "porque",
    "pq": "porque",
    "porq": "porque",
    "xk": "porque",
    "tb": "tambien",
    "tmb": "tambien",
    "tbn": "tambien",
    "x": "por",
    "d": "de",
    "stoy": "estoy",
    "ta": "esta",
    "sta": "esta",
    "tas": "estas",
    "kiero": "quiero",
    "qiero": "quiero",
    "kero": "quiero",
    "qero": "quiero",
    "nd": "nada",
    "nda": "nada",
    "mxo": "mucho",
    "mxa": "mucha",
    "bn": "bien",
    "dsd": "desde",
    "xfa": "por favor",
    "xfavor": "por favor",
    "porfa": "por favor",
    "aki": "aqui",
    "ns": "no se",
    "msj": "mensaje",
    "salu2": "saludos",
    "tqm": "te quiero mucho",
    "nadie": "nadie",
    "aora": "ahora",
    "ahorita": "ahora",
    "oy": "hoy",
    "ntp": "no te preocupes",
    "porfavor": "por favor",
    "porfis": "por favor",
    "plis": "please",
    "tkm": "te quiero mucho",
    "grax": "gracias",
    "grx": "gracias",
    "bno": "bueno",
    "dnd": "donde",
    "pk": "porque",
    "xke": "porque",
    "porke": "porque",
    "porqe": "porque",
    "tons": "entonces",
    "vdd": "verdad",
    "dsp": "despues",
    "dsps": "despues",
    "kmo": "como",
    "cmo": "como",
    "kuando": "cuando",
    "kiere": "quiere",
    "kieres": "quieres",
    "nunk": "nunca",
    "nunka": "nunca",
    "muxo": "mucho",
    "orita": "ahora",
    "horita": "ahora",
    "namas": "nomas",
    "pos": "pues",
    "nadien": "nadie",
    "nadies": "nadie",
    "taba": "estaba",
    "tamos": "estamos",
    "toy": "estoy",
    "toa": "toda",
    "toas": "todas",
    "acostao": "acostado",
    "tirao": "tirado",
    "encerrao": "encerrado",
    "mareao": "mareado",
    "cansao": "cansado",
    "jodio": "jodido",
    "desesperao": "desesperado",
    "pesao": "pesado",
    "kitarme": "quitarme",
    "qitarme": "quitarme",
    "kitar": "quitar",
    "suisidarme": "suicidarme",
    "suisidio": "suicidio",
    "suisida": "suicida",
    "suicidarm": "suicidarme",
    "cortarm": "cortarme",
    "aserme": "hacerme",
    "acerme": "hacerme",
    "aser": "hacer",
    "pastiyas": "pastillas",
    "pastiya": "pastilla",
    "cuchiyo": "cuchillo",
    "mñn": "manana",
    "mnn": "manana",
    "ke": "que",
    "kien": "quien",
    "qien": "quien",
    "ps": "pues",
    "pa": "para",
    "pal": "para el",
    "toi": "estoy",
    "voi": "voy",
    "matarm": "matarme",
    "morirm": "morirme",
    "llamame": "llamame",
    "yamame": "llamame",
    "jaja": "jaja",
    "jajaja": "jaja",
    "ajaja": "jaja",
    "haha": "haha",
    "hahaha": "haha",
    "lmao": "lol",
    "lmfao": "lol",
    "rofl": "lol",
}

# Multi-word slang (applied on the word-joined string).
_SLANG: tuple[tuple[str, str], ...] = (
    (r"sewer ?slide|sewer ?side|sewer ?slid", "suicide"),
    (r"self ?delete|self ?deleting", "kill myself"),
    (r"un ?alive", "kill"),
    (r"(?<![0-9] )(?<![0-9])kms", "kill myself"),
    # "ill kill myself" / "ill be gone": apostrophe-less "I'll" before a verb
    (
        r"^ill(?= (?:just |probably |never |prob |def |really )?(?:kill|hurt|do|be|go|end|take|jump|die|call|try|see|make|overdose|cut|shoot|hang|never|just|miss|leave|stop|text)(?![a-z]))",
        "i will",
    ),
    (
        r"(?<=[a-z] )ill(?= (?:just |probably |never |prob |def |really )?(?:kill|hurt|do|be|go|end|take|jump|die|call|try|see|make|overdose|cut|shoot|hang|never|just|miss|leave|stop|text)(?![a-z]))",
        "i will",
    ),
    (r"s ?u ?i ?c ?i ?d ?e", "suicide"),
    (r"kill my ?self|kill me self", "kill myself"),
    (r"my ?self", "myself"),
    (r"self ?harm(ing|ed)?", "self harm"),
    (r"self ?injur(y|e|ing|ed)", "self harm"),
    (r"no ?one|no1", "no one"),
    (r"any ?more", "anymore"),
    (r"good ?bye", "goodbye"),
    (r"every ?one|every ?body", "everyone"),
    (r"some ?one|some ?body", "someone"),
    (r"over ?dos(e|ed|ing)", r"overdos\1"),
)
SLANG_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(r"(?<![a-z])" + p + r"(?![a-z])"), r) for p, r in _SLANG
)


def _slang_gates() -> tuple[ahocorasick.Automaton, frozenset[int]]:
    """Per phrase, the literals one of which its every match holds (see literals.py), in one automaton
    (literal -> the phrases it admits), and the phrases without such literals.  A phrase is substituted
    only in a text that holds one, so most messages (which hold none) cost one pass over the text rather
    than a scan of every phrase's lookbehind at every position."""
    admits: dict[str, set[int]] = {}
    always = set()
    for n, (pat, _) in enumerate(SLANG_PHRASES):
        facts = read_pattern(pat.pattern)
        if not facts.requires:
            always.add(n)
        for lit in facts.requires[0] if facts.requires else ():
            admits.setdefault(lit, set()).add(n)
    automaton = ahocorasick.Automaton()
    for lit, ns in admits.items():
        automaton.add_word(lit, frozenset(ns))
    automaton.make_automaton()
    return automaton, frozenset(always)


_SLANG_GATES, _SLANG_UNGATED = _slang_gates()


def _slang_admitted(s: str) -> set[int]:
    """The slang phrases that may match ``s``."""
    found = set(_SLANG_UNGATED)
    for _end, ns in _SLANG_GATES.iter(s):
        found |= ns
    return found


# Known words used to decide how to squeeze letter runs ("diieee" -> "die").
BASE_VOCABULARY: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "alone",
        "always",
        "am",
        "an",
        "and",
        "anymore",
        "anyone",
        "anything",
        "are",
        "at",
        "away",
        "back",
        "bad",
        "be",
        "bed",
        "been",
        "before",
        "being",
        "best",
        "better",
        "bottle",
        "bridge",
        "bus",
        "but",
        "by",
        "bye",
        "call",
        "can",
        "cant",
        "care",
        "cry",
        "crying",
        "cut",
        "cutting",
        "dead",
        "death",
        "die",
        "died",
        "dies",
        "dying",
        "do",
        "done",
        "dont",
        "down",
        "else",
        "end",
        "ending",
        "everyone",
        "everything",
        "feel",
        "feeling",
        "fine",
        "for",
        "free",
        "gas",
        "gone",
        "good",
        "goodbye",
        "great",
        "gun",
        "hang",
        "happy",
        "harm",
        "hate",
        "have",
        "help",
        "here",
        "hope",
        "hopeless",
        "hurt",
        "i",
        "im",
        "in",
        "is",
        "it",
        "just",
        "kill",
        "killed",
        "killing",
        "knife",
        "last",
        "leave",
        "life",
        "like",
        "live",
        "living",
        "lonely",
        "look",
        "lost",
        "love",
        "me",
        "meeting",
        "miss",
        "more",
        "much",
        "my",
        "myself",
        "need",
        "needed",
        "needs",
        "never",
        "night",
        "no",
        "none",
        "not",
        "nothing",
        "now",
        "of",
        "off",
        "ok",
        "okay",
        "on",
        "one",
        "out",
        "over",
        "pain",
        "pills",
        "please",
        "rope",
        "run",
        "sad",
        "safe",
        "scared",
        "see",
        "sleep",
        "so",
        "sooo",
        "soon",
        "sorry",
        "still",
        "stop",
        "suicide",
        "suicidal",
        "take",
        "talk",
        "tell",
        "than",
        "thanks",
        "that",
        "the",
        "them",
        "then",
        "there",
        "they",
        "this",
        "tired",
        "to",
        "today",
        "tomorrow",
        "tonight",
        "too",
        "tracks",
        "tried",
        "try",
        "up",
        "us",
        "very",
        "wanna",
        "want",
        "was",
        "we",
        "well",
        "what",
        "when",
        "will",
        "wish",
        "with",
        "without",
        "world",
        "worse",
        "worthless",
        "yeah",
        "yes",
        "you",
        "your",
        "yall",
        "hello",
        "hi",
        "hey",
        "muy",
        "mucho",
        "bien",
        "mal",
        "triste",
        "sola",
        "solo",
        "ayuda",
        "ayudame",
        "llamame",
        "quiero",
        "morir",
        "morirme",
        "matarme",
        "suicidarme",
        "vida",
        "vivir",
        "nadie",
        "nada",
        "todo",
        "todos",
        "adios",
        "hoy",
        "noche",
        "ya",
        "no",
        "si",
        "estoy",
        "estar",
        "siento",
        "gracias",
        "tengo",
        "miedo",
        "llorar",
        "sueno",
        "hambre",
        "risa",
        "calor",
        "frio",
    ]
)


def _strip_accents(s: str) -> str:
    decomposed = unicodedata.normalize("NFD", s)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _leet(token: str) -> str:
    """Map look-alike digits/symbols inside a word to letters."""
    if token.isalpha():  # the common case: nothing to map
        return token
    if token in _SMS_DIGIT_WORDS:
        return _SMS_DIGIT_WORDS[token]
    core = token.strip(".,;:!?\"()[]{}'")
    if core in _SMS_DIGIT_WORDS:
        return token.replace(core, _SMS_DIGIT_WORDS[core])
    if not any(c.isalpha() for c in token):
        return token
    if _NUMERIC_TOKEN_RE.match(core):
        return token
    out = []
    n = len(token)
    for i, ch in enumerate(token):
        if ch in _LEET_DIGITS:
            prev_alpha = i > 0 and (
                token[i - 1].isalpha() or token[i - 1] in _LEET_SYMBOLS or token[i - 1] in _LEET_DIGITS
            )
            next_alpha = i + 1 < n and (token[i + 1].isalpha() or token[i + 1] in _LEET_DIGITS)
            out.append(_LEET_DIGITS[ch] if (prev_alpha or next_alpha) else ch)
        elif ch in _LEET_SYMBOLS:
            next_alpha = i + 1 < n and (token[i + 1].isalpha() or token[i + 1] in _LEET_DIGITS)
            prev_alpha = i > 0 and token[i - 1].isalpha()
            # "$uicide", "k!ll", "d!e" - but not "great!" or "$20"
            out.append(_LEET_SYMBOLS[ch] if next_alpha and (prev_alpha or ch in "$@") else ch)
        else:
            out.append(ch)
    word = "".join(out)
    if word == token:
        return word
    # "ki11" reads as "kiii" after the table; the intended letter is "l".
    return word.replace("kiii", "kill")


@lru_cache(maxsize=8192)
def squeeze_word(word: str, vocab: frozenset[str] = BASE_VOCABULARY) -> str:
    """Resolve letter repetitions: 'sooo' -> 'so', 'killl' -> 'kill', 'diieee' -> 'die'."""
    if not _RUN_RE.search(word):
        return word
    runs = [(m.start(), m.end(), m.group(1)) for m in _RUN_RE.finditer(word)]
    if all(e - s == 2 and c not in _NEVER_DOUBLE for s, e, c in runs):
        return word  # ordinary doubles: "kill", "need", "good", "llamame"
    options: list[tuple[str, ...]] = []
    for _s, _e, c in runs:
        if c in _NEVER_DOUBLE:
            options.append((c,))
        else:
            options.append((c, c + c))
    candidates = []
    for choice in product(*options):
        pieces, pos = [], 0
        for (s, e, _), rep in zip(runs, choice):
            pieces.append(word[pos:s])
            pieces.append(rep)
            pos = e
        pieces.append(word[pos:])
        candidates.append("".join(pieces))
    for cand in candidates:
        if cand in vocab:
            return cand
    for cand in candidates:
        if cand in SMS_WORDS:
            return cand

    # Unknown word: keep legitimate doubles, squeeze longer runs to two letters
    # and never-doubled letters to one.
    def fallback(m: re.Match[str]) -> str:
        c = m.group(1)
        if c in _NEVER_DOUBLE or (m.end() == len(word) and m.end() - m.start() > 2):
            return c
        return c * 2

    return _RUN_RE.sub(fallback, word)


def normalize(text: str, vocab: Iterable[str] | None = None) -> str:
    """Return the canonical form of ``text`` that rules are matched against."""
    if not text:
        return ""
    vocab_set = (
        BASE_VOCABULARY if vocab is None else (vocab if isinstance(vocab, frozenset) else frozenset(vocab))
    )
    return _finish(_squeezed(_words(text), vocab_set))


def normalize_pair(text: str, vocab: frozenset[str]) -> tuple[str, str]:
    """(``normalize(text, vocab)``, ``normalize(text)``), the shared steps done once: the two differ
    only where a letter run is resolved against the vocabulary ("diieee"), which few texts have."""
    if not text:
        return "", ""
    words = _words(text)
    own = _squeezed(words, vocab)
    base = own if vocab is BASE_VOCABULARY else _squeezed(words, BASE_VOCABULARY)
    done = _finish(own)
    return done, done if base == own else _finish(base)


def _words(text: str) -> list[str]:
    """Steps 1-5: the text's words and clause marks, before letter runs are resolved."""
    if text.isascii():  # most texts: no emoji, invisible marks, compatibility forms or accents
        s = text.replace("`", "'").lower()
    else:
        s = _INVISIBLE_RE.sub("", text)
        s = _EMOJI_RE.sub(lambda m: EMOJI_WORDS[m.group(0)], s)
        s = unicodedata.normalize("NFKC", s)
        s = s.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'").replace("\u00b4", "'")
        s = _strip_accents(s.lower())
    if "'" in s:  # every contraction has an apostrophe ("cannot" is also an SMS word)
        for pat, rep in _CONTRACTIONS:
            s = pat.sub(rep, s)
    s = " ".join(_leet(tok) for tok in _TOKEN_RE.findall(s))
    s = _CLAUSE_PUNCT_RE.sub(" , ", s)
    s = _OTHER_PUNCT_RE.sub(" ", s)
    return s.split()


def _squeezed(words: list[str], vocab: frozenset[str]) -> list[str]:
    """Steps 6 and the word part of 7: letter runs resolved, SMS spellings expanded."""
    out = []
    for w in words:
        if w != ",":
            w = squeeze_word(w, vocab)
            w = SMS_WORDS.get(w, w)
        out.append(w)
    return out


def _finish(words: list[str]) -> str:
    """The rest of step 7 (slang phrases) and the final spacing."""
    s = " ".join(words)
    admitted = _slang_admitted(s)
    for n, (pat, rep) in enumerate(SLANG_PHRASES):
        if n in admitted:
            new = pat.sub(rep, s)
            if new != s:  # later phrases are gated on the text as it is now
                s = new
                admitted = _slang_admitted(s)
    s = _COMMAS_RE.sub(", ", s)
    s = _SPACES_RE.sub(" ", s).strip(" ,")
    return s

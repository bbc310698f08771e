"""Statistical second opinion for the risk rules: it can only RAISE a level, never lower it.

The rules engine is the primary judge and keeps every guarantee and every reason.  This module
adds one more signal: a linear model over word 1-3 grams (negation scope marked) and character 2-5 grams of the rules
engine's *normalised* text (slang, accents, look-alike digits are handled once, by
``normalize``), English and Spanish together; the two kinds of n-gram are tf-idf weighted and
l2-normalised each on its own, side by side (a union of two vectorizers).  It has two heads: P(level >= urgent) and
P(level == crisis).  When a head is confident (its probability reaches a threshold chosen on
cross-validation so that harmless messages are rarely alarmed; a text both heads find likely is
crisis at a lower crisis threshold; a text the rules already call urgent is crisis at a lower one
still, since two judges agree; beside a match the rules read as past, someone else's, hypothetical or
explained by an ordinary reason the joint test asks for more) and the rules gave a lower level,
the level is raised and the assessment says so in plain words for the facilitators.

The model ships as plain JSON (``checkin/rules/risk_model.json``: per n-gram its idf and one
weight per head, plus the thresholds), read lazily once.  Inference is pure Python: no pickle,
no numpy, nothing that can execute code from the file.  ``make classifier`` retrains it
deterministically from the corpus (see ``checkin.rules.train_classifier``).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .engine import Assessment, level_rank
from .normalize import normalize

log = logging.getLogger("checkin.rules.classifier")

MODEL_PATH = Path(__file__).resolve().parent / "risk_model.json"
MODEL_FORMAT = "checkin-risk-ngram-logreg/6"
# /4 (was /3: one l2 norm over all n-grams): with ``block_weights``, the word ("w:") and character
# ("c:") n-grams are l2-normalised each on its own block and weighted so, and the many character
# n-grams of a text no longer drown its few words; without it, one norm over all.
# /5: the level also depends on the rules' level (``threshold_crisis_agree``) and the joint crisis
# test has its own urgent threshold (``threshold_urgent_joint``); a /4 reader would ignore both.
# /6: the joint crisis test has a stricter crisis threshold (``threshold_crisis_joint_ordinary``) when
# the rules read a match as past, third-party, hypothetical or explained by an ordinary reason.

# What a facilitator reads next to the rules' reasons (the rule list of the Assessment).
REASONS = {
    "classifier.crisis": "wording close to past crisis messages (statistical check, no rule matched at this level)",
    "classifier.urgent": "wording close to past urgent messages (statistical check, no rule matched at this level)",
}

# Below this many words the model has too little to go on (one n-gram dominates an l2-normalised
# vector: "Voy", an RSVP, would read like "voy a matarme"); short replies are the rules' alone.
MIN_WORDS = 4

WORD_NGRAMS = (1, 3)
CHAR_NGRAMS = (2, 5)
# Negation scope for the word n-grams: after a negator, the next NEGATION_SCOPE words up to a clause
# mark are read as negated ("N_" + word, which no normalised word can spell), so "no quiero morir"
# and "quiero morir" share their character n-grams but not their words.  English and Spanish.
NEGATORS = frozenset(
    ("not", "no", "never", "nunca", "ni", "nadie", "nothing", "nada", "without", "sin", "jamas", "tampoco")
)
NEGATION_SCOPE = 3
_MAX_KNOWN_WORDS = 1 << 16  # words whose known character n-grams are kept (then the memo starts again)

# The rules' notes that a match they found has an ordinary reading (`engine._evaluate`): a past event,
# someone else, a hypothetical, an ordinary reason in the clause ("for deer season").  Beside one, the
# joint crisis test asks for more certainty (``Model.ordinary_joint``).  Negation is not among them:
# "I can't go on" is read as negated and is no ordinary reason.
ORDINARY_NOTES = frozenset(
    ("context.past", "context.third_party", "context.hypothetical", "context.explained")
)


def ordinary_reading(assessment: Assessment) -> bool:
    """Whether the rules noted an ordinary reading of something they matched in the message."""
    return not ORDINARY_NOTES.isdisjoint(assessment.rules)


def mark_negation(tokens: list[str]) -> list[str]:
    out, left = [], 0
    for t in tokens:
        if t == ",":
            left = 0
            out.append(t)
            continue
        out.append("N_" + t if left else t)
        if t in NEGATORS:
            left = NEGATION_SCOPE
        elif left:
            left -= 1
    return out


def features(norm: str, word_ngrams: tuple[int, int] = WORD_NGRAMS, negation: bool = True) -> list[str]:
    """The n-grams of a normalised text: ``w:`` word 1-3 grams (not across a clause mark; words in
    a negation's scope marked, see ``mark_negation``) and ``c:`` character 2-5 grams inside
    space-padded words (scikit-learn's ``char_wb``).  Training passes this very function to the
    vectorizer with the settings it writes into the model, so both sides agree by construction."""
    tokens = norm.split()
    out = list(_word_grams(tokens, word_ngrams, negation))
    for w in tokens:
        if w != ",":
            out.extend(_char_grams(w, *CHAR_NGRAMS))
    return out


def _word_grams(tokens: list[str], word_ngrams: tuple[int, int], negation: bool) -> Iterator[str]:
    """The ``w:`` word n-grams of a text's tokens, in order (none across a clause mark)."""
    grams = mark_negation(tokens) if negation else tokens
    lo, hi = word_ngrams
    for n in range(lo, hi + 1):
        for i in range(len(grams) - n + 1):
            gram = grams[i : i + n]
            if "," not in gram:
                yield "w:" + " ".join(gram)


@lru_cache(maxsize=1 << 16)
def _char_grams(word: str, lo: int, hi: int) -> tuple[str, ...]:
    """A word's character n-grams (memoised: members' words repeat from text to text)."""
    padded = f" {word} "
    return tuple(
        "c:" + padded[i : i + n]
        for n in range(lo, min(hi, len(padded)) + 1)
        for i in range(len(padded) - n + 1)
    )


@dataclass(frozen=True)
class Model:
    idf: dict[str, float]
    weights: dict[str, tuple[float, float]]  # feature -> (urgent head, crisis head)
    intercepts: tuple[float, float]
    thresholds: tuple[float, float]  # (urgent, crisis) probabilities needed to raise
    meta: dict
    # Crisis also when both heads agree: P(>= urgent) reaches its threshold and P(crisis) this lower
    # one (a text the model finds alarming and crisis-like, not merely crisis-like); None: never.
    joint_crisis: float | None = None
    # The feature settings the model was trained with (``features``' arguments).
    word_ngrams: tuple[int, int] = WORD_NGRAMS
    negation: bool = True
    # Per-block normalisation: block ("w" or "c", a feature's first letter) -> weight; None: one
    # norm over all features.
    block_weights: dict[str, float] | None = None
    # The urgent head's threshold in the joint crisis test (stricter than the one that raises to
    # urgent, so that spending more of the harmless budget on urgent does not let more harmless
    # lines up to crisis); None: the urgent threshold.
    joint_urgent: float | None = None
    # Crisis when the rules already say urgent, the urgent head agrees and P(crisis) reaches this:
    # on outsiders' sets this raised crisis lines the rules held at urgent and no harmless line;
    # None: no such path.
    agree_crisis: float | None = None
    # The joint test's crisis threshold when the rules noted an ordinary reading (ORDINARY_NOTES): on
    # outsiders' sets most harmless lines the joint test let up to crisis carried such a note, and few
    # crisis lines; None: the joint threshold.
    ordinary_joint: float | None = None

    @classmethod
    def from_json(cls, data: dict) -> Model:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} model: {data.get('format')!r}")
        blocks = data.get("block_weights")
        names = data["features"]
        idf = data["idf"]
        wu, wc = data["coef_urgent"], data["coef_crisis"]
        if not (len(names) == len(idf) == len(wu) == len(wc)):
            raise ValueError("model arrays differ in length")
        return cls(
            idf={f: float(v) for f, v in zip(names, idf)},
            weights={f: (float(a), float(b)) for f, a, b in zip(names, wu, wc)},
            intercepts=(float(data["intercept_urgent"]), float(data["intercept_crisis"])),
            thresholds=(float(data["threshold_urgent"]), float(data["threshold_crisis"])),
            meta=dict(data.get("meta", {})),
            joint_crisis=_optional(data, "threshold_crisis_joint"),
            word_ngrams=tuple(data.get("word_ngrams", WORD_NGRAMS)),
            negation=bool(data.get("negation", True)),
            block_weights=None if blocks is None else {str(k): float(v) for k, v in blocks.items()},
            joint_urgent=_optional(data, "threshold_urgent_joint"),
            agree_crisis=_optional(data, "threshold_crisis_agree"),
            ordinary_joint=_optional(data, "threshold_crisis_joint_ordinary"),
        )

    def __post_init__(self):
        # One look-up per n-gram (idf, both weights and its block together): a 1,600-character text
        # has thousands of n-grams, and three dict look-ups each was most of its cost.
        blocks = self.block_weights is not None
        # For an n-gram seen once (most), its terms of the sums are worked out here: the same floats.
        table = {
            f: (
                idf,
                *self.weights[f],
                f[0] if blocks else "",
                idf * idf,
                self.weights[f][0] * idf,
                self.weights[f][1] * idf,
            )
            for f, idf in self.idf.items()
        }
        object.__setattr__(self, "_table", table)
        # Per word seen, its character n-grams that the model knows (members' words repeat).
        object.__setattr__(self, "_known_char_grams", {})

    def known_features(self, norm: str) -> tuple[list[str], list[str]]:
        """``features(norm)`` (with this model's settings) less the n-grams the model does not know, in
        the same order: (the word n-grams, the character n-grams)."""
        table = self._table
        tokens = norm.split()
        words = [f for f in _word_grams(tokens, self.word_ngrams, self.negation) if f in table]
        chars: list[str] = []
        known = self._known_char_grams
        for w in tokens:
            if w == ",":
                continue
            fs = known.get(w)
            if fs is None:
                if len(known) >= _MAX_KNOWN_WORDS:
                    known.clear()
                fs = known[w] = tuple(f for f in _char_grams(w, *CHAR_NGRAMS) if f in table)
            chars.extend(fs)
        return words, chars

    def probabilities(self, norm: str) -> tuple[float, float]:
        """(P(level >= urgent), P(level == crisis)) for a normalised text."""
        table = self._table
        blocks = self.block_weights
        words, chars = self.known_features(norm)
        # sublinear tf * idf, l2-normalised: exactly scikit-learn's TfidfVectorizer settings used
        # (per block and weighted, for a /4 model: the trainer's union of two vectorizers).  Per
        # block: the squared norm and both heads' dot products, scaled once at the end.  The word
        # block comes first, then the characters, and each n-gram in the order of ``features``: the
        # sums are added in one order, so the probabilities are the same floats every time.
        zu, zc = self.intercepts
        for feats in (words, chars) if blocks is not None else (words + chars,):
            sq = du = dc = 0.0
            key = ""
            for f, c in Counter(feats).items():
                idf, a, b, key, vv, av, bv = table[f]
                if c == 1:  # log(1) = 0: v = (1 + 0) * idf is idf
                    sq += vv
                    du += av
                    dc += bv
                else:
                    v = (1.0 + math.log(c)) * idf
                    sq += v * v
                    du += a * v
                    dc += b * v
            if sq > 0:
                k = (blocks.get(key, 1.0) if blocks is not None else 1.0) / math.sqrt(sq)
                zu += k * du
                zc += k * dc
        return _sigmoid(zu), _sigmoid(zc)

    def level(self, norm: str, rules_level: str = "none", ordinary: bool = False) -> str:
        """The level this model would raise to beside the rules' ``rules_level`` ("none" when not
        confident or when the text is shorter than MIN_WORDS words); ``ordinary``: the rules noted an
        ordinary reading (``ordinary_reading``)."""
        if not long_enough(norm):
            return "none"
        return self.decide(*self.probabilities(norm), rules_level, ordinary)

    def decide(self, pu: float, pc: float, rules_level: str = "none", ordinary: bool = False) -> str:
        """The level for the heads' probabilities beside the rules' level (the thresholds alone)."""
        tu, tc = self.thresholds
        if pc >= tc:
            return "crisis"
        if self.agree_crisis is not None and rules_level == "urgent" and pu >= tu and pc >= self.agree_crisis:
            return "crisis"
        joint_urgent = tu if self.joint_urgent is None else self.joint_urgent
        joint = self.ordinary_joint if ordinary and self.ordinary_joint is not None else self.joint_crisis
        if joint is not None and pc >= joint and pu >= joint_urgent:
            return "crisis"
        return "urgent" if pu >= tu else "none"


def _optional(data: dict, key: str) -> float | None:
    return None if data.get(key) is None else float(data[key])


def long_enough(norm: str) -> bool:
    return sum(1 for t in norm.split() if t != ",") >= MIN_WORDS


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def load_model(path: str | Path = MODEL_PATH) -> Model:
    with open(path, encoding="utf-8") as fh:
        return Model.from_json(json.load(fh))


@lru_cache(maxsize=1)
def shipped_model() -> Model:
    """The model shipped with the package, loaded once on first use."""
    return load_model(MODEL_PATH)


def second_opinion(
    text: str,
    model: Model | None = None,
    rules_level: str = "none",
    ordinary: bool = False,
    norm: str | None = None,
) -> str:
    """The classifier's level for a raw message beside the rules' level: "crisis", "urgent" or
    "none" (not confident).  ``norm``: ``normalize(text)``, when the caller has it already."""
    m = model if model is not None else shipped_model()
    return m.level(normalize(text or "") if norm is None else norm, rules_level, ordinary)


def apply_second_opinion(
    text: str, assessment: Assessment, model: Model | None = None, norm: str | None = None
) -> Assessment:
    """``assessment`` raised to the classifier's level when that is higher, with the reason
    ``classifier.<level>`` appended; otherwise ``assessment`` itself.  Never lowers a level, never
    drops a rule or a match, never raises: if the model cannot be read the rules' verdict stands.
    ``norm``: ``normalize(text)`` (base vocabulary), when the rules made it alongside their own."""
    if assessment.level == "crisis":
        return assessment
    try:
        level = second_opinion(text, model, assessment.level, ordinary_reading(assessment), norm)
    except Exception as exc:
        log.error("risk classifier failed (%s); keeping the rules' level", type(exc).__name__)
        return assessment
    if level_rank(level) <= level_rank(assessment.level):
        return assessment
    return Assessment(level, (*assessment.rules, f"classifier.{level}"), assessment.matches)

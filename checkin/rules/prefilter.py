"""Which rules can match a text at all, found without running their regexes.

Each rule's regex requires a conjunction of *clauses*, each a set of literal strings of which a
match holds at least one (literals.py).  Per text, every literal of every rule is looked up in one
pass (a literal is filed under its rarest letter trigram, so only the literals whose trigram is in the
text are substring-tested), and a rule is a candidate only if each of its clauses has a literal in
the text.  A rule that is not a candidate cannot match, so the verdicts are exactly those of running
every regex on every text; only the work differs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .literals import Clause
from .normalize import BASE_VOCABULARY

_WORDISH = re.compile(r"[a-z0-9]+")
_MAX_WORDS = 1 << 16  # words whose filed literals are kept (then the memo starts again)


def _common_grams() -> dict[str, int]:
    counts: dict[str, int] = {}
    for word in BASE_VOCABULARY:
        for n in (2, 3):
            for i in range(len(word) - n + 1):
                counts[word[i : i + n]] = counts.get(word[i : i + n], 0) + 1
    return counts


_GRAM_COUNTS = _common_grams()


def _grams(literal: str) -> list[str]:
    """The letter trigrams of a literal, or its letter bigrams if it has no trigram: the grams a text
    holds if it holds the literal (letters and digits only: masking blanks words into spaces and
    commas, so it never makes such a gram)."""
    for n in (3, 2):
        grams = [w[i : i + n] for w in _WORDISH.findall(literal) for i in range(len(w) - n + 1)]
        if grams:
            return grams
    return []


class Prefilter:
    """The candidate rules of a text, in rule order, from the rules' required literals."""

    def __init__(self, requirements: Sequence[tuple[Clause, ...]]):
        # A clause with a literal that has no letter gram cannot be looked up: it is not tested.
        requirements = [tuple(c for c in clauses if all(map(_grams, c))) for clauses in requirements]
        clause_ids: dict[Clause, int] = {}
        for clauses in requirements:
            for clause in clauses:
                clause_ids.setdefault(clause, len(clause_ids))
        # Each literal is filed under one of its grams: the rarest in everyday words, then among the
        # literals (so that few literals share a gram and a text's grams bring few substring tests).
        in_literals: dict[str, int] = {}
        for lit in {lit for clause in clause_ids for lit in clause}:
            for gram in set(_grams(lit)):
                in_literals[gram] = in_literals.get(gram, 0) + 1
        by_gram: dict[str, list[str]] = {}
        clauses_of: dict[str, list[int]] = {}
        for clause, cid in clause_ids.items():
            for lit in clause:
                if lit not in clauses_of:
                    key = min(_grams(lit), key=lambda g: (_GRAM_COUNTS.get(g, 0), in_literals[g], g))
                    by_gram.setdefault(key, []).append(lit)
                clauses_of.setdefault(lit, []).append(cid)
        by_literal: dict[str, list[int]] = {}  # literal -> the rules it may admit (those of its first clause)
        for pos, clauses in enumerate(requirements):
            for lit in clauses[0] if clauses else ():
                by_literal.setdefault(lit, []).append(pos)
        # Sets of clauses are bit masks (bit n: the clause numbered n): a text's met clauses are the OR
        # of its literals' masks, and a rule is a candidate if its mask is all met.
        self._by_trigram = {g: tuple(sorted(lits)) for g, lits in by_gram.items() if len(g) == 3}
        self._by_bigram = {g: tuple(sorted(lits)) for g, lits in by_gram.items() if len(g) == 2}
        self._clauses_of = {lit: sum(1 << cid for cid in set(ids)) for lit, ids in clauses_of.items()}
        self._by_literal = {lit: tuple(ps) for lit, ps in by_literal.items()}
        self._always = frozenset(pos for pos, clauses in enumerate(requirements) if not clauses)
        self._needs = [sum(1 << clause_ids[c] for c in set(clauses)) for clauses in requirements]
        self._in_word: dict[str, tuple[str, ...]] = {}

    def literals_in(self, text: str) -> set[str]:
        """The rules' literals that occur in ``text``."""
        found: set[str] = set()
        memo = self._in_word
        # Every key gram is letters and digits, so it lies inside one word of any text that holds it.
        for word in set(text.split()):
            lits = memo.get(word)
            if lits is None:
                lits = self._filed_in(word)
            for lit in lits:
                if lit in text:
                    found.add(lit)
        return found

    def _filed_in(self, word: str) -> tuple[str, ...]:
        """The literals filed under a gram of ``word`` (kept: members' words repeat from text to text)."""
        by_trigram, by_bigram = self._by_trigram, self._by_bigram
        lits: dict[str, None] = {}
        for i in range(len(word) - 1):
            lits.update(dict.fromkeys(by_trigram.get(word[i : i + 3], ())))
            lits.update(dict.fromkeys(by_bigram.get(word[i : i + 2], ())))
        if len(self._in_word) >= _MAX_WORDS:
            self._in_word.clear()
        found = self._in_word[word] = tuple(lits)
        return found

    def candidates(self, text: str) -> tuple[int, ...]:
        """Positions (in order) of the rules that may match ``text``: those whose every clause has a
        literal in it, and those that require nothing known."""
        met = 0  # the clauses the text meets
        found = set(self._always)
        clauses_of, by_literal = self._clauses_of, self._by_literal
        for lit in self.literals_in(text):
            met |= clauses_of[lit]
            found.update(by_literal.get(lit, ()))
        needs = self._needs
        return tuple(sorted(pos for pos in found if needs[pos] & met == needs[pos]))

"""Which rules can match a text at all, found without running their regexes.

At load, each rule's regex is parsed for what every match must contain: a conjunction of
*clauses*, each a set of literal strings of which a match holds at least one ("kill (?:myself|me)"
needs "kill" and one of "myself"/"me").  Per text, every literal of every rule is looked up in one
pass (a literal is filed under its rarest letter trigram, so only the literals whose trigram is in the
text are substring-tested), and a rule is a candidate only if each of its clauses has a literal in
the text.  A rule that is not a candidate cannot match, so the verdicts are exactly those of running
every regex on every text; only the work differs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as sre_c
from re import _parser as sre_parse
from typing import NamedTuple

from .normalize import BASE_VOCABULARY

_MIN_LITERAL = 2  # a shorter literal ("a", " ") is in nearly every text: no use as a test
_MAX_CLAUSES = 6  # beyond the few most telling clauses, testing costs more than it saves
_MAX_EXACT = 32  # strings spelt out for one part of a pattern (more cost more than they save)

Clause = frozenset[str]


class PatternFacts(NamedTuple):
    """What a rule's regex tells before any text: the clauses every match satisfies, most telling
    first (() if none is known), and whether every match starts at the start of the text."""

    requires: tuple[Clause, ...] = ()
    anchored: bool = False


def read_pattern(pattern: str) -> PatternFacts:
    """The facts of ``pattern`` (parsed once for both).

    For the clauses: a sequence requires what each of its items requires; consecutive items that can
    only spell a few strings ("took (?:an? )?overdoses?") require one of those strings; a repeat that
    must occur at least once requires what its body requires; an alternation requires, for each way
    of picking one clause per branch, the union of the picked clauses (the i-th most telling of each
    branch here).  Anything else (classes, lookarounds, optional parts, flags) requires nothing,
    which is always safe.
    """
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # pragma: no cover - the loader compiled it already
        return PatternFacts()
    flags = parsed.state.flags
    requires: tuple[Clause, ...] = ()
    if not flags & (re.IGNORECASE | re.VERBOSE):
        clauses = _Walk().sequence(parsed)
        requires = tuple(_tidy([_shortest(c) for c in clauses])[:_MAX_CLAUSES])
    return PatternFacts(requires, not flags & re.MULTILINE and _anchored(parsed))


def _rank(clause: Clause) -> tuple[int, int]:
    """Sort key, most telling first: the shortest literal long, then few literals."""
    return (-min(map(len, clause)), len(clause))


def _tidy(clauses: list[Clause]) -> list[Clause]:
    """The clauses long enough to test, most telling first, without those another one implies."""
    out = sorted((c for c in clauses if min(map(len, c)) >= _MIN_LITERAL), key=_rank)
    kept: list[Clause] = []
    for clause in out:
        if not any(k <= clause for k in kept):
            kept.append(clause)
    return kept


def _shortest(clause: Clause) -> Clause:
    """The clause without the literals that contain another of its literals (found whenever they are)."""
    by_head: dict[str, list[str]] = {}  # kept literals by their first two characters
    for lit in sorted(clause, key=len):
        if not any(
            lit.startswith(k, i) for i in range(len(lit) - 1) for k in by_head.get(lit[i : i + 2], ())
        ):
            by_head.setdefault(lit[:2], []).append(lit)
    return frozenset(lit for kept in by_head.values() for lit in kept)


_SMALL_CLASS = 10  # a class of at most this many characters ("[0-7]") is spelt out


class _Walk:
    """One pattern's parse tree, walked for its literals (what an item can spell is worked out once)."""

    def __init__(self) -> None:
        self._exact: dict[int, set[str] | None] = {}

    def exact(self, op, av) -> set[str] | None:
        """Every string the item can match, if that is a short list of literals ("o(?:verdosed|d)s?"
        -> overdosed, overdoseds, od, ods); else None."""
        if op is sre_c.LITERAL:
            return {chr(av)}
        if op is sre_c.IN:
            chars: set[str] = set()
            for o, a in av:
                if o is sre_c.LITERAL:
                    chars.add(chr(a))
                elif o is sre_c.RANGE and a[1] - a[0] < _SMALL_CLASS:
                    chars.update(map(chr, range(a[0], a[1] + 1)))
                else:
                    return None
            return chars if len(chars) <= _SMALL_CLASS else None
        if op not in (sre_c.SUBPATTERN, sre_c.BRANCH, sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            return None  # anchors, lookarounds, categories, back references
        key = id(av)
        if key not in self._exact:
            self._exact[key] = self._spell(op, av)
        return self._exact[key]

    def _spell(self, op, av) -> set[str] | None:
        if op is sre_c.SUBPATTERN:
            _group, add_flags, _del_flags, body = av
            return None if add_flags & (re.IGNORECASE | re.VERBOSE) else self.exact_sequence(body)
        if op is sre_c.BRANCH:
            found: set[str] = set()
            for branch in av[1]:
                part = self.exact_sequence(branch)
                if part is None:
                    return None
                found |= part
            return found if len(found) <= _MAX_EXACT else None
        low, high, body = av  # a repeat
        if high > 2:
            return None
        spelt = self.exact_sequence(body)
        if spelt is None:
            return None
        found, power = set(), {""}
        for times in range(high + 1):
            if times >= low:
                found |= power
            power = {a + b for a in power for b in spelt}
        return found if len(found) <= _MAX_EXACT else None

    def exact_sequence(self, items) -> set[str] | None:
        found = {""}
        for op, av in items:
            item = self.exact(op, av)
            if item is None:
                return None
            found = {a + b for a in found for b in item}
            if len(found) > _MAX_EXACT:
                return None
        return found

    def sequence(self, items) -> list[Clause]:
        """The clauses a sequence of items requires."""
        clauses: list[Clause] = []
        run = {""}  # the strings the items since the last one that is not exact spell together
        for op, av in items:
            item = self.exact(op, av)
            if item is not None:
                joined = {a + b for a in run for b in item}
                if len(joined) > _MAX_EXACT:
                    if "" not in run:
                        clauses.append(frozenset(run))
                    joined = item
                run = joined
                continue
            if "" not in run:
                clauses.append(frozenset(run))
            run = {""}
            if op is sre_c.SUBPATTERN:
                _group, add_flags, _del_flags, body = av
                if not add_flags & (re.IGNORECASE | re.VERBOSE):
                    clauses += self.sequence(body)
            elif op is sre_c.BRANCH:
                parts = [self.sequence(branch) for branch in av[1]]
                if all(parts):
                    for i in range(max(map(len, parts))):
                        clauses.append(frozenset().union(*(p[min(i, len(p) - 1)] for p in parts)))
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] >= 1:
                clauses += self.sequence(av[2])
        if "" not in run:
            clauses.append(frozenset(run))
        return _tidy(clauses)


_WORDISH = re.compile(r"[a-z0-9]+")


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

    def literals_in(self, text: str) -> set[str]:
        """The rules' literals that occur in ``text``."""
        found: set[str] = set()
        by_trigram, by_bigram = self._by_trigram, self._by_bigram
        # A loop over the text's slices, each looked up: cheaper than building its set of grams.
        for i in range(len(text) - 1):
            lits = by_trigram.get(text[i : i + 3])
            if lits is not None:
                for lit in lits:
                    if lit in text:
                        found.add(lit)
            lits = by_bigram.get(text[i : i + 2])
            if lits is not None:
                for lit in lits:
                    if lit in text:
                        found.add(lit)
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


def _anchored(items) -> bool:
    """Whether each branch opens with ``^`` or ``\\A`` (after lookarounds only): then one ``match``
    finds what ``finditer`` would."""
    for op, av in items:
        if op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            continue  # zero-width: looks around the same position
        if op is sre_c.AT:
            return av in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING)
        if op is sre_c.SUBPATTERN:
            return not av[1] & re.MULTILINE and _anchored(av[-1])
        if op is sre_c.BRANCH:
            return all(_anchored(branch) for branch in av[1])
        return False
    return False

"""What a regex requires of any text it matches, read from the regex itself (no text needed).

``read_pattern`` parses a pattern once for a conjunction of *clauses*, each a set of literal strings
of which every match holds at least one ("kill (?:myself|me)" needs "kill" and one of "myself"/"me"),
and for whether every match starts at the start of the text.  A text that lacks a literal of some
clause cannot match: the rules' prefilter (prefilter.py) and the normaliser's slang phrases skip such
texts and get exactly the results of running the regex.
"""

from __future__ import annotations

import re
from re import _constants as sre_c
from re import _parser as sre_parse
from typing import NamedTuple

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

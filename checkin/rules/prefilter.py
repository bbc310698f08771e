"""Which rules can match a text at all, found without running their regexes.

Each rule's regex requires a conjunction of *clauses*, each a set of literal strings of which a
match holds at least one (literals.py).  Per text, every literal of every rule is found in one pass
(an Aho-Corasick automaton), and a rule is a candidate only if each of its clauses has a literal in
the text.  A rule that is not a candidate cannot match, so the verdicts are exactly those of running
every regex on every text; only the work differs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ahocorasick

from .literals import Clause

# A literal without two letters or digits in a row ("i ", " s") is in nearly every text: a clause that
# holds one tells nothing and is not tested (its rule is then tested on its other clauses).
_TELLING = re.compile(r"[a-z0-9]{2}")


class Prefilter:
    """The candidate rules of a text, in rule order, from the rules' required literals."""

    def __init__(self, requirements: Sequence[tuple[Clause, ...]]):
        requirements = [tuple(c for c in clauses if all(map(_TELLING.search, c))) for clauses in requirements]
        clause_ids: dict[Clause, int] = {}
        for clauses in requirements:
            for clause in clauses:
                clause_ids.setdefault(clause, len(clause_ids))
        # Sets of clauses are bit masks (bit n: the clause numbered n): a text's met clauses are the OR
        # of its literals' masks, and a rule is a candidate if its mask is all met.  Per literal: the
        # clauses it meets, and the rules it may admit (those whose first clause holds it).
        meets: dict[str, int] = {}
        admits: dict[str, list[int]] = {}
        for clause, cid in clause_ids.items():
            for lit in clause:
                meets[lit] = meets.get(lit, 0) | 1 << cid
        for pos, clauses in enumerate(requirements):
            for lit in clauses[0] if clauses else ():
                admits.setdefault(lit, []).append(pos)
        self._automaton = ahocorasick.Automaton()
        for lit, mask in meets.items():
            self._automaton.add_word(lit, (mask, tuple(admits.get(lit, ()))))
        if meets:
            self._automaton.make_automaton()
        self._always = frozenset(pos for pos, clauses in enumerate(requirements) if not clauses)
        self._needs = [sum(1 << clause_ids[c] for c in set(clauses)) for clauses in requirements]

    def candidates(self, text: str) -> tuple[int, ...]:
        """Positions (in order) of the rules that may match ``text``: those whose every clause has a
        literal in it, and those that require nothing known."""
        met = 0  # the clauses the text meets
        found = set(self._always)
        if self._automaton.kind == ahocorasick.AHOCORASICK:  # some literal to look for
            for _end, (meets, admits) in self._automaton.iter(text):  # every occurrence (few repeat)
                met |= meets
                found.update(admits)
        needs = self._needs
        return tuple(sorted(pos for pos in found if needs[pos] & met == needs[pos]))

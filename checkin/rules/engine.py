"""Risk rules engine: rule files -> compiled RuleSet -> Assessment.

Rule files are TOML (see config/rules/en.toml for the documented format).
Everything is compiled once at load; ``assess`` only runs compiled regexes
over the normalised text and walks a few tokens around each match.
"""

from __future__ import annotations

import logging
import re
import tomllib
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from .literals import PatternFacts, read_pattern
from .normalize import BASE_VOCABULARY, _strip_accents, normalize, normalize_pair
from .prefilter import Prefilter

log = logging.getLogger("checkin.rules")


class Level(StrEnum):
    """The engine's verdict, lowest first (stored and shown as these words)."""

    NONE = "none"
    WATCH = "watch"
    URGENT = "urgent"
    CRISIS = "crisis"


LEVELS: tuple[str, ...] = tuple(level.value for level in Level)
_RANK = {name: i for i, name in enumerate(LEVELS)}
SOURCES = ("sms", "voice_speech", "voice_keypad_help")
ALL_LANGUAGES = "all"  # assess(language=ALL_LANGUAGES): every language, the highest verdict wins
CONTEXT_KINDS = ("negation", "third_party", "past", "hypothetical")
# The clause-level "ordinary reason" tags (see `_evaluate`, step 2b): a rule that lists ORDINARY (any
# ordinary reason) or "ordinary.<kind>" (that kind only) under `unless` is lowered by a hit tagged
# ORDINARY and that tag only when the hit is in the same clause (`reason_breaks` split clauses), and
# never when any hit in the message is tagged DANGER ("danger.<kind>": not by "ordinary.<kind>").
ORDINARY = "ordinary"
DANGER = "danger"

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[2] / "config" / "rules"
DEFAULT_RULE_FILES = (
    DEFAULT_RULES_DIR / "en.toml",
    DEFAULT_RULES_DIR / "es.toml",
    DEFAULT_RULES_DIR / "families.toml",  # constructs composed from parts, both languages
)


def level_rank(level: str) -> int:
    """0 for "none" ... 3 for "crisis"; raises ValueError for an unknown level."""
    try:
        return _RANK[level]
    except KeyError:
        raise ValueError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}") from None


def _max_level(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def _min_level(a: str, b: str) -> str:
    return a if _RANK[a] <= _RANK[b] else b


class RuleFileError(Exception):
    """A rule file could not be loaded.  ``str(err)`` is ``"<file>:<line>: <reason>"``."""

    def __init__(self, file: str | Path, line: int | None, reason: str):
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Assessment:
    level: str
    rules: tuple[str, ...] = ()
    matches: tuple[str, ...] = ()


@dataclass(frozen=True)
class AssessmentContext:
    score: int | None = None
    recent_scores: tuple[int, ...] = ()
    missed_checkins_in_a_row: int = 0
    source: str = "sms"


@dataclass(frozen=True)
class Rule:
    id: str
    level: str
    reason: str
    regex: re.Pattern[str]
    language: str = "any"
    tags: frozenset[str] = frozenset()
    mask: bool = False
    context: frozenset[str] = frozenset(CONTEXT_KINDS)
    negated_level: str = "none"
    capped_level: str = "watch"  # level when third-party / past / hypothetical
    file: str = ""
    line: int | None = None
    unless: frozenset[str] = frozenset()  # tags that explain the match away (cap it, drop its tags)


@dataclass(frozen=True)
class Combine:
    id: str
    level: str
    reason: str
    requires: tuple[str, ...]
    unless: tuple[str, ...] = ()
    language: str = "any"
    file: str = ""
    line: int | None = None


@dataclass(frozen=True)
class ContextWords:
    negation_cues: frozenset[str] = frozenset()
    negation_fillers: frozenset[str] = frozenset()
    hypothetical_cues: frozenset[str] = frozenset()
    hypothetical_fillers: frozenset[str] = frozenset()
    clause_breaks: frozenset[str] = frozenset({","})
    first_person: frozenset[str] = frozenset()
    third_person: frozenset[str] = frozenset()
    past_markers: re.Pattern[str] | None = None
    recent_markers: re.Pattern[str] | None = None
    reason_breaks: frozenset[str] = frozenset({","})  # words that end a clause for an ordinary reason


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    combines: tuple[Combine, ...]
    context: ContextWords
    vocabulary: frozenset[str]
    files: tuple[str, ...] = ()
    _by_language: dict = field(default_factory=dict, compare=False, repr=False)

    def for_language(self, language: str | None) -> _Plan:
        """What applies to ``language`` (None = all), worked out once here rather than per message."""
        key = language or "*"
        plan = self._by_language.get(key)
        if plan is None:
            plan = self._by_language[key] = _Plan(self, language)
        return plan

    @property
    def prefilter(self) -> Prefilter:
        """The rules' required literals, indexed once (see checkin/rules/prefilter.py)."""
        pre = self._by_language.get("#prefilter")
        if pre is None:
            pre = self._by_language["#prefilter"] = Prefilter([_facts(r).requires for r in self.rules])
        return pre

    @property
    def finders(self) -> tuple:
        """Per rule position, a function from a text to the rule's matches."""
        found = self._by_language.get("#finders")
        if found is None:
            found = self._by_language["#finders"] = tuple(_finder(r) for r in self.rules)
        return found

    @property
    def phrases(self) -> tuple[str, ...]:
        """The literal phrases of all rules (used by the benchmark baseline)."""
        return tuple(p for r in self.rules for p in getattr(r, "_phrases", ()))


# --------------------------------------------------------------------------- prefilter


class _Plan:
    """Per rule position, whether it runs as a mask or a risk rule in one language; that language's
    combinations as (combine, required tag sets, unless tags, every tag it names), and, per tag, the
    combinations whose first requirement it meets (a combination none of whose first tags fired
    cannot fire, so only these are tested)."""

    def __init__(self, ruleset: RuleSet, language: str | None):
        def ok(lang: str) -> bool:
            return language is None or lang in ("any", language)

        self.masks = tuple(r.mask and ok(r.language) for r in ruleset.rules)
        self.risks = tuple(not r.mask and ok(r.language) for r in ruleset.rules)
        self.combos = tuple(
            (
                c,
                tuple(frozenset(req.split("|")) for req in c.requires),
                frozenset(c.unless),
                frozenset(t for req in c.requires for t in req.split("|")),
            )
            for c in ruleset.combines
            if ok(c.language)
        )
        by_tag: dict[str, list[int]] = {}
        for n, (_c, requires, _u, _w) in enumerate(self.combos):
            for tag in requires[0]:
                by_tag.setdefault(tag, []).append(n)
        self.combos_by_tag = {tag: tuple(ns) for tag, ns in by_tag.items()}


def _facts(rule: Rule) -> PatternFacts:
    """What the rule's regex requires of a text (see prefilter.py).  Worked out when a rule set is
    first used, not at load (a rule file being checked is never run)."""
    found = rule.__dict__.get("_facts")
    if found is None:
        found = read_pattern(rule.regex.pattern)
        object.__setattr__(rule, "_facts", found)
    return found


def _finder(rule: Rule):
    """The rule's ``finditer``, or for a rule anchored at the start of the text, one ``match``."""
    regex = rule.regex
    if not _facts(rule).anchored:
        return regex.finditer

    def match_at_start(text: str) -> tuple[re.Match[str], ...]:
        m = regex.match(text)
        return () if m is None else (m,)

    return match_at_start


# --------------------------------------------------------------------------- loading

_MACRO_RE = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_HEADER_RE = re.compile(r"^[ \t]*\[\[[ \t]*(rule|combine)[ \t]*\]\]", re.M)
_ID_LINE_RE = re.compile(r"^[ \t]*id[ \t]*=", re.M)
_ALLOWED_RULE_KEYS = {
    "id",
    "level",
    "reason",
    "pattern",
    "patterns",
    "phrases",
    "tags",
    "mask",
    "context",
    "negated_level",
    "capped_level",
    "language",
    "note",
    "examples",
    "unless",
}
_ALLOWED_COMBINE_KEYS = {"id", "level", "reason", "requires", "unless", "language", "note", "examples"}
_ALLOWED_TOP_KEYS = {"language", "macros", "context", "rule", "combine", "description", "version", "unless"}


def _table_lines(text: str) -> dict[str, list[tuple[int, int | None]]]:
    """For each [[rule]] / [[combine]] header, in order: (header line, id line)."""
    out: dict[str, list[tuple[int, int | None]]] = {"rule": [], "combine": []}
    headers = [(m.group(1), text.count("\n", 0, m.start()) + 1, m.end()) for m in _HEADER_RE.finditer(text)]
    for i, (kind, line, end) in enumerate(headers):
        stop = headers[i + 1][2] if i + 1 < len(headers) else len(text)
        m = _ID_LINE_RE.search(text, end, stop)
        id_line = text.count("\n", 0, m.start()) + 1 if m else None
        out[kind].append((line, id_line))
    return out


def _expand_macros(pattern: str, macros: dict[str, str], file: str, line: int | None, seen=()) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in macros:
            raise RuleFileError(file, line, f"unknown macro {{{name}}} in pattern")
        if name in seen:
            raise RuleFileError(file, line, f"macro {{{name}}} refers to itself")
        return "(?:" + _expand_macros(macros[name], macros, file, line, seen + (name,)) + ")"

    return _MACRO_RE.sub(sub, pattern)


def _fold(s: str) -> str:
    return _strip_accents(s.lower()).strip()


def _words_of(s: str) -> Iterable[str]:
    return re.findall(r"[a-z]{2,}", s)


def _str_list(value, what: str, file: str, line: int | None) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleFileError(file, line, f"{what} must be a string or a list of strings")
    return list(value)


class _Loader:
    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.combines: list[Combine] = []
        self.ids: dict[str, str] = {}
        self.macros: dict[str, str] = {}
        self.ctx: dict[str, set[str]] = {}
        self.past: list[str] = []
        self.recent: list[str] = []
        self.vocab: set[str] = set(BASE_VOCABULARY)
        self.phrases: dict[str, tuple[str, ...]] = {}
        self.unless: dict[str, tuple[set[str], str]] = {}  # rule id -> (tags, file): [unless] tables

    def load(self, path: Path) -> None:
        file = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleFileError(
                file, None, f"cannot read rule file: {exc.__class__.__name__}: {exc}"
            ) from exc
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise RuleFileError(file, int(m.group(1)) if m else None, f"TOML syntax error: {exc}") from exc
        lines = _table_lines(text)
        unknown = set(data) - _ALLOWED_TOP_KEYS
        if unknown:
            raise RuleFileError(file, None, f"unknown top-level key(s): {', '.join(sorted(unknown))}")
        file_lang = data.get("language", "any")
        if file_lang not in ("any", "en", "es"):
            raise RuleFileError(file, 1, f"unknown language {file_lang!r} (expected en, es or any)")
        macros = data.get("macros", {})
        if not isinstance(macros, dict) or not all(isinstance(v, str) for v in macros.values()):
            raise RuleFileError(file, None, '[macros] must map NAME = "regex"')
        self.macros.update(macros)
        self._load_context(data.get("context", {}), file, text)
        extra_unless = data.get("unless", {})
        if not isinstance(extra_unless, dict):
            raise RuleFileError(file, None, '[unless] must map "rule id" = [tags...]')
        for rid, tags in extra_unless.items():
            words = _str_list(tags, f"unless.{rid}", file, None)
            self.unless.setdefault(rid, (set(), file))[0].update(words)

        rules = data.get("rule", [])
        if not isinstance(rules, list):
            raise RuleFileError(file, None, "rules must be written as [[rule]] tables")
        for i, raw in enumerate(rules):
            header, id_line = lines["rule"][i] if i < len(lines["rule"]) else (None, None)
            self._load_rule(raw, file, file_lang, id_line or header, text)
        combines = data.get("combine", [])
        if not isinstance(combines, list):
            raise RuleFileError(file, None, "combinations must be written as [[combine]] tables")
        for i, raw in enumerate(combines):
            header, id_line = lines["combine"][i] if i < len(lines["combine"]) else (None, None)
            self._load_combine(raw, file, file_lang, id_line or header, text)

    def _line_of_id(self, rid: str, text: str, fallback: int | None, occurrence: int = 0) -> int | None:
        hits = list(re.finditer(r"^[ \t]*id[ \t]*=[ \t]*[\"']" + re.escape(rid) + r"[\"']", text, re.M))
        if len(hits) > occurrence:
            return text.count("\n", 0, hits[occurrence].start()) + 1
        return fallback

    def _check_id(self, raw: dict, file: str, line: int | None, text: str) -> str:
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid.strip():
            raise RuleFileError(file, line, "rule is missing an 'id' (a non-empty string)")
        if rid in self.ids:
            where = self.ids[rid]
            occurrence = 1 if where == file else 0
            raise RuleFileError(
                file,
                self._line_of_id(rid, text, line, occurrence),
                f"duplicate rule id {rid!r} (first defined in {where})",
            )
        return rid

    def _check_level(
        self, raw: dict, key: str, file: str, line: int | None, rid: str, default: str | None = None
    ) -> str:
        level = raw.get(key, default)
        if level is None:
            raise RuleFileError(file, line, f"rule {rid!r} is missing '{key}'")
        if level not in _RANK:
            raise RuleFileError(
                file, line, f"rule {rid!r} has unknown {key} {level!r} (expected one of {', '.join(LEVELS)})"
            )
        return level

    def _load_rule(self, raw, file: str, file_lang: str, line: int | None, text: str) -> None:
        if not isinstance(raw, dict):
            raise RuleFileError(file, line, "each [[rule]] must be a table")
        rid = self._check_id(raw, file, line, text)
        extra = set(raw) - _ALLOWED_RULE_KEYS
        if extra:
            raise RuleFileError(file, line, f"rule {rid!r} has unknown key(s): {', '.join(sorted(extra))}")
        level = self._check_level(raw, "level", file, line, rid)
        negated_level = self._check_level(raw, "negated_level", file, line, rid, "none")
        capped_level = self._check_level(raw, "capped_level", file, line, rid, "watch")
        patterns = []
        for key in ("pattern", "patterns"):
            if key in raw:
                patterns += _str_list(raw[key], key, file, line)
        phrases = _str_list(raw["phrases"], "phrases", file, line) if "phrases" in raw else []
        if not any(p.strip() for p in patterns + phrases):
            raise RuleFileError(file, line, f"rule {rid!r} has no 'pattern', 'patterns' or 'phrases'")
        alternatives = []
        norm_phrases = []
        for ph in phrases:
            norm = normalize(ph)
            if not norm:
                raise RuleFileError(file, line, f"rule {rid!r} has an empty phrase {ph!r}")
            norm_phrases.append(norm)
            alternatives.append(re.escape(norm).replace(r"\ ", " ").replace(" ", r"\s+"))
        for pat in patterns:
            expanded = _expand_macros(pat, self.macros, file, line)
            try:
                re.compile(expanded)
            except re.error as exc:
                raise RuleFileError(
                    file, line, f"rule {rid!r} pattern does not compile: {exc} in {pat!r}"
                ) from exc
            alternatives.append(expanded)
        source = r"(?<![a-z0-9])(?:" + "|".join(f"(?:{a})" for a in alternatives) + r")(?![a-z0-9])"
        try:
            regex = re.compile(source)
        except re.error as exc:  # pragma: no cover - each part compiled above
            raise RuleFileError(file, line, f"rule {rid!r} does not compile: {exc}") from exc
        lang = raw.get("language", file_lang)
        if lang not in ("any", "en", "es"):
            raise RuleFileError(file, line, f"rule {rid!r} has unknown language {lang!r}")
        mask = raw.get("mask", False)
        if not isinstance(mask, bool):
            raise RuleFileError(file, line, f"rule {rid!r}: 'mask' must be true or false")
        # A mask is read without context unless its file names one (see _evaluate, step 1).
        ctx = raw.get("context", [] if mask else list(CONTEXT_KINDS))
        if isinstance(ctx, bool):
            ctx = list(CONTEXT_KINDS) if ctx else []
        ctx = _str_list(ctx, "context", file, line)
        bad = set(ctx) - set(CONTEXT_KINDS)
        if bad:
            raise RuleFileError(
                file,
                line,
                f"rule {rid!r} has unknown context kind(s) {sorted(bad)} (expected {', '.join(CONTEXT_KINDS)})",
            )
        tags = _str_list(raw.get("tags", []), "tags", file, line)
        unless = _str_list(raw.get("unless", []), "unless", file, line)
        reason = raw.get("reason", "")
        if not isinstance(reason, str):
            raise RuleFileError(file, line, f"rule {rid!r}: 'reason' must be a string")
        rule = Rule(
            id=rid,
            level=level,
            reason=reason,
            regex=regex,
            language=lang,
            tags=frozenset(tags),
            mask=mask,
            context=frozenset(ctx),
            negated_level=negated_level,
            capped_level=capped_level,
            file=file,
            line=line,
            unless=frozenset(unless),
        )
        object.__setattr__(rule, "_phrases", tuple(norm_phrases))
        self.ids[rid] = file
        self.rules.append(rule)
        for p in patterns + norm_phrases:
            self.vocab.update(_words_of(p))

    def _load_combine(self, raw, file: str, file_lang: str, line: int | None, text: str) -> None:
        if not isinstance(raw, dict):
            raise RuleFileError(file, line, "each [[combine]] must be a table")
        rid = self._check_id(raw, file, line, text)
        extra = set(raw) - _ALLOWED_COMBINE_KEYS
        if extra:
            raise RuleFileError(file, line, f"combine {rid!r} has unknown key(s): {', '.join(sorted(extra))}")
        level = self._check_level(raw, "level", file, line, rid)
        if "requires" not in raw:
            raise RuleFileError(file, line, f"combine {rid!r} is missing 'requires' (a list of tags)")
        requires = _str_list(raw["requires"], "requires", file, line)
        if not requires or not all(t.strip() for r in requires for t in r.split("|")):
            raise RuleFileError(file, line, f"combine {rid!r} has an empty 'requires'")
        unless = _str_list(raw.get("unless", []), "unless", file, line)
        lang = raw.get("language", file_lang)
        self.ids[rid] = file
        self.combines.append(
            Combine(rid, level, raw.get("reason", ""), tuple(requires), tuple(unless), lang, file, line)
        )

    def _load_context(self, ctx, file: str, text: str) -> None:
        if not isinstance(ctx, dict):
            raise RuleFileError(file, None, "[context] must be a table of word lists")
        for key, value in ctx.items():
            line = None
            m = re.search(r"^[ \t]*" + re.escape(key) + r"[ \t]*=", text, re.M)
            if m:
                line = text.count("\n", 0, m.start()) + 1
            items = _str_list(value, f"context.{key}", file, line)
            if key in ("past_markers", "recent_markers"):
                for pat in items:
                    try:
                        re.compile(pat)
                    except re.error as exc:
                        raise RuleFileError(
                            file, line, f"context.{key} pattern does not compile: {exc} in {pat!r}"
                        ) from exc
                (self.past if key == "past_markers" else self.recent).extend(items)
            elif key in ContextWords.__dataclass_fields__:
                words = set()
                for w in items:
                    # Plain folding only (no SMS expansion): "hes" must not add "is".
                    words.update(_fold(w).split())
                self.ctx.setdefault(key, set()).update(words)
            else:
                raise RuleFileError(file, line, f"unknown context list {key!r}")

    def build(self, files: Sequence[str]) -> RuleSet:
        # [unless] tables: another file (e.g. families.toml) may give an existing rule the tags
        # that explain it away, without editing that rule's own file.
        for rid, (tags, file) in self.unless.items():
            for n, rule in enumerate(self.rules):
                if rule.id == rid:
                    new = replace(rule, unless=rule.unless | frozenset(tags))
                    for (
                        key,
                        value,
                    ) in rule.__dict__.items():  # what the loader worked out (_phrases, _ordinary, _facts)
                        if key.startswith("_"):
                            object.__setattr__(new, key, value)
                    self.rules[n] = new
                    break
            else:
                for n, combo in enumerate(self.combines):
                    if combo.id == rid:
                        self.combines[n] = replace(combo, unless=tuple(dict.fromkeys((*combo.unless, *tags))))
                        break
                else:
                    raise RuleFileError(file, None, f"[unless] names unknown rule {rid!r}")

        def rx(pats: list[str]) -> re.Pattern[str] | None:
            if not pats:
                return None
            return re.compile(r"(?<![a-z0-9])(?:" + "|".join(f"(?:{p})" for p in pats) + r")(?![a-z0-9])")

        for rule in self.rules:  # the clause-level kinds of `unless` ("ordinary", "ordinary.<kind>")
            kinds = frozenset(t for t in rule.unless if t == ORDINARY or t.startswith(ORDINARY + "."))
            object.__setattr__(rule, "_ordinary", kinds)

        words = {k: frozenset(v) for k, v in self.ctx.items()}
        words.setdefault("clause_breaks", frozenset())
        words["clause_breaks"] = words["clause_breaks"] | {","}
        words["reason_breaks"] = words.get("reason_breaks", frozenset()) | {","}
        ctx = ContextWords(past_markers=rx(self.past), recent_markers=rx(self.recent), **words)
        return RuleSet(
            rules=tuple(self.rules),
            combines=tuple(self.combines),
            context=ctx,
            vocabulary=frozenset(self.vocab),
            files=tuple(files),
        )


def load_ruleset(paths: Sequence[str | Path]) -> RuleSet:
    """Load and compile rule files in order; raises RuleFileError on any problem."""
    loader = _Loader()
    for p in paths:
        loader.load(Path(p))
    return loader.build([str(p) for p in paths])


@lru_cache(maxsize=16)
def _default_ruleset(extra: tuple[str, ...]) -> RuleSet:
    rs = load_ruleset([*DEFAULT_RULE_FILES, *extra])
    rs.prefilter, rs.finders  # noqa: B018 - built now, with the rules, rather than on the first message
    return rs


def default_ruleset(extra_paths: Iterable[str | Path] = ()) -> RuleSet:
    """The shipped English + Spanish rules, plus deployment rule files, compiled once."""
    return _default_ruleset(tuple(str(p) for p in extra_paths))


# --------------------------------------------------------------------------- evaluation

_TOKEN_RE = re.compile(r"\S+")
_SUBJECT_PRONOUNS = frozenset({"i", "yo"})
_SPANISH_PARTICIPLE = re.compile(r"[a-z]+(?:ado|ido|echo|icho|isto|ierto|uelto|into)$")


@dataclass(slots=True)
class _Hit:
    rule_id: str
    level: str
    text: str
    tags: frozenset[str]
    listed: bool
    start: int = -1  # where in the (masked) text; -1: not a text match


def _context_of(
    text: str,
    tokens: list[tuple[int, int, str]],
    starts: list[int],
    m_start: int,
    m_end: int,
    rule: Rule,
    cw: ContextWords,
) -> str | None:
    """Which context (if any) changes this match: 'negation', 'third_party', 'past', 'hypothetical'."""
    if not rule.context:
        return None
    i = bisect_left(starts, m_start)  # first token of the match
    j = bisect_left(starts, m_end)  # first token after the match
    match_words = {w for _, _, w in tokens[i:j]}
    # Clause before the match.
    k = i - 1
    while k >= 0 and tokens[k][2] not in cw.clause_breaks:
        k -= 1
    clause_start = k + 1
    # Clause after the match.
    e = j
    while e < len(tokens) and tokens[e][2] not in cw.clause_breaks:
        e += 1

    # "no, I want to die" / "if I want to...": a cue before a subject pronoun does
    # not negate the predicate that follows it.
    starts_with_subject = i < len(tokens) and tokens[i][2] in _SUBJECT_PRONOUNS
    if "negation" in rule.context and not starts_with_subject:
        k = i - 1
        while (
            k >= clause_start and tokens[k][2] in cw.negation_fillers and tokens[k][2] not in cw.negation_cues
        ):
            k -= 1
        if k >= clause_start and tokens[k][2] in cw.negation_cues:
            return "negation"
    if "hypothetical" in rule.context and not starts_with_subject:
        k = i - 1
        while (
            k >= clause_start
            and tokens[k][2] in cw.hypothetical_fillers
            and tokens[k][2] not in cw.hypothetical_cues
        ):
            k -= 1
        if k >= clause_start and tokens[k][2] in cw.hypothetical_cues:
            return "hypothetical"
    if "third_party" in rule.context and not (match_words & cw.first_person):
        for k in range(i - 1, clause_start - 1, -1):
            w = tokens[k][2]
            if w in cw.first_person or (w == "he" and _SPANISH_PARTICIPLE.match(tokens[k + 1][2])):
                break  # Spanish "he pensado" is "I have thought", not English "he"
            if w in cw.third_person:
                return "third_party"
    if "past" in rule.context and cw.past_markers is not None:
        lo = tokens[clause_start][0] if clause_start < len(tokens) else m_start
        hi = tokens[e - 1][1] if e - 1 >= 0 and e <= len(tokens) and e > clause_start else m_end
        clause = text[lo:hi]
        past = [(p.start(), p.end()) for p in cw.past_markers.finditer(clause)]
        if past:
            # A recent marker inside or right after a past marker ("5 years ago today": an
            # anniversary) does not make the clause recent.
            recent = cw.recent_markers.finditer(clause) if cw.recent_markers else ()
            if not any(not any(ps <= r.start() <= pe + 1 for ps, pe in past) for r in recent):
                return "past"
    return None


def _clause_span(
    tokens: list[tuple[int, int, str]], starts: list[int], at: int, breaks: frozenset[str], size: int = 0
) -> tuple[int, int]:
    """(start, end) in the text of the clause holding the match at ``at`` (``size`` characters long):
    between the nearest ``breaks`` tokens (commas, which stand for all sentence punctuation, and
    conjunctions).  A clause that is the bare match ("bye everyone", "adios a todos") takes in the clauses
    next to it across a comma - "bye everyone, for a week i'm at my sister's" - but not across a
    conjunction ("goodbye, but for a week...")."""
    i = bisect_left(starts, at)
    k = i - 1
    while k >= 0 and tokens[k][2] not in breaks:
        k -= 1
    e = i
    while e < len(tokens) and tokens[e][2] not in breaks:
        e += 1
    inside = bisect_left(starts, at + size) - i  # tokens of the match
    if size and (e - k - 1) - inside <= 2:  # the clause is the match and at most two more words ("a todos")
        if k >= 0 and tokens[k][2] == ",":
            k -= 1
            while k >= 0 and tokens[k][2] not in breaks:
                k -= 1
        if e < len(tokens) and tokens[e][2] == ",":
            e += 1
            while e < len(tokens) and tokens[e][2] not in breaks:
                e += 1
    lo = tokens[k][1] if k >= 0 else 0
    hi = tokens[e][0] if e < len(tokens) else 1 << 30
    return lo, hi


class _Reading:
    """One message as every language pass reads it: the normalised text, and the work the passes share.

    A pass blanks the masks of its language, so passes may read different texts (the normalised text or
    a masked form of it); per text, its candidate rules (`Prefilter.candidates`) and tokens, and per
    (text, rule), the rule's matches with their context are worked out once, by whichever pass is first."""

    __slots__ = ("_candidates", "_finders", "_matches", "_ruleset", "_tokens", "norm", "plain")

    def __init__(self, norm: str, ruleset: RuleSet, plain: str | None = None):
        self.norm = norm
        self.plain = plain  # the text normalised with the base vocabulary (the classifier's), if asked
        self._ruleset = ruleset
        self._finders = ruleset.finders
        self._candidates: dict[str, tuple[int, ...]] = {}
        self._tokens: dict[str, tuple[list[tuple[int, int, str]], list[int]]] = {}
        self._matches: dict[tuple[str, int], list[tuple[int, int, str, str | None]]] = {}

    def candidates(self, text: str) -> tuple[int, ...]:
        """Positions in the ruleset (in order) of the rules that may match ``text``."""
        found = self._candidates.get(text)
        if found is None:
            found = self._candidates[text] = self._ruleset.prefilter.candidates(text)
        return found

    def tokens(self, text: str) -> tuple[list[tuple[int, int, str]], list[int]]:
        """(tokens as (start, end, word), their starts) of ``text``."""
        found = self._tokens.get(text)
        if found is None:
            tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN_RE.finditer(text)]
            found = self._tokens[text] = (tokens, [t[0] for t in tokens])
        return found

    def matches(self, text: str, pos: int) -> list[tuple[int, int, str, str | None]]:
        """The matches in ``text`` of the rule at ``pos``: (start, end, matched text, context or None)."""
        key = (text, pos)
        found = self._matches.get(key)
        if found is None:
            rule = self._ruleset.rules[pos]
            spans = [(m.start(), m.end(), m.group(0)) for m in self._finders[pos](text)]
            if spans and rule.context:
                tokens, starts = self.tokens(text)
                cw = self._ruleset.context
                found = [(s, e, g, _context_of(text, tokens, starts, s, e, rule, cw)) for s, e, g in spans]
            else:
                found = [(s, e, g, None) for s, e, g in spans]
            self._matches[key] = found
        return found


def _read(text: str, ruleset: RuleSet, plain: bool = False) -> _Reading:
    """``plain``: also the classifier's normalisation (with the base vocabulary), made alongside."""
    if plain:
        norm, base = normalize_pair(text or "", ruleset.vocabulary)
        return _Reading(norm, ruleset, base)
    return _Reading(normalize(text or "", ruleset.vocabulary), ruleset)


def _voided_reasons(tags) -> set[str]:
    """The ordinary-reason tags a danger sign voids: every one beside `danger`, only `ordinary.<kind>`
    beside `danger.<kind>`."""
    if DANGER in tags:
        return {t for t in tags if t == ORDINARY or t.startswith(ORDINARY + ".")}
    return {ORDINARY + t[len(DANGER) :] for t in tags if t.startswith(DANGER + ".")}


def _evaluate(
    text: str,
    language: str | None,
    context: AssessmentContext | None,
    ruleset: RuleSet,
    reading: _Reading | None = None,
) -> Assessment:
    if language not in (None, "en", "es"):
        language = None
    plan = ruleset.for_language(language)
    if reading is None:
        reading = _read(text, ruleset)
    rules = ruleset.rules
    cw = ruleset.context
    norm = reading.norm
    hits: list[_Hit] = []
    notes: list[str] = []

    # 1. Masks: figurative, media, third-party and logistics expressions are recorded
    #    at their own level and blanked out so that risk rules cannot match inside them.
    #    Only the rules that may match the text are run (`Prefilter.candidates`).
    masked = norm
    is_mask = plan.masks
    todo = [pos for pos in reading.candidates(masked) if is_mask[pos]]
    k = 0
    while k < len(todo):
        pos = todo[k]
        k += 1
        found = reading.matches(masked, pos)
        if not found:
            continue
        rule = rules[pos]
        # A mask that names a context is read like a risk rule ("if I am not safe tonight", "she is
        # not safe"): its level is lowered and its tags withheld, and its words are blanked all the
        # same, so no other mask (a safety denial) can claim them.
        for s, e, _matched, kind in found:
            if kind is None:
                hits.append(_Hit(rule.id, rule.level, norm[s:e], rule.tags, True, s))
            else:
                level = (
                    rule.negated_level if kind == "negation" else _min_level(rule.level, rule.capped_level)
                )
                hits.append(_Hit(rule.id, level, norm[s:e], frozenset(), level != "none"))
                if f"context.{kind}" not in notes:
                    notes.append(f"context.{kind}")
        chars = list(masked)
        for s, e, _matched, _kind in found:
            chars[s:e] = list(" ," + " " * max(0, e - s - 2)) if e - s >= 2 else [" "] * (e - s)
        masked = "".join(chars)
        # The later masks run on the blanked text: those that may match it.
        todo = [p for p in reading.candidates(masked) if p > pos and is_mask[p]]
        k = 0

    # 2. Risk rules with context (negation, third party, past, hypothetical).
    is_risk = plan.risks
    guarded: list[tuple[int, Rule]] = []  # hits of rules with `unless`, settled once all tags are known
    for pos in reading.candidates(masked):
        if not is_risk[pos]:
            continue
        rule = rules[pos]
        for s, _e, matched, kind in reading.matches(masked, pos):
            if kind is None:
                if rule.unless:
                    guarded.append((len(hits), rule))
                hits.append(_Hit(rule.id, rule.level, matched, rule.tags, rule.level != "none", s))
            else:
                level = (
                    rule.negated_level if kind == "negation" else _min_level(rule.level, rule.capped_level)
                )
                hits.append(_Hit(rule.id, level, matched, frozenset(), level != "none"))
                note = f"context.{kind}"
                if note not in notes:
                    notes.append(note)

    # 2b. An explanation elsewhere in the message ("for deer season", "lol", "on vacation") caps a
    #     rule that lists its tag under `unless`, and withdraws the rule's tags from combinations.
    #     ORDINARY is read per clause: an ordinary purpose (a destination, an errand, an event, a time of
    #     return, a pet's or a job's object) lowers a match only in its own clause, and not at all when
    #     the message also has a danger sign (no return, a means with intent, a time with a method).
    if guarded:
        own = {g for g, _ in guarded}
        present = set()
        for n, h in enumerate(hits):
            if n not in own:
                present |= h.tags
        reasons: list[tuple[int, frozenset[str]]] = []
        if ORDINARY in present and DANGER not in present:
            # "danger.<kind>" blocks only the reasons of "ordinary.<kind>" (kids or voices beside a
            # trivial grievance, a jump beside a landmark).
            blocked = _voided_reasons(present)
            reasons = [
                (h.start, h.tags)
                for n, h in enumerate(hits)
                if n not in own and ORDINARY in h.tags and h.start >= 0 and blocked.isdisjoint(h.tags)
            ]
        for n, rule in guarded:
            kinds = rule.__dict__.get("_ordinary", frozenset())
            explained = bool((rule.unless - kinds) & present)
            if not explained and reasons and kinds:
                tokens, starts = reading.tokens(masked)
                lo, hi = _clause_span(tokens, starts, hits[n].start, cw.reason_breaks, len(hits[n].text))
                explained = any(lo <= at < hi and not kinds.isdisjoint(t) for at, t in reasons)
            if explained:
                level = _min_level(rule.level, rule.capped_level)
                hits[n] = _Hit(rule.id, level, hits[n].text, frozenset(), level != "none")
                if "context.explained" not in notes:
                    notes.append("context.explained")

    # 3. Combinations of tags (e.g. method + intent -> crisis); "a|b" in `requires` means either.
    #    An ordinary reason excuses a combination only as it excuses a rule: never beside a danger sign
    #    ("going to see my buddies tonight, don't look for me"), and "danger.<kind>" voids "ordinary.<kind>".
    tags: set[str] = set()
    for h in hits:
        tags |= h.tags
    if tags:  # no tag, no combination
        excuses = tags - _voided_reasons(tags)
        maybe: set[int] = set()  # the combinations whose first requirement is met
        for tag in tags:
            maybe.update(plan.combos_by_tag.get(tag, ()))
        for n in sorted(maybe):
            combo, requires, unless, wanted = plan.combos[n]
            if all(not tags.isdisjoint(req) for req in requires) and excuses.isdisjoint(unless):
                frags = tuple(h.text for h in hits if h.tags & wanted)
                hits.append(_Hit(combo.id, combo.level, " + ".join(dict.fromkeys(frags)), frozenset(), True))

    # 4. Scores, history and help requests from the context.
    ctx = context or AssessmentContext()
    if ctx.source == "voice_keypad_help":
        hits.append(_Hit("help.request", "urgent", "", frozenset(), True))
    if any("help" in h.tags for h in hits) and not any(h.rule_id == "help.request" for h in hits):
        hits.append(_Hit("help.request", "urgent", "", frozenset(), True))
    score = ctx.score
    recent = tuple(s for s in ctx.recent_scores if isinstance(s, int))
    if score is not None:
        if score <= 1:
            hits.append(_Hit("history.score_1", "watch", "", frozenset(), True))
            if recent and recent[-1] <= 1:
                hits.append(_Hit("history.two_lowest", "urgent", "", frozenset(), True))
        if recent:
            window = recent[-4:]
            if sum(window) / len(window) - score >= 2:
                hits.append(_Hit("history.drop", "urgent", "", frozenset(), True))
    if ctx.missed_checkins_in_a_row >= 3:
        hits.append(_Hit("history.missed_3", "watch", "", frozenset(), True))

    level = "none"
    rules: list[str] = []
    matches: list[str] = []
    for h in hits:
        level = _max_level(level, h.level)
        if h.listed and h.rule_id not in rules:
            rules.append(h.rule_id)
        if h.listed and h.text and h.text not in matches:
            matches.append(h.text)
    rules.extend(notes)
    return Assessment(level, tuple(rules), tuple(matches))


def assess(
    text: str,
    language: str | None = None,
    context: AssessmentContext | None = None,
    ruleset: RuleSet | None = None,
    *,
    second_opinion: bool = False,
) -> Assessment:
    """Assess one message.  Never raises: an internal error yields level "urgent".

    ``language`` selects the rules: "en", "es", None (all rules at once) or ALL_LANGUAGES, which
    is what live texts use (see ``assess_all_languages``). ``second_opinion=True`` lets the
    statistical classifier (checkin.rules.classifier) raise the rules' level, never lower it;
    the live callers (inbound texts, calls) always ask for it."""
    plain = None  # the classifier's normalisation, when the rules made it alongside theirs
    if language == ALL_LANGUAGES:
        result, plain = _all_languages(text, None, context, ruleset, second_opinion)
    else:
        try:
            rs = ruleset if ruleset is not None else default_ruleset()
            result = _evaluate(text, language, context, rs)
        except Exception as exc:  # fail safe: escalate rather than drop
            log.error("risk rules engine failed (%s); escalating as urgent", type(exc).__name__)
            return Assessment("urgent", ("engine.error",), ())
    if second_opinion:
        from .classifier import apply_second_opinion

        result = apply_second_opinion(text, result, norm=plain)
    return result


def assess_all_languages(
    text: str,
    preferred: str | None = None,
    context: AssessmentContext | None = None,
    ruleset: RuleSet | None = None,
) -> Assessment:
    """Assess a live message in every configured language and keep the highest verdict.

    Members write in the language they are in at that moment, not the one on their record, and
    often mix two.  The text is read with all rules together, then with each language's rules
    alone (so that a figure of speech in one language can never hide a cry for help in the
    other); the highest level wins (ties keep the reading with all rules).  Never raises.
    """
    return _all_languages(text, preferred, context, ruleset)[0]


def _all_languages(
    text: str,
    preferred: str | None,
    context: AssessmentContext | None,
    ruleset: RuleSet | None,
    plain: bool = False,
) -> tuple[Assessment, str | None]:
    """``assess_all_languages`` and, if ``plain``, the classifier's normalisation of the text (None if
    the engine failed)."""
    try:
        rs = ruleset if ruleset is not None else default_ruleset()
        langs = [None, preferred] + [lang for lang in ("en", "es") if lang != preferred]
        best: Assessment | None = None
        reading = _read(text, rs, plain)  # normalised once; matches shared by the passes
        for lang in dict.fromkeys(langs):
            a = _evaluate(text, lang, context, rs, reading)
            if best is None or _RANK[a.level] > _RANK[best.level]:
                best = a
            if best.level == Level.CRISIS:  # no later reading can be higher, and ties keep this one
                break
        assert best is not None
        return best, reading.plain
    except Exception as exc:  # fail safe: escalate rather than drop
        log.error("risk rules engine failed (%s); escalating as urgent", type(exc).__name__)
        return Assessment("urgent", ("engine.error",), ()), None

"""Evaluate the rules engine on a labelled TSV file (header ``level\ttext``, extra columns allowed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .engine import LEVELS, RuleSet, assess, level_rank


class EvalFileError(ValueError):
    """The evaluation file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class LevelStats:
    level: str
    support: int  # lines labelled with this level
    predicted: int  # lines assessed at this level
    correct: int

    @property
    def recall(self) -> float:
        return self.correct / self.support if self.support else 0.0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0


@dataclass(frozen=True)
class EvalReport:
    path: str
    total: int
    # confusion[gold][predicted] = count
    confusion: dict[str, dict[str, int]]
    per_level: dict[str, LevelStats]
    # (gold, predicted, text) for every line that was not assessed exactly
    errors: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def accuracy(self) -> float:
        return sum(self.confusion[l][l] for l in LEVELS) / self.total if self.total else 0.0

    def rate_at_least(self, gold: str, minimum: str) -> float:
        """Share of lines labelled ``gold`` assessed at ``minimum`` or higher."""
        row = self.confusion[gold]
        n = sum(row.values())
        if not n:
            return 0.0
        return sum(c for lvl, c in row.items() if level_rank(lvl) >= level_rank(minimum)) / n

    @property
    def crisis_recall_at_urgent(self) -> float:
        return self.rate_at_least("crisis", "urgent")

    @property
    def crisis_exact_recall(self) -> float:
        return self.per_level["crisis"].recall

    @property
    def none_false_alarm_rate(self) -> float:
        """Share of ``none`` lines assessed ``urgent`` or higher."""
        return self.rate_at_least("none", "urgent")


def read_labelled(path: str | Path) -> list[tuple[str, str]]:
    """(level, text) rows of a labelled TSV file; see ``read_labelled_rows`` for the columns."""
    return [(row["level"], row["text"]) for row in read_labelled_rows(path)]


def read_labelled_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a labelled TSV file as dicts.

    The header names the columns; it must have ``level`` and ``text`` and may have others
    (``construct``, ``lang``, ``source`` ...), in any order.  ``text`` is read as the rest of the
    line when it is the last column, so a tab inside a message is kept.  Lines starting with
    ``#`` are comments (e.g. where a block of lines came from).
    """
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalFileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise EvalFileError(f"{p}: is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{p}: cannot read ({exc.__class__.__name__})") from None
    lines = raw.splitlines()
    header = [h.strip().lower() for h in lines[0].split("\t")] if lines else []
    if "level" not in header or "text" not in header or len(set(header)) != len(header):
        raise EvalFileError(
            f"{p}:1: expected a header line 'level<TAB>text' (other columns may be added, e.g. "
            "'level<TAB>construct<TAB>lang<TAB>text')"
        )
    text_last = header[-1] == "text"
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t", len(header) - 1) if text_last else line.split("\t")
        if len(parts) != len(header):
            raise EvalFileError(
                f"{p}:{n}: expected {len(header)} tab-separated columns ({', '.join(header)})"
            )
        row = dict(zip(header, parts, strict=True))
        level = row["level"].strip()
        if level not in LEVELS:
            raise EvalFileError(f"{p}:{n}: unknown level {level!r} (expected one of {', '.join(LEVELS)})")
        row["level"] = level
        rows.append(row)
    if not rows:
        raise EvalFileError(f"{p}: no labelled lines")
    return rows


def evaluate(path: str | Path, language: str | None = None, ruleset: RuleSet | None = None) -> EvalReport:
    rows = read_labelled(path)
    confusion = {g: dict.fromkeys(LEVELS, 0) for g in LEVELS}
    errors = []
    for gold, text in rows:
        pred = assess(text, language=language, ruleset=ruleset).level
        confusion[gold][pred] += 1
        if pred != gold:
            errors.append((gold, pred, text))
    per_level = {}
    for lvl in LEVELS:
        support = sum(confusion[lvl].values())
        predicted = sum(confusion[g][lvl] for g in LEVELS)
        per_level[lvl] = LevelStats(lvl, support, predicted, confusion[lvl][lvl])
    return EvalReport(str(path), len(rows), confusion, per_level, tuple(errors))


def format_report(report: EvalReport, show_errors: bool = False) -> str:
    order: Sequence[str] = tuple(reversed(LEVELS))  # crisis first
    out = [f"{report.path}: {report.total} messages, accuracy {report.accuracy:.1%}", ""]
    out.append(f"{'level':8} {'support':>7} {'recall':>7} {'precision':>9}")
    for lvl in order:
        s = report.per_level[lvl]
        out.append(f"{lvl:8} {s.support:7d} {s.recall:7.1%} {s.precision:9.1%}")
    out.append("")
    out.append("confusion (rows = label, columns = assessed)")
    out.append(f"{'':8} " + " ".join(f"{l:>7}" for l in order))
    for g in order:
        out.append(f"{g:8} " + " ".join(f"{report.confusion[g][p]:7d}" for p in order))
    out.append("")
    out.append(f"crisis assessed urgent or higher: {report.crisis_recall_at_urgent:.1%}")
    out.append(f"crisis assessed exactly crisis:   {report.crisis_exact_recall:.1%}")
    out.append(f"none assessed urgent or higher:   {report.none_false_alarm_rate:.1%}")
    if show_errors and report.errors:
        out.append("")
        out.append("disagreements (label -> assessed):")
        for gold, pred, text in report.errors:
            out.append(f"  {gold:>6} -> {pred:<6} {text}")
    return "\n".join(out)

"""Per-line check of a rule change: the rules' level (live path, every language, no classifier) on every
line of the corpus, before and after.

    python -m checkin.rules.per_line snapshot BEFORE.json [FILES...]   # default: tests/corpus/*.tsv
    (change the rules)
    python -m checkin.rules.per_line snapshot AFTER.json [FILES...]
    python -m checkin.rules.per_line compare BEFORE.json AFTER.json

``compare`` lists every line whose level moved and counts the two that must stay at 0: a harmless line
(none/watch) rising to urgent or crisis, and a crisis or urgent line falling.  It exits 1 if either is
not 0.  A voice line is assessed with its ``source`` column as the context.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from pathlib import Path

from .engine import ALL_LANGUAGES, SOURCES, AssessmentContext, assess, level_rank

DEFAULT_GLOB = str(Path(__file__).resolve().parents[2] / "tests" / "corpus" / "*.tsv")


def snapshot(paths: list[str]) -> dict[str, list]:
    """{"file.tsv:line": [gold level, rules' level, text]} for every labelled line."""
    out: dict[str, list] = {}
    for path in paths:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = [(n, line) for n, line in enumerate(fh, 1) if line.strip() and not line.startswith("#")]
        reader = csv.DictReader((line for _, line in lines), delimiter="\t", quoting=csv.QUOTE_NONE)
        for (n, _), row in zip(lines[1:], reader, strict=True):
            source = row.get("source") or "sms"
            ctx = AssessmentContext(source=source) if source in SOURCES else None
            level = assess(row["text"], language=ALL_LANGUAGES, context=ctx).level
            out[f"{Path(path).name}:{n}"] = [row["level"], level, row["text"]]
    return out


def compare(before: dict[str, list], after: dict[str, list]) -> tuple[int, int, list[str]]:
    """(harmless lines rising to urgent+, crisis/urgent lines falling, a report line per moved line)."""
    rise = fall = 0
    report: list[str] = []
    for key, (gold, was, text) in before.items():
        now = after.get(key, [gold, was, text])[1]
        if now == was:
            continue
        g, w, a = level_rank(gold), level_rank(was), level_rank(now)
        if g <= 1 and a > w and a >= 2:
            rise += 1
            kind = "HARMLESS RISE"
        elif g >= 2 and a < w:
            fall += 1
            kind = "RISK FALL"
        else:
            kind = "up" if a > w else "down"
        report.append(f"{kind}\t{key}\t{gold}\t{was} -> {now}\t{text}")
    return rise, fall, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m checkin.rules.per_line", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    snap = sub.add_parser("snapshot")
    snap.add_argument("out")
    snap.add_argument("files", nargs="*")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before")
    cmp_.add_argument("after")
    args = parser.parse_args(argv)
    if args.cmd == "snapshot":
        files = args.files or sorted(glob.glob(DEFAULT_GLOB))
        data = snapshot(files)
        Path(args.out).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        print(f"{len(data)} lines from {len(files)} files -> {args.out}")
        return 0
    before = json.loads(Path(args.before).read_text(encoding="utf-8"))
    after = json.loads(Path(args.after).read_text(encoding="utf-8"))
    rise, fall, report = compare(before, after)
    for line in report:
        print(line)
    up = sum(1 for r in report if r.startswith("up"))
    down = sum(1 for r in report if r.startswith("down"))
    print(
        f"lines {len(before)}  harmless rising to urgent+: {rise}  crisis/urgent falling: {fall}"
        f"  other up: {up}  other down: {down}"
    )
    return 1 if rise or fall else 0


if __name__ == "__main__":
    sys.exit(main())

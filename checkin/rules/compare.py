"""Rules alone vs rules + classifier on labelled TSV files, per construct, and the classifier's cost.

    python -m checkin.rules.compare FILE.tsv [...] [--model PATH] [--errors]

Files have a header ``level<TAB>text`` or ``level<TAB>construct<TAB>lang<TAB>text``.  The figures
are the blind sets' ones: crisis assessed >= urgent and == crisis; urgent assessed >= urgent;
harmless (none/watch) alarmed at urgent or above; harmless assessed crisis.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict

from .classifier import MODEL_PATH, apply_second_opinion, load_model
from .engine import assess, level_rank

COLUMNS = ("crisis>=urg", "crisis=cri", "urgent>=urg", "harmless alarm", "harmless=cri")


def _rows(path: str) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def stats(pairs: list[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """(gold, assessed) pairs -> the five figures as (count, out of)."""
    c = [a for g, a in pairs if g == "crisis"]
    u = [a for g, a in pairs if g == "urgent"]
    h = [a for g, a in pairs if g in ("none", "watch")]
    return {
        "crisis>=urg": (sum(level_rank(a) >= 2 for a in c), len(c)),
        "crisis=cri": (sum(a == "crisis" for a in c), len(c)),
        "urgent>=urg": (sum(level_rank(a) >= 2 for a in u), len(u)),
        "harmless alarm": (sum(level_rank(a) >= 2 for a in h), len(h)),
        "harmless=cri": (sum(a == "crisis" for a in h), len(h)),
    }


def _cell(n: int, d: int) -> str:
    return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--model", default=str(MODEL_PATH))
    ap.add_argument("--errors", action="store_true", help="list the lines the classifier changed")
    args = ap.parse_args(argv)
    model = load_model(args.model)
    for path in args.files:
        rows = _rows(path)
        by: dict[str, dict[str, list]] = defaultdict(lambda: {"rules": [], "both": []})
        changed = []
        spent = 0.0
        for r in rows:
            gold, text = r["level"], r["text"]
            rules = assess(text)
            t0 = time.perf_counter()
            both = apply_second_opinion(text, rules, model)
            spent += time.perf_counter() - t0
            for key in ("ALL", r.get("construct") or "all", "lang:" + (r.get("lang") or "?")):
                by[key]["rules"].append((gold, rules.level))
                by[key]["both"].append((gold, both.level))
            if both.level != rules.level:
                changed.append((gold, rules.level, both.level, r.get("construct") or "", text))
        print(f"== {path}: {len(rows)} lines, classifier {1000 * spent / max(1, len(rows)):.2f} ms/message")
        print(f"{'construct':22} {'':6}" + "".join(f"{c:>16}" for c in COLUMNS))
        for key in sorted(by, key=lambda k: (k != "ALL", k)):
            for name in ("rules", "both"):
                s = stats(by[key][name])
                label = key if name == "rules" else ""
                print(f"{label:22} {name:6}" + "".join(f"{_cell(*s[c]):>16}" for c in COLUMNS))
        if args.errors:
            for gold, a, b, construct, text in changed:
                print(f"  {gold:7} {a:>7} -> {b:7} {construct:20} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

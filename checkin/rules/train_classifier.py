"""Retrain the statistical second opinion (``make classifier``) and write checkin/rules/risk_model.json.

    python -m checkin.rules.train_classifier [--report] [--out PATH] [TRAIN.tsv ...]

Training data: every labelled TSV under tests/corpus/ except the hold-out (risk_holdout.tsv), with a
header of either ``level<TAB>text`` or ``level<TAB>construct<TAB>lang<TAB>text``.  Duplicate texts
(after normalisation) count once, at their highest label.  Everything is deterministic: fixed
fold seed, liblinear solver, features and floats written in a fixed order and precision, so
running it twice writes the same bytes.

Thresholds are chosen on 5-fold cross-validated (out-of-fold) probabilities of the classifier
alone, so that it alarms few harmless lines of its own:
  * crisis head: above every harmless (none/watch) line out of fold;
  * urgent head: at most HARMLESS_BUDGET of the harmless lines reach it out of fold.
scikit-learn is needed here only; the service reads the JSON with pure Python.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from .classifier import MIN_WORDS, MODEL_FORMAT, MODEL_PATH, Model, features, long_enough
from .engine import LEVELS, assess, level_rank
from .normalize import normalize

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "tests" / "corpus"
HOLDOUT = CORPUS_DIR / "risk_holdout.tsv"

SEED = 20260
FOLDS = 5
C = 4.0
MIN_DF = 2
HARMLESS_BUDGET = 0.02  # share of harmless training lines the classifier may push to urgent, out of fold
CRISIS_MARGIN = 0.02  # crisis threshold sits this far above the most crisis-like harmless line
FLOOR = 0.5  # never raise below an even chance
DECIMALS = 6


def training_files() -> list[Path]:
    return sorted(p for p in CORPUS_DIR.glob("*.tsv") if p.resolve() != HOLDOUT.resolve())


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    out = []
    for r in rows:
        level, text = (r.get("level") or "").strip(), r.get("text") or ""
        if level not in LEVELS or not text.strip():
            continue
        out.append({"level": level, "text": text, "construct": r.get("construct") or "", "src": path.name})
    return out


def load_training(paths) -> list[dict]:
    """Rows from the files, one per normalised text (highest label wins), in a fixed order."""
    seen: dict[str, dict] = {}
    for p in paths:
        for r in read_rows(Path(p)):
            key = normalize(r["text"])
            if not key:
                continue
            old = seen.get(key)
            if old is None or level_rank(r["level"]) > level_rank(old["level"]):
                seen[key] = {**r, "norm": key}
    return [seen[k] for k in sorted(seen)]


def _pipeline_fit(norms, y_urgent, y_crisis):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(
        analyzer=features, sublinear_tf=True, min_df=MIN_DF, norm="l2", smooth_idf=True, lowercase=False
    )
    X = vec.fit_transform(norms)
    heads = []
    for y in (y_urgent, y_crisis):
        clf = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=SEED)
        clf.fit(X, y)
        heads.append(clf)
    return vec, heads


def _predict(vec, heads, norms):
    X = vec.transform(norms)
    return [h.predict_proba(X)[:, 1] for h in heads]


def out_of_fold(rows) -> tuple[list[float], list[float]]:
    from sklearn.model_selection import StratifiedKFold

    norms = [r["norm"] for r in rows]
    y = [LEVELS.index(r["level"]) for r in rows]
    pu, pc = [0.0] * len(rows), [0.0] * len(rows)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for train, test in folds.split(norms, y):
        vec, heads = _pipeline_fit(
            [norms[i] for i in train], [y[i] >= 2 for i in train], [y[i] == 3 for i in train]
        )
        a, b = _predict(vec, heads, [norms[i] for i in test])
        for j, i in enumerate(test):
            pu[i], pc[i] = float(a[j]), float(b[j])
    return pu, pc


def combined(rules_level: str, norm: str, pu: float, pc: float, tu: float, tc: float) -> str:
    lvl = "crisis" if pc >= tc else "urgent" if pu >= tu else "none"
    if not long_enough(norm):
        lvl = "none"
    return lvl if level_rank(lvl) > level_rank(rules_level) else rules_level


def choose_thresholds(rows, pu, pc) -> tuple[float, float]:
    """From out-of-fold probabilities of the classifier alone (not of what the rules said, so that
    editing a rule does not change the shipped model): the crisis threshold sits above every
    harmless line; the urgent one is the lowest that raises at most HARMLESS_BUDGET of them."""
    harmless = [i for i, r in enumerate(rows) if r["level"] in ("none", "watch") and long_enough(r["norm"])]
    top = max((pc[i] for i in harmless), default=0.0)
    tc = min(0.99, max(FLOOR, top + CRISIS_MARGIN))
    budget = int(HARMLESS_BUDGET * len(harmless))
    ranked = sorted((pu[i] for i in harmless), reverse=True)
    tu = ranked[budget] + 1e-4 if budget < len(ranked) else FLOOR  # lines strictly above it: <= budget
    return round(min(0.99, max(FLOOR, tu)), 4), round(tc, 4)


def figures(rows, levels) -> dict:
    def share(idx, ok):
        return (sum(1 for i in idx if ok(levels[i])), len(idx))

    crisis = [i for i, r in enumerate(rows) if r["level"] == "crisis"]
    urgent = [i for i, r in enumerate(rows) if r["level"] == "urgent"]
    harmless = [i for i, r in enumerate(rows) if r["level"] in ("none", "watch")]
    none = [i for i, r in enumerate(rows) if r["level"] == "none"]
    return {
        "crisis>=urgent": share(crisis, lambda x: level_rank(x) >= 2),
        "crisis==crisis": share(crisis, lambda x: x == "crisis"),
        "urgent>=urgent": share(urgent, lambda x: level_rank(x) >= 2),
        "harmless alarmed": share(harmless, lambda x: level_rank(x) >= 2),
        "harmless as crisis": share(harmless, lambda x: x == "crisis"),
        "none as crisis": share(none, lambda x: x == "crisis"),
    }


def _fmt(fig: dict) -> str:
    return "  ".join(f"{k} {n}/{d} ({100 * n / d if d else 0:.1f}%)" for k, (n, d) in fig.items())


def train(paths=None, report: bool = False) -> dict:
    rows = load_training(paths or training_files())
    norms = [r["norm"] for r in rows]
    y = [LEVELS.index(r["level"]) for r in rows]
    pu, pc = out_of_fold(rows)
    tu, tc = choose_thresholds(rows, pu, pc)
    if report:
        rules = [assess(r["text"]).level for r in rows]
        both = [combined(rl, n, a, b, tu, tc) for rl, n, a, b in zip(rules, norms, pu, pc)]
        print(f"{len(rows)} training lines; thresholds urgent {tu} crisis {tc}", file=sys.stderr)
        print("rules alone      (cv):", _fmt(figures(rows, rules)), file=sys.stderr)
        print("rules+classifier (cv):", _fmt(figures(rows, both)), file=sys.stderr)
    vec, heads = _pipeline_fit(norms, [v >= 2 for v in y], [v == 3 for v in y])
    names = vec.get_feature_names_out().tolist()
    order = sorted(range(len(names)), key=lambda i: names[i])
    r = lambda x: round(float(x), DECIMALS)  # noqa: E731
    data = {
        "format": MODEL_FORMAT,
        "meta": {
            "trained_on": sorted({row["src"] for row in rows}),
            "lines": len(rows),
            "seed": SEED,
            "C": C,
            "min_df": MIN_DF,
            "harmless_budget": HARMLESS_BUDGET,
            "min_words": MIN_WORDS,
        },
        "threshold_urgent": tu,
        "threshold_crisis": tc,
        "intercept_urgent": r(heads[0].intercept_[0]),
        "intercept_crisis": r(heads[1].intercept_[0]),
        "features": [names[i] for i in order],
        "idf": [r(vec.idf_[i]) for i in order],
        "coef_urgent": [r(heads[0].coef_[0, i]) for i in order],
        "coef_crisis": [r(heads[1].coef_[0, i]) for i in order],
    }
    # The pure-Python reader must agree with scikit-learn on every training line.
    model = Model.from_json(data)
    a, b = _predict(vec, heads, norms)
    worst = max(
        max(abs(p - q) for p, q in zip(model.probabilities(n), (x, z))) for n, x, z in zip(norms, a, b)
    )
    if worst > 1e-3:
        raise SystemExit(f"pure-Python model disagrees with scikit-learn by {worst:.2g}")
    return data


def dump(data: dict) -> str:
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "files", nargs="*", help="training TSV files (default: tests/corpus/*.tsv less the hold-out)"
    )
    ap.add_argument("--out", default=str(MODEL_PATH))
    ap.add_argument("--report", action="store_true", help="print cross-validated figures to stderr")
    args = ap.parse_args(argv)
    data = train(args.files or None, report=args.report)
    Path(args.out).write_text(dump(data), encoding="utf-8")
    print(f"wrote {args.out}: {len(data['features'])} features", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Retrain the statistical second opinion (``make classifier``) and write checkin/rules/risk_model.json.

    python -m checkin.rules.train_classifier [--report] [--out PATH] [TRAIN.tsv ...]
    python -m checkin.rules.train_classifier --loso     # the leave-one-set-out yardstick (writes nothing)

Training data: every labelled TSV under tests/corpus/ except the hold-out (risk_holdout.tsv), with a
header of either ``level<TAB>text`` or ``level<TAB>construct<TAB>lang<TAB>text``.  Duplicate texts
(after normalisation) count once, at their highest label.  Everything is deterministic: fixed
fold seed, liblinear solver, features and floats written in a fixed order and precision, so
running it twice writes the same bytes.

Features: word 1-3 grams (negation marked) and character 2-5 grams, each kind tf-idf weighted and
l2-normalised on its own (``BlockVectorizer``); one L2-regularised logistic regression per head.

Thresholds are chosen on 5-fold cross-validated (out-of-fold) probabilities of the classifier
alone, so that it alarms few harmless lines of its own:
  * crisis head: above every harmless (none/watch) line out of fold;
  * urgent head: at most HARMLESS_BUDGET of the harmless lines reach it out of fold;
  * both heads together (crisis when the urgent head is over a stricter threshold, JOINT_URGENT_BUDGET,
    and the crisis head over a lower one): at most JOINT_BUDGET of the harmless lines reach that
    crisis threshold out of fold;
  * agreement (crisis when the rules already say urgent): AGREE_BUDGET of them reach it;
  * the joint test beside the rules' note of an ordinary reading (past, third party, hypothetical,
    explained): ORDINARY_JOINT_BUDGET of them reach its crisis threshold.
scikit-learn is needed here only; the service reads the JSON with pure Python.

``--loso`` is the honest yardstick for the second opinion: for each blind set written by an outsider
(BLIND_SETS), train exactly as ``make classifier`` does on every other file, less the lines of the set
and their near-duplicates, and score the live path (all languages + this fold's model, through
``apply_second_opinion``) on the set.  The rules were tuned on these sets after they were scored, so
the rules-alone figures are optimistic; what the classifier adds on top of them is measured honestly.
``--loso --outsiders`` does the same with the outsiders' training sets (OUTSIDER_SETS) as the folds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

from .classifier import MIN_WORDS, MODEL_FORMAT, MODEL_PATH, Model, features, long_enough, ordinary_reading
from .engine import ALL_LANGUAGES, LEVELS, assess, level_rank
from .normalize import normalize

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "tests" / "corpus"
HOLDOUT = CORPUS_DIR / "risk_holdout.tsv"

SEED = 20260
FOLDS = 5
C = 10.0
MIN_DF = 2
# Shares of the harmless (none/watch) training lines that reach a threshold out of fold, chosen on
# leave-one-set-out over the outsiders' sets (README, issue 12):
# urgent: 0.02 until this session (3.3% of the outsiders' harmless lines alarmed, live path); 0.027
# spends 4.0% of the 5% bar on new sets and buys 1.3 points of crisis and urgent recall.
HARMLESS_BUDGET = 0.027
# the urgent head in the joint crisis test keeps the old urgent threshold, so a larger urgent budget
# lets no more harmless lines up to crisis
JOINT_URGENT_BUDGET = 0.02
# joint crisis (the rules below urgent): 0.0075 until this session; each harmless line let up to
# crisis here buys 5 to 10 crisis lines, but the bar for harmless lines at crisis is zero
JOINT_BUDGET = 0.005
# crisis beside the rules' urgent (and the urgent head's): on outsiders' sets no harmless line the
# rules called urgent went up to crisis at 1%, while 15 crisis lines held at urgent did (at 3%: 28, and
# one harmless line; guard lines such as "the roads are not safe tonight" sit near 0.55-0.65); 1.5%
# (fourth pass) raised 9 more crisis lines over 21 sets and still no harmless one
AGREE_BUDGET = 0.015
# the joint crisis test beside a rules' note of an ordinary reading (classifier.ORDINARY_NOTES): 8 of
# the 13 harmless lines the classifier alone put at crisis on 21 outsiders' sets carried one; at 0.1%
# 5 of them stay below crisis for 9 crisis lines (0%: 7 for 24)
ORDINARY_JOINT_BUDGET = 0.001
CRISIS_MARGIN = 0.02  # crisis threshold sits this far above the most crisis-like harmless line
FLOOR = 0.5  # never raise below an even chance
DECIMALS = 6
# Word and character n-grams are normalised each on its own (format /4) and weighted so.
BLOCK_WEIGHTS = {"w": 1.0, "c": 1.0}

# Blind sets, each written by an outsider who never saw the rules or the corpus (the folds of --loso).
BLIND_SETS = (
    "risk_blind_final.tsv",
    "risk_blind_final4.tsv",
    "risk_blind_final6.tsv",
    "risk_blind_final8.tsv",
    "risk_blind_final9.tsv",
    "risk_blind_final10.tsv",
    "risk_blind_final11.tsv",
    "risk_blind_final12.tsv",
    "risk_blind_final13.tsv",
    "risk_blind_final14.tsv",
    "risk_blind_final15.tsv",
    "risk_blind_final16.tsv",
    "risk_blind_final17.tsv",
    "risk_blind_final18.tsv",
    "risk_blind_final19.tsv",
    "risk_blind_final20.tsv",
    "risk_blind_final21.tsv",
    "risk_blind_fresh5.tsv",
    "risk_blind_folded.tsv",
)
# Training sets written by outsiders from the level definitions and lexicons: the rules were never
# tuned on most of their lines, so as folds they measure the rules AND the classifier on new words.
# Every such file is a fold: a new outsider's set (o, p, ...) joins the yardstick when it joins the corpus.
OUTSIDER_SETS = tuple(sorted(p.name for p in CORPUS_DIR.glob("classifier_train_outsiders_*.tsv")))
NEAR_DUPLICATE = 0.6  # Jaccard of character 4-gram sets at which a training line counts as a held-out line


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


class _Block:
    """The n-grams of one kind (``w`` words, ``c`` characters) of ``features``: an analyzer that
    pickles (a module-level class, not a lambda) and memoises, since every fold reads the same texts."""

    def __init__(self, kind: str, cache: dict):
        self.kind, self.cache = kind, cache

    def __call__(self, norm: str) -> list[str]:
        out = self.cache.get(norm)
        if out is None:
            out = self.cache[norm] = features(norm)
        return [f for f in out if f[0] == self.kind]


class BlockVectorizer:
    """scikit-learn's ``FeatureUnion`` of two ``TfidfVectorizer`` (sublinear tf, smooth idf, l2 norm):
    word n-grams and character n-grams, each normalised on its own and weighted by BLOCK_WEIGHTS,
    side by side; the pure-Python reader (format /4) does the same."""

    def __init__(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        cache: dict = {}
        self.parts = [
            (
                kind,
                weight,
                TfidfVectorizer(
                    analyzer=_Block(kind, cache),
                    sublinear_tf=True,
                    min_df=MIN_DF,
                    norm="l2",
                    smooth_idf=True,
                    lowercase=False,
                ),
            )
            for kind, weight in BLOCK_WEIGHTS.items()
        ]

    def fit_transform(self, norms):
        import scipy.sparse as sp

        return sp.hstack([w * v.fit_transform(norms) for _, w, v in self.parts]).tocsr()

    def transform(self, norms):
        import scipy.sparse as sp

        return sp.hstack([w * v.transform(norms) for _, w, v in self.parts]).tocsr()

    def get_feature_names_out(self):
        import numpy as np

        return np.concatenate([v.get_feature_names_out() for _, _, v in self.parts])

    @property
    def idf_(self):
        import numpy as np

        return np.concatenate([v.idf_ for _, _, v in self.parts])


def _pipeline_fit(norms, y_urgent, y_crisis):
    from sklearn.linear_model import LogisticRegression

    vec = BlockVectorizer()
    X = vec.fit_transform(norms)
    heads = []
    for y in (y_urgent, y_crisis):
        # liblinear's dual solver: the same L2-regularised logistic regression as the primal one (to
        # about 1e-3 in the weights), about seven times faster with far more n-grams than lines.
        clf = LogisticRegression(
            C=C, class_weight="balanced", solver="liblinear", dual=True, random_state=SEED
        )
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


def combined(rules, norm: str, pu: float, pc: float, th: dict) -> str:
    """The live path's level from the rules' assessment and the heads' probabilities (out of fold)."""
    model = Model.from_json(
        {"format": MODEL_FORMAT, "features": [], "idf": [], "coef_urgent": [], "coef_crisis": []}
        | {"intercept_urgent": 0, "intercept_crisis": 0}
        | th
    )
    lvl = model.decide(pu, pc, rules.level, ordinary_reading(rules)) if long_enough(norm) else "none"
    return lvl if level_rank(lvl) > level_rank(rules.level) else rules.level


def _budget_threshold(values, budget: float) -> float:
    """The lowest threshold that at most ``budget`` of ``values`` reach (never below FLOOR)."""
    n = int(budget * len(values))
    ranked = sorted(values, reverse=True)
    t = ranked[n] + 1e-4 if n < len(ranked) else FLOOR  # lines strictly above it: <= n
    return round(min(0.99, max(FLOOR, t)), 4)


def choose_thresholds(rows, pu, pc) -> dict[str, float]:
    """From out-of-fold probabilities of the classifier alone (not of what the rules said, so that
    editing a rule does not change the shipped model), each threshold the lowest that at most a
    budget of the harmless lines reach: urgent HARMLESS_BUDGET; crisis above every one of them;
    joint crisis (with the urgent head over its JOINT_URGENT_BUDGET threshold) JOINT_BUDGET, or
    ORDINARY_JOINT_BUDGET beside the rules' note of an ordinary reading; crisis beside a rules'
    urgent AGREE_BUDGET."""
    harmless = [i for i, r in enumerate(rows) if r["level"] in ("none", "watch") and long_enough(r["norm"])]
    top = max((pc[i] for i in harmless), default=0.0)
    tc = round(min(0.99, max(FLOOR, top + CRISIS_MARGIN)), 4)
    urgent = [pu[i] for i in harmless]
    crisis = [pc[i] for i in harmless]
    return {
        "threshold_urgent": _budget_threshold(urgent, HARMLESS_BUDGET),
        "threshold_crisis": tc,
        "threshold_urgent_joint": _budget_threshold(urgent, JOINT_URGENT_BUDGET),
        "threshold_crisis_joint": min(tc, _budget_threshold(crisis, JOINT_BUDGET)),
        "threshold_crisis_agree": min(tc, _budget_threshold(crisis, AGREE_BUDGET)),
        "threshold_crisis_joint_ordinary": min(tc, _budget_threshold(crisis, ORDINARY_JOINT_BUDGET)),
    }


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


def _fmt_thresholds(data: dict) -> str:
    names = ("urgent", "crisis", "urgent_joint", "crisis_joint", "crisis_agree", "crisis_joint_ordinary")
    return "thresholds " + " ".join(f"{n} {data[f'threshold_{n}']}" for n in names)


def _fmt(fig: dict) -> str:
    return "  ".join(f"{k} {n}/{d} ({100 * n / d if d else 0:.1f}%)" for k, (n, d) in fig.items())


def settings(rows) -> dict:
    return {
        "trained_on": sorted({row["src"] for row in rows}),
        "lines": len(rows),
        "seed": SEED,
        "C": C,
        "min_df": MIN_DF,
        "harmless_budget": HARMLESS_BUDGET,
        "joint_budget": JOINT_BUDGET,
        "joint_urgent_budget": JOINT_URGENT_BUDGET,
        "agree_budget": AGREE_BUDGET,
        "ordinary_joint_budget": ORDINARY_JOINT_BUDGET,
        "min_words": MIN_WORDS,
    }


def training_digest(rows) -> str:
    """SHA-256 of what a training run reads: every line's normalised text and level, in order, with the
    settings and block weights. The shipped model records it, so a test can tell in a second that the
    corpus or a setting changed since `make classifier` ran (a retrain takes minutes)."""
    h = hashlib.sha256(json.dumps([MODEL_FORMAT, settings(rows), BLOCK_WEIGHTS], sort_keys=True).encode())
    for row in rows:
        h.update(f"{row['level']}\t{row['norm']}\n".encode())
    return h.hexdigest()


def build(rows, report: bool = False):
    """(model JSON data, vectorizer, heads) trained on ``rows`` with thresholds chosen out of fold."""
    norms = [r["norm"] for r in rows]
    y = [LEVELS.index(r["level"]) for r in rows]
    pu, pc = out_of_fold(rows)
    th = choose_thresholds(rows, pu, pc)
    if report:
        rules = [assess(r["text"]) for r in rows]
        both = [combined(rl, n, a, b, th) for rl, n, a, b in zip(rules, norms, pu, pc)]
        print(f"{len(rows)} training lines; {_fmt_thresholds(th)}", file=sys.stderr)
        print("rules alone      (cv):", _fmt(figures(rows, [a.level for a in rules])), file=sys.stderr)
        print("rules+classifier (cv):", _fmt(figures(rows, both)), file=sys.stderr)
    vec, heads = _pipeline_fit(norms, [v >= 2 for v in y], [v == 3 for v in y])
    names = vec.get_feature_names_out().tolist()
    order = sorted(range(len(names)), key=lambda i: names[i])
    r = lambda x: round(float(x), DECIMALS)  # noqa: E731
    data = {
        "format": MODEL_FORMAT,
        "meta": {**settings(rows), "training_digest": training_digest(rows)},
        "block_weights": BLOCK_WEIGHTS,
        **th,
        "intercept_urgent": r(heads[0].intercept_[0]),
        "intercept_crisis": r(heads[1].intercept_[0]),
        "features": [names[i] for i in order],
        "idf": [r(vec.idf_[i]) for i in order],
        "coef_urgent": [r(heads[0].coef_[0, i]) for i in order],
        "coef_crisis": [r(heads[1].coef_[0, i]) for i in order],
    }
    return data, vec, heads


def train(paths=None, report: bool = False) -> dict:
    return train_rows(load_training(paths or training_files()), report)


def train_rows(rows, report: bool = False) -> dict:
    data, vec, heads = build(rows, report)
    # The pure-Python reader must agree with scikit-learn on every training line.
    model = Model.from_json(data)
    norms = [r["norm"] for r in rows]
    a, b = _predict(vec, heads, norms)
    worst = max(
        max(abs(p - q) for p, q in zip(model.probabilities(n), (x, z))) for n, x, z in zip(norms, a, b)
    )
    if worst > 1e-3:
        raise SystemExit(f"pure-Python model disagrees with scikit-learn by {worst:.2g}")
    return data


def _shingles(norm: str) -> list[str]:
    padded = f" {norm} "
    return sorted({padded[i : i + 4] for i in range(len(padded) - 3)})


def near_duplicates(rows, held_norms) -> set[int]:
    """Indices of ``rows`` whose normalised text is a held-out text or close to one (Jaccard of
    character 4-gram sets at least NEAR_DUPLICATE): a variation of a held-out line is not unseen."""
    from sklearn.feature_extraction.text import CountVectorizer

    vec = CountVectorizer(analyzer=_shingles, binary=True, lowercase=False)
    vec.fit([r["norm"] for r in rows] + list(held_norms))
    a = vec.transform([r["norm"] for r in rows])
    b = vec.transform(held_norms)
    inter = (a @ b.T).tocoo()
    size_a, size_b = a.sum(axis=1).A1, b.sum(axis=1).A1
    out = set()
    for i, j, n in zip(inter.row, inter.col, inter.data):
        if n / (size_a[i] + size_b[j] - n) >= NEAR_DUPLICATE:
            out.add(int(i))
    return out


def loso(sets=BLIND_SETS, out=sys.stdout) -> dict:
    """Leave one blind set out: per set, the live path's figures with the rules alone and with a
    classifier trained without the set (nor near-duplicates of its lines); then all sets pooled."""
    from .classifier import apply_second_opinion

    pooled: dict[str, dict] = {"rules": {}, "live": {}}
    for name in sets:
        held_path = CORPUS_DIR / name
        held = [r for r in read_rows(held_path) if normalize(r["text"])]
        rows = load_training(p for p in training_files() if p.name != name)
        dup = near_duplicates(rows, [normalize(r["text"]) for r in held])
        rows = [r for i, r in enumerate(rows) if i not in dup]
        data, _, _ = build(rows)
        model = Model.from_json(data)
        rules = [assess(r["text"], language=ALL_LANGUAGES) for r in held]
        live = [apply_second_opinion(r["text"], a, model).level for r, a in zip(held, rules)]
        figs = {"rules": figures(held, [a.level for a in rules]), "live": figures(held, live)}
        print(
            f"{name}: {len(held)} lines; trained on {len(rows)} ({len(dup)} near-duplicates left out); "
            + _fmt_thresholds(data),
            file=out,
        )
        for kind, label in (("rules", "  rules alone    "), ("live", "  rules+classifier")):
            print(label, _fmt(figs[kind]), file=out)
            for k, (n, d) in figs[kind].items():
                a, b = pooled[kind].get(k, (0, 0))
                pooled[kind][k] = (a + n, b + d)
        out.flush()
    print(f"pooled over {len(sets)} sets:", file=out)
    print("  rules alone     ", _fmt(pooled["rules"]), file=out)
    print("  rules+classifier", _fmt(pooled["live"]), file=out)
    return pooled


def dump(data: dict) -> str:
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "files", nargs="*", help="training TSV files (default: tests/corpus/*.tsv less the hold-out)"
    )
    ap.add_argument("--out", default=str(MODEL_PATH))
    ap.add_argument("--report", action="store_true", help="print cross-validated figures to stderr")
    ap.add_argument(
        "--loso",
        action="store_true",
        help="leave-one-blind-set-out figures of the live path (writes nothing)",
    )
    ap.add_argument(
        "--outsiders", action="store_true", help="with --loso: the outsiders' training sets are the folds"
    )
    args = ap.parse_args(argv)
    if args.loso:
        loso(OUTSIDER_SETS if args.outsiders else BLIND_SETS)
        return 0
    data = train(args.files or None, report=args.report)
    Path(args.out).write_text(dump(data), encoding="utf-8")
    print(f"wrote {args.out}: {len(data['features'])} features", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

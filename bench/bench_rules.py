"""Benchmark the risk rules engine against a naive substring scan.

    python -m bench.bench_rules

Prints messages/second for ``checkin.rules.assess`` over the corpus lines (one
core, repeated for about two seconds), a baseline in the same process (a
lower-case substring scan over the literal phrases of the same rule files), the
ratio, and p50/p99 microseconds per message; then the live path (every language plus the
classifier's second opinion, what inbound texts and calls run), whose budget is 5 ms a message.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from checkin.rules import ALL_LANGUAGES, assess, default_ruleset
from checkin.rules.classifier import shipped_model
from checkin.rules.evaluate import read_labelled

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "corpus" / "risk_corpus.tsv"
TARGET_SECONDS = 2.0


def literal_phrases() -> list[str]:
    """Literal phrases of the rule files: the ``phrases`` lists plus the plain-word
    alternatives of the regex patterns (e.g. 'kill myself' from 'kill myself|end it')."""
    rs = default_ruleset()
    out: set[str] = set(rs.phrases)
    for rule in rs.rules:
        if rule.mask:
            continue
        for alt in re.split(r"[|()]", rule.regex.pattern):
            alt = alt.strip()
            if re.fullmatch(r"[a-z]+(?: [a-z]+)*", alt) and len(alt) >= 4:
                out.add(alt)
    return sorted(out)


def run(fn, texts: list[str]) -> tuple[float, list[float]]:
    """(messages per second, per-message latencies in seconds)."""
    for t in texts:  # warm-up (compiles/caches)
        fn(t)
    latencies: list[float] = []
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < TARGET_SECONDS:
        for t in texts:
            t0 = time.perf_counter()
            fn(t)
            latencies.append(time.perf_counter() - t0)
        n += len(texts)
    elapsed = time.perf_counter() - start
    return n / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    texts = [text for _, text in read_labelled(CORPUS)]
    phrases = literal_phrases()

    def baseline(text: str) -> bool:
        low = text.lower()
        return any(p in low for p in phrases)

    default_ruleset()  # load + compile outside the timing
    shipped_model()  # the classifier's JSON too

    def live(text: str):  # what inbound texts and calls run: every language + the second opinion
        return assess(text, language=ALL_LANGUAGES, second_opinion=True)

    rate, lat = run(assess, texts)
    live_rate, live_lat = run(live, texts)
    base_rate, base_lat = run(baseline, texts)
    print(f"corpus: {len(texts)} messages, {len(phrases)} literal phrases for the baseline")
    print(
        f"rules.assess {rate:10.0f} msg/s   baseline substring {base_rate:10.0f} msg/s   ratio {rate / base_rate:.2f}"
    )
    print(
        f"rules.assess p50 {pct(lat, 0.50) * 1e6:7.1f} us   p99 {pct(lat, 0.99) * 1e6:7.1f} us   "
        f"mean {statistics.fmean(lat) * 1e6:7.1f} us"
    )
    print(
        f"live path    {live_rate:10.0f} msg/s   ratio {live_rate / base_rate:.2f}   p50 {pct(live_lat, 0.50) * 1e6:7.1f} us"
        f"   p99 {pct(live_lat, 0.99) * 1e6:7.1f} us   mean {statistics.fmean(live_lat) * 1e6:7.1f} us"
    )
    print(
        f"baseline     p50 {pct(base_lat, 0.50) * 1e6:7.1f} us   p99 {pct(base_lat, 0.99) * 1e6:7.1f} us   "
        f"mean {statistics.fmean(base_lat) * 1e6:7.1f} us"
    )


if __name__ == "__main__":
    main()

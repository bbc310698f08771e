"""`python -m tests.faults [FAULT ...] [--pending]`: run the fault table and print it (what `make chaos` runs).

With no names, every fault that is expected to hold; `--pending` adds the ones that wait on work in
progress (their losses are reported, and do not fail the run). Exits 1 if a row that should hold lost or
duplicated anything."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.harness import FAULTS, run_fault, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__.split("\n")[0])
    parser.add_argument("faults", nargs="*", help=f"any of: {', '.join(FAULTS)}")
    parser.add_argument("--pending", action="store_true", help="also run the faults marked pending")
    parser.add_argument("--keep", metavar="DIR", help="keep each row's process logs under DIR")
    args = parser.parse_args(argv)
    unknown = [name for name in args.faults if name not in FAULTS]
    if unknown:
        parser.error(f"unknown fault {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    names = args.faults or [n for n, f in FAULTS.items() if args.pending or not f.pending]
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="checkin-faults-") as scratch:
        tmp = args.keep or scratch
        for name in names:
            fault = FAULTS[name]
            print(f"chaos: {name}: {fault.what} ...", flush=True)
            rows.append(run_fault(fault, Path(tmp) / name))
            print("\n".join(table(rows[-1:]).splitlines()[2:]), flush=True)  # the row, its notes or error
    print()
    print(table(rows))
    print(f"\n{len(rows)} faults in {time.monotonic() - started:.0f} s", flush=True)
    failed = [r for r in rows if not r.ok and not r.pending]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

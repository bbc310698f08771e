"""`python -m bench [name ...] [--option value ...]`: run every bench/bench_*.py module's main(), or only
the named ones (options go to the sections that read them: `python -m bench planning --members 20000`).

Each section prints its own figures beside a baseline measured in the same run. A failing section
prints its error and the run goes on; the exit status is non-zero if any section failed.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback

import bench
from bench.common import section, terminate_on_signals


def discover() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_") and not m.ispkg
    )


def select(available: list[str], wanted: list[str]) -> list[str]:
    if not wanted:
        return available
    chosen, unknown = [], []
    for name in wanted:
        module = name if name.startswith("bench_") else f"bench_{name}"
        (chosen if module in available else unknown).append(module)
    if unknown:
        names = ", ".join(n.removeprefix("bench_") for n in available) or "none"
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)} (available: {names})")
    return list(dict.fromkeys(chosen))


def names(argv: list[str]) -> list[str]:
    """The section names in argv; `--option value` pairs are the sections' own (e.g. planning's --members)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("--"):
            skip = "=" not in arg
        else:
            out.append(arg)
    return out


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        print("\navailable:", ", ".join(n.removeprefix("bench_") for n in discover()))
        return 0
    modules = select(discover(), names(argv))
    terminate_on_signals()  # a `timeout` or a closed terminal still stops servers and workers, drops databases
    failed: list[str] = []
    for name in modules:
        section(name.removeprefix("bench_"))
        started = time.monotonic()
        try:
            module = importlib.import_module(f"bench.{name}")
            module.main()
        except KeyboardInterrupt:
            print(f"\n{name}: interrupted", file=sys.stderr, flush=True)
            failed.append(name)
            break
        except BaseException as exc:  # a section's sys.exit() or error must not stop the others
            if isinstance(exc, SystemExit) and exc.code in (None, 0):
                pass
            else:
                traceback.print_exc()
                print(f"{name}: FAILED ({type(exc).__name__}: {exc})", flush=True)
                failed.append(name)
                continue
        print(f"({name} done in {time.monotonic() - started:.1f} s)", flush=True)
    print()
    if failed:
        print(f"bench: {len(failed)} of {len(modules)} section(s) failed: {', '.join(failed)}", flush=True)
        return 1
    print(f"bench: {len(modules)} section(s) ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

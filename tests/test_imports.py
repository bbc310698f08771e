"""Every domain module imports on its own: no import cycle hides behind the order tests import things."""

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import checkin
names = sorted(m.name for m in pkgutil.walk_packages(checkin.__path__, "checkin."))
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m == "checkin" or m.startswith("checkin.")]:
        del sys.modules[loaded]  # import each module as if it were the first (third-party ones stay loaded)
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\\n".join(failed))
"""


def test_each_domain_module_imports_alone():
    # A fresh interpreter, so this test's own imports cannot mask a cycle.
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900)
    count, _, failures = result.stdout.partition("\n")
    assert result.returncode == 0, result.stderr
    assert int(count) > 40 and failures.strip() == "", failures

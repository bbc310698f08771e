"""Faults injected into the Procfile's processes: `make chaos` prints the table (tests/faults/harness.py)."""

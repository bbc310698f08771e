"""`checkin dev` (make run) keeps its children running: a killed worker is started again, not left dead
with every other process stopped while a crisis alert waits."""

import signal
import sys

from checkin.cli.dev import Supervisor, _stop_all

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _wait_dead(proc):
    proc.wait(timeout=30)


def test_a_killed_child_is_started_again_and_named_once():
    said = []
    now = [1000.0]
    supervisor = Supervisor(
        {"worker": SLEEPER, "cron": SLEEPER}, None, clock=lambda: now[0], echo=said.append
    )
    try:
        first = supervisor.procs["worker"]
        cron = supervisor.procs["cron"]
        now[0] += 60  # it had been running a while: started again at once
        first.send_signal(signal.SIGKILL)
        _wait_dead(first)
        assert supervisor.restart_the_dead() == ["worker"]
        again = supervisor.procs["worker"]
        assert again.pid != first.pid and again.poll() is None
        assert supervisor.procs["cron"] is cron and cron.poll() is None  # the others untouched
        assert said == ["checkin dev: worker exited with -9; restarting it in 0 s"]
        assert supervisor.restart_the_dead() == []  # running: nothing more to do, nothing more said
    finally:
        _stop_all(supervisor.procs, None)
    assert all(p.poll() is not None for p in supervisor.procs.values())  # stopping still stops them all


def test_a_child_that_dies_at_once_is_not_restarted_in_a_tight_loop():
    said = []
    now = [1000.0]
    supervisor = Supervisor(
        {"worker": [sys.executable, "-c", "raise SystemExit(3)"]},
        None,
        clock=lambda: now[0],
        echo=said.append,
    )
    try:
        supervisor.procs["worker"].wait(timeout=30)
        now[0] += 1  # it lived one second
        assert supervisor.restart_the_dead() == []  # waits its pause first
        assert supervisor.restart_the_dead() == []
        assert said == ["checkin dev: worker exited with 3; restarting it in 1 s"]
        now[0] += 1
        assert supervisor.restart_the_dead() == ["worker"]
        supervisor.procs["worker"].wait(timeout=30)
        now[0] += 0.5
        supervisor.restart_the_dead()
        assert said[-1] == "checkin dev: worker exited with 3; restarting it in 2 s"  # the pause grows
    finally:
        _stop_all(supervisor.procs, None)

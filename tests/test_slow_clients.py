"""The Procfile's web server, run as written, answers a signed crisis text while 50 connections trickle
request bodies one byte a second (with gunicorn's two sync workers, two such connections stalled every
webhook). The figures are `make bench` (`python -m bench slow_clients`); here only a hang deadline."""

from __future__ import annotations

import http.client
import os
import shlex
import socket
import subprocess
import threading
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from checkin.models import Message
from tests.conftest import AUTH_TOKEN, FROM_NUMBER, REPO
from tests.test_cron_runner import stop
from webhooks.simulate import replies_from_twiml, sign, sms_params

TRICKLERS = 50
HANG = 60  # seconds: a deadline against a hang, not a timing claim


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web(env: dict[str, str], log) -> subprocess.Popen:
    line = next(line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:"))
    cmd = line.removeprefix("web:").strip().replace("0.0.0.0", "127.0.0.1")
    venv_bin = shlex.quote(str(REPO / ".venv" / "bin"))
    return subprocess.Popen(
        ["sh", "-c", f"export PATH={venv_bin}:$PATH; exec {cmd}"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(port: int, proc: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the web server did not answer within {HANG} s:\n{log_path.read_text()}")


class Tricklers:
    """Connections that send a POST's headers, then one body byte a second each."""

    def __init__(self, port: int, count: int):
        self.socks = []
        for _ in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(
                f"POST /twilio/sms HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\n".encode()
            )
            self.socks.append(s)
        self.open = count
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(1.0):
            open_now = 0
            for s in self.socks:
                try:
                    s.sendall(b"a")
                    open_now += 1
                except OSError:
                    pass
            self.open = open_now

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def test_a_signed_crisis_text_is_answered_and_stored_while_50_slow_clients_trickle(env, member, db, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {**os.environ, **env, "PORT": str(port), "PUBLIC_BASE_URL": base}
    log_path = tmp_path / "web.log"
    with open(log_path, "ab") as log:
        proc = procfile_web(server_env, log)
    tricklers = None
    try:
        wait_ready(port, proc, log_path)
        tricklers = Tricklers(port, TRICKLERS)
        time.sleep(1.5)  # every slow client has sent its headers and started on its body

        params = sms_params(member.phone, FROM_NUMBER, "i took all my pills", account_sid="AC" + "1" * 32)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG)
        conn.request(
            "POST",
            "/twilio/sms",
            body=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(AUTH_TOKEN, base + "/twilio/sms", params),
            },
        )
        resp = conn.getresponse()
        answer = resp.read().decode()
        conn.close()

        assert resp.status == 200, answer
        replies = replies_from_twiml(answer)
        assert replies and "988" in replies[0] and "911" in replies[0]
        with db.session() as s:
            stored = s.scalars(select(Message).where(Message.provider_sid == params["MessageSid"])).all()
            assert [m.body for m in stored] == ["i took all my pills"]
        assert tricklers.open == TRICKLERS  # the slow clients were still connected, still trickling
    finally:
        if tricklers is not None:
            tricklers.close()
        stop(proc)

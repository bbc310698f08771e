"""A body over the web server's limit gets an HTTP 413 with a reason, through a real HTTP client against
the Procfile's own web line (and `make run` serves with the same server): an outside tester's 7 MB POST
to the Twilio webhooks and the console got a connection reset instead, since the server closed the
socket with the body still coming and the client, still sending, never read the answer."""

from __future__ import annotations

import http.client
import os

import pytest

from tests.test_cron_runner import stop
from tests.test_slow_clients import HANG, free_port, procfile_web, wait_ready

SEVEN_MB = 7_000_000  # over the Procfile's --max-request-body-size (6 MiB), as the tester sent


def post(port: int, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    """What an ordinary client does: send the whole request, then read the answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


@pytest.fixture
def web(env, tmp_path):
    port = free_port()
    server_env = {**os.environ, **env, "PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    log_path = tmp_path / "web.log"
    with open(log_path, "ab") as log:
        proc = procfile_web(server_env, log)
    try:
        wait_ready(port, proc, log_path)
        yield port
    finally:
        stop(proc)


def test_a_7_mb_body_gets_413_with_the_limit_not_a_reset(web):
    for path, content_type in (
        ("/twilio/sms", "application/x-www-form-urlencoded"),
        ("/twilio/voice", "application/x-www-form-urlencoded"),
        ("/console/members/import", "multipart/form-data; boundary=x"),
    ):
        status, text = post(web, path, b"a" * SEVEN_MB, content_type)
        assert (status, "too large" in text, "6144 KiB" in text) == (413, True, True), (path, text)
    # The server is none the worse: the next request is answered (by the app: over its 64 KiB).
    assert post(web, "/twilio/sms", b"Body=x" * 20_000, "application/x-www-form-urlencoded") == (
        413,
        "request too large (limit 64 KiB)\n",
    )

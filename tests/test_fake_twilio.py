"""Tests for tests/fake_twilio.py, driven through the real twilio library."""

from __future__ import annotations

import concurrent.futures
import datetime
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fake_twilio import FakeTwilio, RemoteFakeTwilio, segments_for

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "s3cr3t-token"
API_KEY, API_SECRET = "SK" + "b2" * 16, "key-secret"
FROM = "+15017122661"
TO = "+15558675310"
MG = "MG" + "c3" * 16

_TWILIO_HOST = re.compile(r"^https://(?:[a-z0-9-]+\.)*twilio\.com", re.I)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LoopbackHttpClient(TwilioHttpClient):
    """Test-local equivalent of the production loopback client: rewrite *.twilio.com."""

    def __init__(self, base_url: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        return super().request(method, _TWILIO_HOST.sub(self.base_url, url), *args, **kwargs)


@pytest.fixture
def fake():
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN, api_keys={API_KEY: API_SECRET}) as f:
        yield f


@pytest.fixture
def client(fake):
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LoopbackHttpClient(fake.base_url))


class Webhook:
    """A tiny werkzeug app in a thread that validates X-Twilio-Signature."""

    def __init__(self, token: str = AUTH_TOKEN, answer: int = 200):
        self.validator = RequestValidator(token)
        self.answer = answer
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ, start_response):
        request = Request(environ)
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        url = f"http://{request.host}{raw_uri}"
        form = request.form
        signature = request.headers.get("X-Twilio-Signature", "")
        with self.lock:
            self.received.append(
                {
                    "raw_uri": raw_uri,
                    "url": url,
                    "params": form.to_dict(),
                    "valid": self.validator.validate(url, form, signature),
                    "content_type": request.content_type,
                }
            )
        return Response("<Response/>", status=self.answer, content_type="text/xml")(environ, start_response)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait(self, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"expected {n} callbacks, got {len(self.received)}")


def post_raw(fake: FakeTwilio, path: str, data, auth=(ACCOUNT_SID, AUTH_TOKEN)):
    return requests.post(
        f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/{path}", data=data, auth=auth, timeout=10
    )


# ------------------------------------------------------------------ messages


def test_create_message_returns_twilio_shaped_resource(fake, client):
    msg = client.messages.create(to=TO, from_=FROM, body="Hello from Checkin")
    assert re.fullmatch(r"SM[0-9a-f]{32}", msg.sid)
    assert msg.status == "queued"
    assert msg.to == TO and msg.from_ == FROM and msg.body == "Hello from Checkin"
    assert msg.account_sid == ACCOUNT_SID
    assert msg.direction == "outbound-api"
    assert msg.num_segments == "1"
    assert msg.price is None and msg.error_code is None and msg.error_message is None
    assert msg.api_version == "2010-04-01"
    assert msg.uri == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{msg.sid}.json"
    assert isinstance(msg.date_created, datetime.datetime)  # parsed from RFC 2822 by the library
    assert msg.date_created.tzinfo is not None
    assert "media" in msg.subresource_uris

    (stored,) = fake.messages()
    assert stored["sid"] == msg.sid
    assert stored["params"] == {"To": TO, "From": FROM, "Body": "Hello from Checkin"}
    (req,) = fake.requests()
    assert req["method"] == "POST" and req["status"] == 201
    assert req["path"].endswith("/Messages.json")
    assert req["auth_user"] == ACCOUNT_SID
    assert req["received_monotonic"] <= time.monotonic() and req["received_wall"] > 0

    fetched = client.messages(msg.sid).fetch()
    assert fetched.sid == msg.sid and fetched.body == "Hello from Checkin"


def test_messaging_service_media_and_segments(fake, client):
    msg = client.messages.create(to=TO, messaging_service_sid=MG, body="x" * 161)
    assert msg.messaging_service_sid == MG
    assert msg.status == "accepted"  # as Twilio answers for a service without From
    assert msg.from_ is None
    assert msg.num_segments == "2"
    mms = client.messages.create(
        to=TO, from_=FROM, media_url=["https://example.com/a.png", "https://example.com/b.png"]
    )
    assert re.fullmatch(r"MM[0-9a-f]{32}", mms.sid) and mms.num_media == "2"
    assert fake.messages()[1]["params"]["MediaUrl"] == [
        "https://example.com/a.png",
        "https://example.com/b.png",
    ]
    assert segments_for("é" * 160) == 1 and segments_for("€" * 81) == 2 and segments_for("😀" * 36) == 2


def test_list_messages_and_calls(fake, client):
    a = client.messages.create(to=TO, from_=FROM, body="a")
    b = client.messages.create(to="+15005550006", from_=FROM, body="b")
    assert [m.sid for m in client.messages.list(limit=10)] == [b.sid, a.sid]  # newest first
    assert [m.sid for m in client.messages.list(to=TO)] == [a.sid]
    call = client.calls.create(to=TO, from_=FROM, url="https://example.com/v")
    assert [c.sid for c in client.calls.list(status="queued")] == [call.sid]


def test_api_key_auth_is_accepted(fake):
    api_client = Client(API_KEY, API_SECRET, ACCOUNT_SID, http_client=LoopbackHttpClient(fake.base_url))
    assert api_client.messages.create(to=TO, from_=FROM, body="k").status == "queued"


def test_wrong_credentials_get_401_20003(fake):
    bad = Client(ACCOUNT_SID, "wrong", http_client=LoopbackHttpClient(fake.base_url))
    with pytest.raises(TwilioRestException) as exc:
        bad.messages.create(to=TO, from_=FROM, body="x")
    assert exc.value.status == 401 and exc.value.code == 20003
    resp = post_raw(fake, "Messages.json", {"To": TO, "From": FROM, "Body": "x"}, auth=None)
    assert resp.status_code == 401
    assert (
        resp.json()["code"] == 20003
        and resp.json()["more_info"] == "https://www.twilio.com/docs/errors/20003"
    )
    assert not fake.messages()


def test_other_account_and_unknown_sid_are_404(fake, client):
    other = Client(ACCOUNT_SID, AUTH_TOKEN, "AC" + "9" * 32, http_client=LoopbackHttpClient(fake.base_url))
    with pytest.raises(TwilioRestException) as exc:
        other.messages.create(to=TO, from_=FROM, body="x")
    assert exc.value.status == 404 and exc.value.code == 20404
    with pytest.raises(TwilioRestException) as exc:
        client.messages("SM" + "0" * 32).fetch()
    assert exc.value.code == 20404


def test_unknown_parameter_is_rejected(fake):
    resp = post_raw(fake, "Messages.json", {"To": TO, "From": FROM, "Body": "x", "Bogus": "1"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == 20001 and body["message"] == "Unknown parameter Bogus"
    assert set(body) >= {"code", "message", "more_info", "status"}


def test_unknown_parameter_surfaces_as_twilio_rest_exception(fake, client):
    # the library only sends parameters it knows, so smuggle one through the low-level request API
    with pytest.raises(TwilioRestException) as exc:
        client.api.v2010.create(
            "POST",
            f"/Accounts/{ACCOUNT_SID}/Messages.json",
            data={"To": TO, "From": FROM, "Body": "x", "Priority": "high"},
        )
    assert exc.value.status == 400 and exc.value.code == 20001
    assert "Unknown parameter Priority" in exc.value.msg


@pytest.mark.parametrize("to", ["5558675310", "+0123456789", "+1555", "+1 555 867 5310", "hello"])
def test_invalid_to_is_21211(client, to):
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=to, from_=FROM, body="x")
    assert exc.value.status == 400 and exc.value.code == 21211
    assert f"The 'To' number {to} is not a valid phone number." in exc.value.msg


@pytest.mark.parametrize(
    "data, code",
    [
        ({"From": FROM, "Body": "x"}, 21604),
        ({"To": "", "From": FROM, "Body": "x"}, 21604),
        ({"To": TO, "From": FROM}, 21602),
        ({"To": TO, "From": FROM, "Body": ""}, 21602),
        ({"To": TO, "Body": "x"}, 21603),
        ({"To": TO, "From": "not a number!", "Body": "x"}, 21212),
        ({"To": TO, "From": FROM, "Body": "x" * 1601}, 21617),
        ({"To": TO, "From": FROM, "Body": "x", "StatusCallback": "not-a-url"}, 21609),
        ({"To": TO, "MessagingServiceSid": "MG123", "Body": "x"}, 20001),  # pattern/length from the schema
        ({"To": TO, "From": FROM, "Body": "x", "ContentRetention": "forever"}, 20001),  # enum
        ({"To": TO, "From": FROM, "Body": "x", "ValidityPeriod": "soon"}, 20001),  # integer
        ({"To": TO, "From": FROM, "Body": "x", "SmartEncoded": "yes"}, 20001),  # boolean
        ({"To": [TO, TO], "From": FROM, "Body": "x"}, 20001),  # repeated scalar
    ],
)
def test_message_validation_errors(fake, data, code):
    resp = post_raw(fake, "Messages.json", data)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == code
    assert resp.json()["status"] == 400
    assert not fake.messages()


def test_missing_body_via_library(client):
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=TO, from_=FROM)
    assert exc.value.code == 21602


def test_alphanumeric_sender_and_content_sid_accepted(client):
    assert client.messages.create(to=TO, from_="Checkin", body="hi").from_ == "Checkin"
    assert client.messages.create(to=TO, from_=FROM, content_sid="HX" + "d4" * 16).status == "queued"


# ------------------------------------------------------------------ failure injection


def test_fail_next_permanent_code(fake, client):
    fake.fail_next(status=400, code=21610)
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=TO, from_=FROM, body="x")
    assert exc.value.status == 400 and exc.value.code == 21610
    assert "unsubscribed" in exc.value.msg
    assert client.messages.create(to=TO, from_=FROM, body="x").status == "queued"
    assert len(fake.messages()) == 1
    assert [r["status"] for r in fake.requests()] == [400, 201]


def test_fail_next_429_and_500(fake, client):
    fake.fail_next(n=2, status=429)
    fake.fail_next(status=500, message="boom")
    for _ in range(2):
        with pytest.raises(TwilioRestException) as exc:
            client.messages.create(to=TO, from_=FROM, body="x")
        assert exc.value.status == 429 and exc.value.code == 20429
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=TO, from_=FROM, body="x")
    assert exc.value.status == 500 and exc.value.code == 20500 and "boom" in exc.value.msg
    assert client.messages.create(to=TO, from_=FROM, body="x").sid
    assert fake.count_429() == 2
    assert fake.stats()["responses_by_status"] == {"201": 1, "429": 2, "500": 1}


def test_fail_next_for_one_number_and_fail_always(fake, client):
    other = "+15005550006"
    fake.fail_next(to=other, code=21211)
    fake.fail_always(to="+15005550009", status=400, code=21614)
    assert client.messages.create(to=TO, from_=FROM, body="x")  # not the targeted number
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=other, from_=FROM, body="x")
    assert exc.value.code == 21211 and other in exc.value.msg
    assert client.messages.create(to=other, from_=FROM, body="x")  # only once
    for _ in range(3):
        with pytest.raises(TwilioRestException) as exc:
            client.messages.create(to="+15005550009", from_=FROM, body="x")
        assert exc.value.code == 21614
    fake.clear_failures()
    assert client.messages.create(to="+15005550009", from_=FROM, body="x")


def test_invalid_requests_do_not_consume_injected_failures(fake, client):
    fake.fail_next(code=21610)
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to="bad", from_=FROM, body="x")
    assert exc.value.code == 21211
    with pytest.raises(TwilioRestException) as exc:
        client.messages.create(to=TO, from_=FROM, body="x")
    assert exc.value.code == 21610


def test_rate_limit_per_sender(fake, client):
    now = [1000.0]
    fake.clock = lambda: now[0]  # five requests in one window however slowly they go
    fake.rate_limit(3)
    outcomes = []
    for _ in range(5):
        try:
            client.messages.create(to=TO, from_=FROM, body="x")
            outcomes.append(201)
        except TwilioRestException as exc:
            assert exc.code == 20429 and exc.status == 429
            outcomes.append(429)
    assert outcomes == [201, 201, 201, 429, 429]
    # another sender has its own window
    assert client.messages.create(to=TO, messaging_service_sid=MG, body="x")
    assert fake.count_429() == 2
    now[0] += 1.05  # the window slides
    assert client.messages.create(to=TO, from_=FROM, body="x")
    fake.rate_limit(None)
    for _ in range(5):
        client.messages.create(to=TO, from_=FROM, body="x")


def test_rate_limit_under_concurrency(fake):
    fake.rate_limit(10)

    def send(i):
        return post_raw(fake, "Messages.json", {"To": TO, "From": FROM, "Body": str(i)}).status_code

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(send, range(40)))
    elapsed = time.monotonic() - started
    assert codes.count(201) >= 10
    assert codes.count(201) <= 10 * (int(elapsed) + 1)  # at most 10 per started second
    assert codes.count(429) == fake.count_429() == 40 - codes.count(201)
    assert len(fake.messages()) == codes.count(201)


def test_delay_and_wait_for(fake, client):
    fake.delay(0.3)
    started = time.monotonic()
    threading.Thread(target=lambda: client.messages.create(to=TO, from_=FROM, body="late")).start()
    assert not fake.messages()
    (msg,) = fake.wait_for_messages(1, timeout=60)
    assert msg["body"] == "late"
    assert time.monotonic() - started >= 0.3
    assert fake.wait_for(lambda: len(fake.messages()) >= 2, timeout=0.2) is False
    with pytest.raises(TimeoutError):
        fake.wait_for_messages(2, timeout=0.1)
    fake.reset()
    assert fake.messages() == [] and fake.requests() == []


def test_stop_is_prompt_with_idle_keepalive_connections():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    session = requests.Session()
    for _ in range(3):
        r = session.post(
            f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json",
            data={"To": TO, "From": FROM, "Body": "x"},
            auth=(ACCOUNT_SID, AUTH_TOKEN),
        )
        assert r.status_code == 201
    started = time.monotonic()
    fake.stop()
    # Held by the idle connections, stop would wait out its 10 s join; a loaded machine takes a few seconds.
    assert time.monotonic() - started < 8
    assert not fake.running
    fake.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        session.post(f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", timeout=2)


def test_many_concurrent_clients(fake):
    def send(i):
        c = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LoopbackHttpClient(fake.base_url))
        return [c.messages.create(to=TO, from_=FROM, body=f"{i}-{k}").sid for k in range(5)]

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        sids = [s for batch in pool.map(send, range(20)) for s in batch]
    assert len(set(sids)) == 100
    assert len(fake.wait_for_messages(100)) == 100


# ------------------------------------------------------------------ calls


def test_create_call_with_url_and_machine_detection(fake, client):
    call = client.calls.create(
        to=TO,
        from_=FROM,
        url="https://example.com/voice?x=1",
        machine_detection="DetectMessageEnd",
        status_callback_event=["initiated", "completed"],
        timeout=20,
    )
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid)
    assert call.status == "queued" and call.direction == "outbound-api"
    assert call.to == TO and call._from == FROM and call.to_formatted == "(555) 867-5310"
    (stored,) = fake.calls()
    assert stored["params"]["MachineDetection"] == "DetectMessageEnd"
    assert stored["params"]["StatusCallbackEvent"] == ["initiated", "completed"]
    assert client.calls(call.sid).fetch().sid == call.sid


def test_call_with_twiml_and_update(fake, client):
    call = client.calls.create(to=TO, from_=FROM, twiml="<Response><Say>Hi</Say></Response>")
    updated = client.calls(call.sid).update(twiml="<Response><Hangup/></Response>")
    assert updated.sid == call.sid
    done = client.calls(call.sid).update(status="completed")
    assert done.status == "completed" and done.end_time is not None
    assert fake.call(call.sid)["updates"][-1] == {"Status": "completed"}
    with pytest.raises(TwilioRestException) as exc:
        client.calls(call.sid).update(status="ringing")
    assert exc.value.code == 20001


@pytest.mark.parametrize(
    "data, code",
    [
        ({"To": TO, "From": FROM}, 21205),
        ({"To": TO, "From": FROM, "Url": "https://e.com/a", "Twiml": "<Response/>"}, 21205),
        ({"To": TO, "From": FROM, "Url": "not a url"}, 21205),
        ({"From": FROM, "Url": "https://e.com/a"}, 21201),
        ({"To": TO, "Url": "https://e.com/a"}, 21213),
        ({"To": "12345", "From": FROM, "Url": "https://e.com/a"}, 21211),
        ({"To": TO, "From": FROM, "Url": "https://e.com/a", "Method": "PUT"}, 20001),
        ({"To": TO, "From": FROM, "Url": "https://e.com/a", "Body": "x"}, 20001),
    ],
)
def test_call_validation_errors(fake, data, code):
    resp = post_raw(fake, "Calls.json", data)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == code
    assert not fake.calls()


def test_call_client_address_is_accepted(client):
    assert (
        client.calls.create(to="client:alice", from_=FROM, application_sid="AP" + "e5" * 16).status
        == "queued"
    )


# ------------------------------------------------------------------ status callbacks


def test_message_status_callbacks_are_signed(fake, client):
    with Webhook() as hook:
        query = "msg=42&tag=a%20b&sig=x%2By&dup=2&dup=1&empty=&path=/p:q"
        url = f"{hook.base_url}/twilio/status?{query}"
        msg = client.messages.create(to=TO, from_=FROM, body="x", status_callback=url)
        assert fake.send_status(msg.sid, "sent") == 200
        assert fake.send_status(msg.sid, "undelivered", error_code=30003) == 200
        first, second = hook.wait(2)
    assert first["raw_uri"] == f"/twilio/status?{query}"  # query preserved exactly
    assert first["valid"] and second["valid"]
    assert first["content_type"] == "application/x-www-form-urlencoded"
    assert first["params"] == {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": msg.sid,
        "SmsSid": msg.sid,
        "MessageStatus": "sent",
        "SmsStatus": "sent",
        "To": TO,
        "From": FROM,
    }
    assert second["params"]["MessageStatus"] == "undelivered" and second["params"]["ErrorCode"] == "30003"
    fetched = client.messages(msg.sid).fetch()
    assert fetched.status == "undelivered" and fetched.error_code == 30003
    assert [c["status_code"] for c in fake.callbacks()] == [200, 200]
    # the signature really covers the URL: a different token does not validate
    assert not RequestValidator("other").validate(
        first["url"], first["params"], fake.callbacks()[0]["signature"]
    )


def test_send_status_without_callback_returns_none(fake, client):
    msg = client.messages.create(to=TO, from_=FROM, body="x")
    assert fake.send_status(msg.sid, "delivered") is None
    assert client.messages(msg.sid).fetch().status == "delivered"
    with pytest.raises(KeyError):
        fake.send_status("SM" + "0" * 32, "sent")


def test_send_status_reports_webhook_answer(fake, client):
    with Webhook(answer=403) as hook:
        msg = client.messages.create(to=TO, from_=FROM, body="x", status_callback=f"{hook.base_url}/cb")
        assert fake.send_status(msg.sid, "failed", error_code=30008) == 403


def test_auto_status_callbacks(client):
    with (
        FakeTwilio(
            ACCOUNT_SID, AUTH_TOKEN, auto_status=("sent", "delivered"), auto_status_delay=0.01
        ) as fake,
        Webhook() as hook,
    ):
        c = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LoopbackHttpClient(fake.base_url))
        sids = [
            c.messages.create(to=TO, from_=FROM, body=str(i), status_callback=f"{hook.base_url}/s?n={i}").sid
            for i in range(5)
        ]
        c.messages.create(to=TO, from_=FROM, body="no callback")
        got = hook.wait(10)
        assert fake.wait_idle(60)
        assert all(g["valid"] for g in got)
        for i, sid in enumerate(sids):
            seq = [g["params"]["MessageStatus"] for g in got if g["params"]["MessageSid"] == sid]
            assert seq == ["sent", "delivered"]
            assert {g["raw_uri"] for g in got if g["params"]["MessageSid"] == sid} == {f"/s?n={i}"}
            assert fake.message(sid)["status"] == "delivered"
        assert len(fake.callbacks()) == 10


def test_call_status_callbacks(client, fake):
    with Webhook() as hook:
        call = client.calls.create(
            to=TO,
            from_=FROM,
            url="https://example.com/voice",
            machine_detection="Enable",
            status_callback=f"{hook.base_url}/calls/status?call=7",
        )
        assert fake.send_status(call.sid, "in-progress", answered_by="machine_start") == 200
        assert fake.send_status(call.sid, "completed", duration=17) == 200
        answered, completed = hook.wait(2)
    assert answered["valid"] and completed["valid"]
    assert answered["raw_uri"] == "/calls/status?call=7"
    p = completed["params"]
    assert p["CallSid"] == call.sid and p["CallStatus"] == "completed"
    assert p["AnsweredBy"] == "machine_start" and p["CallDuration"] == "17"
    assert p["From"] == FROM and p["To"] == TO and p["Direction"] == "outbound-api"
    assert p["AccountSid"] == ACCOUNT_SID and p["ApiVersion"] == "2010-04-01"
    assert answered["params"]["SequenceNumber"] == "0" and p["SequenceNumber"] == "1"
    fetched = client.calls(call.sid).fetch()
    assert (
        fetched.status == "completed" and fetched.duration == "17" and fetched.answered_by == "machine_start"
    )


def test_auto_call_status_respects_status_callback_event(client):
    with (
        FakeTwilio(
            ACCOUNT_SID,
            AUTH_TOKEN,
            auto_call_status=("initiated", "ringing", "in-progress", "completed"),
            auto_status_delay=0.01,
        ) as fake,
        Webhook() as hook,
    ):
        c = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LoopbackHttpClient(fake.base_url))
        c.calls.create(to=TO, from_=FROM, url="https://e.com/v", status_callback=f"{hook.base_url}/a")
        c.calls.create(
            to=TO,
            from_=FROM,
            url="https://e.com/v",
            status_callback=f"{hook.base_url}/b",
            status_callback_event=["ringing", "answered", "completed"],
        )
        hook.wait(4)
        assert fake.wait_idle(60)
        time.sleep(0.1)
        by_path: dict[str, list[str]] = {}
        for g in hook.received:
            by_path.setdefault(g["raw_uri"], []).append(g["params"]["CallStatus"])
        assert by_path == {"/a": ["completed"], "/b": ["ringing", "in-progress", "completed"]}


# ------------------------------------------------------------------ standalone process


def test_standalone_process_and_remote_control():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_twilio",
            "--port",
            "0",
            "--auth-token",
            AUTH_TOKEN,
            "--account-sid",
            ACCOUNT_SID,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        base = m.group(1)
        c = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=LoopbackHttpClient(base))
        remote = RemoteFakeTwilio(base)
        remote.rate_limit(2)
        codes = []
        # Two a second, in a window that slides on the process's real clock (which a test cannot set from
        # here): back to back, the third create is refused unless the machine stalled between them, so
        # create until one is refused rather than counting on a fixed fourth being refused too.
        while 429 not in codes and len(codes) < 100:
            try:
                c.messages.create(to=TO, from_=FROM, body="x")
                codes.append(201)
            except TwilioRestException as exc:
                codes.append(exc.status)
        assert codes[:2] == [201, 201] and codes[-1] == 429
        assert remote.count_429() == 1
        remote.fail_next(status=400, code=21610)
        remote.rate_limit(None)
        with pytest.raises(TwilioRestException) as exc:
            c.messages.create(to=TO, from_=FROM, body="x")
        assert exc.value.code == 21610
        assert len(remote.wait_for_messages(codes.count(201))) == codes.count(201)
        remote.reset()
        assert remote.stats()["messages"] == 0
    finally:
        proc.terminate()
        assert proc.wait(timeout=60) == 0  # bounds a hang: a loaded machine may take seconds to stop it


# --- DELETE: messages, calls, recordings, transcriptions --------------------------------------------


def test_delete_answers_204_without_a_body_then_404_as_twilio_does(fake, client):
    sent = client.messages.create(to=TO, from_=FROM, body="a message to delete")
    assert client.messages(sent.sid).delete() is True
    [request] = [r for r in fake.requests() if r["method"] == "DELETE"]
    assert request["status"] == 204 and request["response"] is None
    with pytest.raises(TwilioRestException) as gone:
        client.messages(sent.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as again:
        client.messages(sent.sid).delete()
    assert again.value.status == 404
    assert fake.deleted() == [("Messages", sent.sid)]


def test_a_recording_lists_its_transcriptions_and_each_is_deleted_on_its_own(fake, client):
    call = client.calls.create(to=TO, from_=FROM, url="https://example.org/twiml")
    recording = fake.add_recording(call.sid, transcription="first words")
    first = recording["transcription_sid"]
    listed = client.recordings(recording["sid"]).transcriptions.list()
    assert [(t.sid, t.transcription_text) for t in listed] == [(first, "first words")]
    assert client.recordings(recording["sid"]).fetch().call_sid == call.sid
    assert client.recordings(recording["sid"]).delete()
    assert [t["sid"] for t in fake.transcriptions()] == [
        first
    ]  # deleting a recording leaves its transcriptions
    assert client.transcriptions(first).delete() and client.calls(call.sid).delete()
    assert fake.deleted() == [
        ("Recordings", recording["sid"]),
        ("Transcriptions", first),
        ("Calls", call.sid),
    ]


def test_deletes_can_be_made_to_fail(fake, client):
    sent = client.messages.create(to=TO, from_=FROM, body="kept while Twilio is down")
    fake.fail_next(status=503, resource="messages")
    with pytest.raises(TwilioRestException) as failed:
        client.messages(sent.sid).delete()
    assert failed.value.status == 503
    assert client.messages(sent.sid).delete() is True

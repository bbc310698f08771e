"""A loopback fake of the parts of Twilio's 2010-04-01 REST API that Checkin uses.

The fake answers the way ``api.twilio.com`` does for the official ``twilio``
Python library: create/fetch/update/delete Messages and Calls, fetch/delete Recordings and
Transcriptions (and list a recording's transcriptions; a test makes them with ``add_recording``), HTTP Basic auth,
Twilio-shaped error JSON, form parameters validated against Twilio's own
OpenAPI description (``/work/shared/twilio-oai/twilio_api_v2010.json``), and
signed status callbacks. A call it placed can be answered (``answer_call`` fetches its TwiML,
signed, with ``AnsweredBy``) and a ``<Dial>`` in the TwiML followed (``follow_dial`` places the
child leg and requests the Dial's ``action`` with ``DialCallStatus``). Recordings and their
transcriptions (``add_recording``) can be listed per call and per recording and deleted, and messages
and calls deleted, as a data-retention job does (DELETE answers 204 with no body, 404 when unknown).

In-process use (tests)::

    from tests.fake_twilio import FakeTwilio

    with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        # any TwilioHttpClient that rewrites https://api.twilio.com to fake.base_url,
        # e.g. checkin.adapters.twilio_http.RebasedTwilioHttpClient
        client = Client(SID, TOKEN, http_client=RebasedTwilioHttpClient(fake.base_url))
        client.messages.create(to="+15558675310", from_="+15017122661", body="hi")
        assert fake.wait_for_messages(1)[0]["body"] == "hi"

Standalone (for benchmarks in another process)::

    python -m tests.fake_twilio --port 0 --auth-token T --account-sid AC...
    # prints "listening on http://127.0.0.1:PORT" and serves until killed.

In standalone mode the same knobs are reachable over HTTP under ``/_fake/``
(see :class:`RemoteFakeTwilio`), e.g. ``POST /_fake/rate_limit {"per_second": 1}``
or ``GET /_fake/stats``.  Those control endpoints are never recorded as requests.
"""

from __future__ import annotations

import argparse
import base64
import collections
import concurrent.futures
import datetime as _dt
import email.utils
import functools
import http.client
import json
import math
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response

__all__ = [
    "DEFAULT_ACCOUNT_SID",
    "DEFAULT_AUTH_TOKEN",
    "OAI_PATH",
    "FakeTwilio",
    "RemoteFakeTwilio",
    "TwilioApiError",
    "main",
    "segments_for",
]

API_VERSION = "2010-04-01"
# How long a wait_for* waits by default. A wait returns as soon as its condition holds, so this only
# bounds a hang; on a busy machine a worker process can take tens of seconds to start.
WAIT_SECONDS = 60.0


def _find_oai() -> str:
    """../shared/twilio-oai beside the repository (as CI lays it out), else the workspace copy."""
    name = "twilio-oai/twilio_api_v2010.json"
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(repo, "..", "shared", name), os.path.join("/work/shared", name)):
        if os.path.exists(candidate):
            return os.path.normpath(candidate)
    return os.path.normpath(os.path.join(repo, "..", "shared", name))


OAI_PATH = os.environ.get("CHECKIN_TWILIO_OAI") or _find_oai()
DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "fake-auth-token"

MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
RECORDING_PATH = "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json"
TRANSCRIPTION_PATH = "/2010-04-01/Accounts/{AccountSid}/Transcriptions/{Sid}.json"
MESSAGE_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json"
CALLS_PATH = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
CALL_PATH = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"

_ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<collection>Messages|Calls)"
    r"(?:/(?P<sid>[^/]+))?\.json$"
)
# Recordings and transcriptions: a call's recordings, a recording's transcriptions, and each by itself.
_MEDIA_ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/"
    r"(?:(?P<parent>Calls|Recordings)/(?P<parent_sid>[^/]+)/)?"
    r"(?P<collection>Recordings|Transcriptions)(?:/(?P<sid>[^/]+))?\.json$"
)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_ALPHA_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
_TRUE_FALSE = {"true", "false"}

# Messages for error codes we hand out by default.  ``{to}``/``{from_}`` are filled in.
ERROR_MESSAGES: dict[int, str] = {
    20001: "Unknown parameters",
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service Unavailable",
    21201: "No 'To' number is specified",
    21205: "Url parameter is required. Please provide a Url, an ApplicationSid or Twiml.",
    21211: "The 'To' number {to} is not a valid phone number.",
    21212: "The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.",
    21213: "No 'From' number is specified",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21606: "The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code for your account.",
    21608: "The number {to} is unverified. Trial accounts cannot send messages to unverified numbers.",
    21609: "Invalid 'StatusCallback'",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number: {from_} via SMS.",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}

_DEFAULT_CODE_FOR_STATUS = {400: 21211, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}

_UNSET = object()


# --------------------------------------------------------------------------- helpers


def _now_rfc2822(ts: float | None = None) -> str:
    return email.utils.formatdate(ts if ts is not None else time.time(), usegmt=False).replace(
        "-0000", "+0000"
    )


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _error_body(status: int, code: int, message: str, **extra: Any) -> dict[str, Any]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    body.update(extra)
    return body


def _format_message(code: int, message: str | None, to: Any = None, from_: Any = None, path: str = "") -> str:
    if message is not None:
        return message
    template = ERROR_MESSAGES.get(code, "Error {code}")
    return template.format(to=to, from_=from_, path=path, code=code)


class TwilioApiError(Exception):
    """Raised internally to answer a request with a Twilio error document."""

    def __init__(self, status: int, code: int, message: str, **extra: Any):
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return _error_body(self.status, self.code, self.message, **self.extra)


_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


def segments_for(body: str) -> int:
    """Number of SMS segments Twilio would bill for ``body`` (GSM-7 or UCS-2)."""
    if not body:
        return 1
    if all(c in _GSM7_BASIC or c in _GSM7_EXT for c in body):
        units = sum(2 if c in _GSM7_EXT else 1 for c in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def _format_number(number: str | None) -> str | None:
    if number and re.fullmatch(r"\+1\d{10}", number):
        return f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number


# --------------------------------------------------------------------------- OpenAPI


@functools.lru_cache(maxsize=4)
def _load_oai(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class _FormSchema:
    """Form-parameter schema of one operation, with ``$ref`` resolved."""

    def __init__(self, doc: dict[str, Any], path: str, method: str):
        op = doc["paths"][path][method]
        schema = op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
        self.path = path
        self.required: list[str] = list(schema.get("required", []))
        self.properties: dict[str, dict[str, Any]] = {
            name: self._resolve(doc, prop) for name, prop in schema.get("properties", {}).items()
        }

    @staticmethod
    def _resolve(doc: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in prop and seen < 10:
            ref = prop["$ref"]
            assert ref.startswith("#/"), ref
            node: Any = doc
            for part in ref[2:].split("/"):
                node = node[part]
            merged = dict(node)
            merged.update({k: v for k, v in prop.items() if k != "$ref"})
            prop = merged
            seen += 1
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            prop = dict(prop)
            prop["items"] = _FormSchema._resolve(doc, prop["items"])
        return prop

    def is_array(self, name: str) -> bool:
        return self.properties.get(name, {}).get("type") == "array"

    def validate(self, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """Check names, multiplicity, types, enums, patterns.  Returns the params dict."""
        params: dict[str, Any] = {}
        for name, value in pairs:
            if name not in self.properties:
                raise TwilioApiError(400, 20001, f"Unknown parameter {name}")
            if self.is_array(name):
                params.setdefault(name, []).append(value)
            elif name in params:
                raise TwilioApiError(400, 20001, f"Parameter {name} may only be given once")
            else:
                params[name] = value
        for name, value in params.items():
            prop = self.properties[name]
            if prop.get("type") == "array":
                for item in value:
                    self._check_value(name, item, prop.get("items", {}))
            else:
                self._check_value(name, value, prop)
        return params

    @staticmethod
    def _check_value(name: str, value: str, prop: dict[str, Any]) -> None:
        def bad(why: str) -> TwilioApiError:
            return TwilioApiError(400, 20001, f"Invalid value for parameter {name}: {value!r} ({why})")

        typ = prop.get("type")
        if typ == "boolean" and value.lower() not in _TRUE_FALSE:
            raise bad("expected true or false")
        if typ == "integer":
            try:
                int(value)
            except ValueError:
                raise bad("expected an integer") from None
        if typ == "number":
            try:
                float(value)
            except ValueError:
                raise bad("expected a number") from None
        if "enum" in prop and value not in prop["enum"]:
            raise bad("expected one of " + ", ".join(map(str, prop["enum"])))
        if value == "":
            return  # emptiness is judged by the required / semantic rules
        if "minLength" in prop and len(value) < prop["minLength"]:
            raise bad(f"shorter than {prop['minLength']}")
        if "maxLength" in prop and len(value) > prop["maxLength"]:
            raise bad(f"longer than {prop['maxLength']}")
        if "pattern" in prop and not re.search(prop["pattern"], value):
            raise bad(f"does not match {prop['pattern']}")
        fmt = prop.get("format")
        ignore_format = prop.get("x-twilio", {}).get("ignoreFormat")
        if fmt == "uri" and not ignore_format:
            parts = urllib.parse.urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                if name == "StatusCallback":
                    raise TwilioApiError(400, 21609, "Invalid 'StatusCallback'")
                if name == "Url":
                    raise TwilioApiError(400, 21205, f"Url is not a valid URL: {value}")
                raise bad("expected an absolute http(s) URL")
        if fmt == "date-time":
            try:
                _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise bad("expected an ISO 8601 date-time") from None


class _Schemas:
    def __init__(self, path: str):
        doc = _load_oai(path)
        self.message_create = _FormSchema(doc, MESSAGES_PATH, "post")
        self.message_update = _FormSchema(doc, MESSAGE_PATH, "post")
        self.call_create = _FormSchema(doc, CALLS_PATH, "post")
        self.call_update = _FormSchema(doc, CALL_PATH, "post")


@functools.lru_cache(maxsize=4)
def _schemas(path: str) -> _Schemas:
    return _Schemas(path)


# --------------------------------------------------------------------------- HTTP plumbing


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for pooled clients
    timeout = 120  # idle keep-alive connections give up eventually

    def setup(self) -> None:
        super().setup()
        tracker = getattr(self.server, "_fake_connections", None)
        if tracker is not None:
            tracker.add(self.connection)

    def finish(self) -> None:
        tracker = getattr(self.server, "_fake_connections", None)
        if tracker is not None:
            tracker.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # silence access log
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        if getattr(self.server, "_fake_verbose", False) or type == "error":
            super().log(type, message, *args)


class _Server(ThreadedWSGIServer):
    request_queue_size = 1024  # bursts from several benchmark processes
    daemon_threads = True
    block_on_close = False  # never join keep-alive handler threads on close


class _Rule:
    __slots__ = ("code", "message", "remaining", "resource", "status", "to")

    def __init__(self, remaining, status, code, message, to, resource):
        self.remaining = remaining  # None = forever
        self.status = status
        self.code = code
        self.message = message
        self.to = to
        self.resource = resource

    def matches(self, resource: str, to: str | None) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.resource is not None and self.resource != resource:
            return False
        return self.to is None or self.to == to

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


# --------------------------------------------------------------------------- the fake


class FakeTwilio:
    """Threaded loopback server that answers like Twilio's 2010-04-01 REST API.

    Parameters
    ----------
    account_sid, auth_token:
        Credentials the HTTP Basic auth must match.  The auth token also signs
        status callbacks (``X-Twilio-Signature``).
    api_keys:
        Optional ``{"SK...": secret}``; Basic auth with an API key SID + secret is
        accepted too.
    host, port:
        Where to listen; port 0 picks a free port.
    auto_status:
        Message statuses to deliver automatically (in order, in a background
        thread) to each created message's ``StatusCallback``, e.g.
        ``("sent", "delivered")``.  ``None``/empty = none.
    auto_call_status:
        Same for calls, e.g. ``("initiated", "ringing", "in-progress", "completed")``.
        As Twilio does, only ``completed``-type statuses are sent unless the call
        was created with ``StatusCallbackEvent``.
    auto_status_delay:
        Seconds to wait before the first and between automatic callbacks (the
        first one always goes out after the create response was written).
    rate_limit, delay:
        Initial values for :meth:`rate_limit` / :meth:`delay`.
    callback_timeout:
        Socket timeout for posting callbacks.
    oai_path:
        OpenAPI description to validate against.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        api_keys: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_status: Iterable[str] | None = None,
        auto_call_status: Iterable[str] | None = None,
        auto_status_delay: float = 0.05,
        rate_limit: float | None = None,
        delay: float = 0.0,
        callback_timeout: float = 10.0,
        callback_workers: int = 8,
        oai_path: str = OAI_PATH,
        verbose: bool = False,
    ):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys or {})
        self.host = host
        self.port = port
        self.callback_timeout = callback_timeout
        self.verbose = verbose
        self._schemas = _schemas(oai_path)
        self._callback_workers = callback_workers

        self._initial = {
            "auto_status": tuple(auto_status or ()),
            "auto_call_status": tuple(auto_call_status or ()),
            "auto_status_delay": auto_status_delay,
            "rate_limit": rate_limit,
            "delay": delay,
        }
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        # The clock of the rate limit's sliding window; a test may set its own to slide it at will.
        self.clock: Callable[[], float] = time.monotonic
        self._clear_state()
        self._apply_initial_config()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self.host, self.port, self._wsgi, handler=_QuietHandler)
        server._fake_connections = set()  # type: ignore[attr-defined]
        server._fake_verbose = self.verbose  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._callback_workers, thread_name_prefix="fake-twilio-callback"
        )
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"fake-twilio:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        server.shutdown()
        for conn in list(server._fake_connections):  # type: ignore[attr-defined]
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        server.server_close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    # ------------------------------------------------------------------ configuration

    def _apply_initial_config(self) -> None:
        self._auto_status = self._initial["auto_status"]
        self._auto_call_status = self._initial["auto_call_status"]
        self._auto_status_delay = self._initial["auto_status_delay"]
        self._rate = self._initial["rate_limit"]
        self._delay = self._initial["delay"]

    def _clear_state(self) -> None:
        self._requests: list[dict[str, Any]] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self._calls: dict[str, dict[str, Any]] = {}
        self._recordings: dict[str, dict[str, Any]] = {}
        self._transcriptions: dict[str, dict[str, Any]] = {}
        self._deleted: list[tuple[str, str]] = []
        self._callbacks: list[dict[str, Any]] = []
        self._rules: list[_Rule] = []
        self._windows: dict[str, collections.deque] = {}
        self._count_429 = 0
        self._status_counts: collections.Counter = collections.Counter()
        self._pending_callbacks = 0

    def reset(self) -> None:
        """Forget all recorded requests/resources/callbacks, failure rules and rate
        windows, and restore rate limit, delay and auto-status to the constructor values."""
        with self._cond:
            self._clear_state()
            self._apply_initial_config()
            self._cond.notify_all()

    def fail_next(
        self,
        n: int = 1,
        status: int = 400,
        code: Any = _UNSET,
        message: str | None = None,
        to: str | None = None,
        resource: str | None = None,
    ) -> None:
        """Make the next ``n`` (valid) create requests fail with a Twilio error.

        ``to`` restricts the rule to requests for that number, ``resource`` to
        ``"messages"`` or ``"calls"`` (creates), or ``"deletes"`` (any DELETE: a message, call,
        recording or transcription).  ``code`` defaults to 21211 for 400, 20429
        for 429, 20500 for 500, 20503 for 503.  ``message`` defaults to Twilio's text
        for that code.  Rules are consulted in the order they were added.
        """
        if code is _UNSET:
            code = _DEFAULT_CODE_FOR_STATUS.get(status, 21211 if status < 500 else 20500)
        with self._lock:
            self._rules.append(_Rule(n, status, code, message, to, resource))

    def fail_always(
        self,
        to: str | None = None,
        status: int = 400,
        code: Any = _UNSET,
        message: str | None = None,
        resource: str | None = None,
    ) -> None:
        """Make every (valid) create request for ``to`` (all if None) fail."""
        if code is _UNSET:
            code = _DEFAULT_CODE_FOR_STATUS.get(status, 21211 if status < 500 else 20500)
        with self._lock:
            self._rules.append(_Rule(None, status, code, message, to, resource))

    def clear_failures(self) -> None:
        with self._lock:
            self._rules = []

    def failure_rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def rate_limit(self, per_second: float | None) -> None:
        """Allow at most ``per_second`` creates per sender (From or
        MessagingServiceSid) in any sliding one-second window; excess requests get
        429 / 20429.  ``None`` or 0 disables."""
        with self._lock:
            self._rate = per_second or None
            self._windows = {}

    def delay(self, seconds: float) -> None:
        """Sleep ``seconds`` before handling each REST request (simulated latency)."""
        with self._lock:
            self._delay = max(0.0, float(seconds))

    def set_auto_status(
        self,
        statuses: Iterable[str] | None = _UNSET,  # type: ignore[assignment]
        call_statuses: Iterable[str] | None = _UNSET,  # type: ignore[assignment]
        delay: float | None = None,
    ) -> None:
        with self._lock:
            if statuses is not _UNSET:
                self._auto_status = tuple(statuses or ())
            if call_statuses is not _UNSET:
                self._auto_call_status = tuple(call_statuses or ())
            if delay is not None:
                self._auto_status_delay = delay

    # ------------------------------------------------------------------ accessors

    def _resource_view(self, res: dict[str, Any]) -> dict[str, Any]:
        view = dict(res["data"])
        view["params"] = _copy_params(res["params"])
        view["created_monotonic"] = res["created_monotonic"]
        view["created_wall"] = res["created_wall"]
        view["updates"] = [_copy_params(u) for u in res.get("updates", [])]
        return view

    def messages(self) -> list[dict[str, Any]]:
        """Created messages in creation order: the resource JSON plus ``params``
        (the create form), ``created_monotonic``, ``created_wall``, ``updates``."""
        with self._lock:
            return [self._resource_view(r) for r in self._messages.values()]

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._resource_view(r) for r in self._calls.values()]

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return self._resource_view(self._messages[sid])

    def call(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return self._resource_view(self._calls[sid])

    def add_recording(self, call_sid: str, transcription: str | None = None) -> dict[str, Any]:
        """A recording of call `call_sid` as Twilio keeps it after a <Record> (with its transcription when
        `transcription` is given). Returns its JSON, with ``url`` (the RecordingUrl Twilio posts) and
        ``transcription_sid``."""
        now = time.time()
        sid = _sid("RE")
        base = f"/2010-04-01/Accounts/{self.account_sid}"
        data = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid": call_sid,
            "channels": 1,
            "date_created": _now_rfc2822(now),
            "date_updated": _now_rfc2822(now),
            "duration": "8",
            "sid": sid,
            "source": "RecordVerb",
            "status": "completed",
            "uri": f"{base}/Recordings/{sid}.json",
        }
        transcription_sid = None
        with self._cond:
            self._recordings[sid] = data
            if transcription is not None:
                transcription_sid = _sid("TR")
                self._transcriptions[transcription_sid] = {
                    "account_sid": self.account_sid,
                    "api_version": API_VERSION,
                    "date_created": _now_rfc2822(now),
                    "date_updated": _now_rfc2822(now),
                    "duration": "8",
                    "recording_sid": sid,
                    "sid": transcription_sid,
                    "status": "completed",
                    "transcription_text": transcription,
                    "type": "fast",
                    "uri": f"{base}/Transcriptions/{transcription_sid}.json",
                }
            self._cond.notify_all()
        return dict(
            data, url=f"https://api.twilio.com{base}/Recordings/{sid}", transcription_sid=transcription_sid
        )

    def recordings(self) -> list[dict[str, Any]]:
        """Recordings still held (not deleted)."""
        with self._lock:
            return [dict(r) for r in self._recordings.values()]

    def transcriptions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(t) for t in self._transcriptions.values()]

    def deleted(self) -> list[tuple[str, str]]:
        """What DELETE requests removed, in order: (collection, sid), e.g. ("Recordings", "RE...")."""
        with self._lock:
            return list(self._deleted)

    def requests(self) -> list[dict[str, Any]]:
        """Every REST request: method, path, query_string, params, headers, auth_user,
        received_monotonic, received_wall, status (response code), response (JSON)."""
        with self._lock:
            return [
                dict(r, params=_copy_params(r["params"]), headers=dict(r["headers"])) for r in self._requests
            ]

    def callbacks(self) -> list[dict[str, Any]]:
        """Status callbacks sent: sid, url, method, params, signature, status_code
        (None if the POST failed), error, sent_monotonic."""
        with self._lock:
            return [dict(c, params=dict(c["params"])) for c in self._callbacks]

    def count_429(self) -> int:
        with self._lock:
            return self._count_429

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": len(self._requests),
                "messages": len(self._messages),
                "calls": len(self._calls),
                "recordings": len(self._recordings),
                "transcriptions": len(self._transcriptions),
                "deleted": len(self._deleted),
                "callbacks": len(self._callbacks),
                "pending_callbacks": self._pending_callbacks,
                "count_429": self._count_429,
                "responses_by_status": {str(k): v for k, v in sorted(self._status_counts.items())},
            }

    def wait_for(self, predicate: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        """Block until ``predicate()`` is truthy (re-evaluated on every change);
        returns its last value, which is falsy on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                remaining = deadline - time.monotonic()
                if value or remaining <= 0 or self._stopping.is_set():
                    return value
                self._cond.wait(min(remaining, 0.25))

    def wait_for_messages(self, n: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """Wait until at least ``n`` messages exist; returns them or raises TimeoutError."""
        if not self.wait_for(lambda: len(self._messages) >= n, timeout):
            raise TimeoutError(f"expected {n} messages, have {len(self._messages)} after {timeout}s")
        return self.messages()

    def wait_for_calls(self, n: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        if not self.wait_for(lambda: len(self._calls) >= n, timeout):
            raise TimeoutError(f"expected {n} calls, have {len(self._calls)} after {timeout}s")
        return self.calls()

    def wait_for_callbacks(self, n: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        """Wait until at least ``n`` status callbacks were sent (answered or failed)."""
        if not self.wait_for(lambda: len(self._callbacks) >= n, timeout):
            raise TimeoutError(f"expected {n} callbacks, have {len(self._callbacks)} after {timeout}s")
        return self.callbacks()

    def wait_idle(self, timeout: float = WAIT_SECONDS) -> bool:
        """Wait until no automatic callbacks are pending."""
        return bool(self.wait_for(lambda: self._pending_callbacks == 0, timeout))

    # ------------------------------------------------------------------ status callbacks

    def send_status(
        self,
        sid: str,
        status: str,
        error_code: int | None = None,
        *,
        answered_by: str | None = None,
        duration: int | None = None,
        extra: dict[str, str] | None = None,
    ) -> int | None:
        """Set the status of a message (SM/MM) or call (CA) and POST the status
        callback Twilio would send, synchronously.  Returns the HTTP status the
        webhook answered, or None if the resource has no StatusCallback.
        Connection errors propagate (they are also recorded in callbacks())."""
        url, method, params = self._prepare_status(sid, status, error_code, answered_by, duration)
        if extra:
            params.update(extra)
        if url is None:
            return None
        return self._deliver(sid, url, method, params, raise_errors=True)

    def answer_call(
        self, sid: str, answered_by: str | None = "human", timeout: float = 10.0
    ) -> tuple[int, str]:
        """The callee picks up: fetch the call's TwiML as Twilio does, a signed request to its ``Url``
        (``Method``, POST by default) with the voice webhook parameters.  With ``MachineDetection``
        the request carries ``AnsweredBy`` (``human``, ``machine_start``, ``machine_end_beep``,
        ``fax``, ``unknown``).  Returns (HTTP status, body)."""
        from twilio.request_validator import RequestValidator

        with self._cond:
            res = self._calls[sid]
            data, p = res["data"], res["params"]
            if not p.get("Url"):
                raise ValueError("call was created with inline Twiml, nothing to fetch")
            data["status"] = "in-progress"
            data["start_time"] = data.get("start_time") or _now_rfc2822()
            res.setdefault("answered_monotonic", time.monotonic())
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "CallSid": sid,
                "CallStatus": "in-progress",
                "Called": data["to"],
                "Caller": data["from"],
                "To": data["to"],
                "From": data["from"],
                "Direction": "outbound-api",
            }
            if p.get("MachineDetection") and answered_by:
                data["answered_by"] = answered_by
                params["AnsweredBy"] = answered_by
                params["MachineDetectionDuration"] = "2100"
            url, method = p["Url"], (p.get("Method") or "POST").upper()
            self._cond.notify_all()
        validator = RequestValidator(self.auth_token)
        if method == "GET":
            url = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
            body, signature = None, validator.compute_signature(url, {})
        else:
            body, signature = (
                urllib.parse.urlencode(params).encode(),
                validator.compute_signature(url, params),
            )
        request = urllib.request.Request(
            url,
            data=body,
            method=method,
            headers={
                "X-Twilio-Signature": signature,
                "User-Agent": "TwilioProxy/1.1",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return resp.status, resp.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def follow_dial(
        self,
        sid: str,
        twiml: str,
        outcome: str = "completed",
        *,
        duration: int = 60,
        timeout: float = 10.0,
    ) -> tuple[int, str, str]:
        """The call ``sid`` (placed through this fake and answered) reached the ``<Dial>`` in
        ``twiml``, the TwiML our server answered: place the child leg to its ``<Number>`` as Twilio
        does (a call with ``parent_call_sid``, direction ``outbound-dial``, from the Dial's
        ``callerId`` or else the parent's ``From``), let it end with ``outcome`` (``completed``: the
        callee answered and talked ``duration`` seconds; ``busy``, ``no-answer``, ``failed``), then
        request the Dial's ``action`` (signed, with ``DialCallStatus``, ``DialCallSid`` and, if
        answered, ``DialCallDuration``) and return (HTTP status, body, child call SID).

        Like Twilio, a Dial's ``timeout`` and ``timeLimit`` are honoured by the outcome given, not
        waited out, and a Dial without ``action`` carries on with the next verb (nothing is requested:
        the status and body are 0 and "")."""
        import xml.etree.ElementTree as ET

        from twilio.request_validator import RequestValidator

        root = ET.fromstring(twiml)
        dial = root.find("Dial")
        if dial is None:
            raise ValueError("the TwiML has no <Dial>")
        number = (dial.findtext("Number") or dial.text or "").strip()
        if outcome not in ("completed", "busy", "no-answer", "failed", "canceled"):
            raise ValueError(f"{outcome!r} is not a DialCallStatus")
        with self._cond:
            parent = self._calls[sid]
            pdata = parent["data"]
            if pdata["status"] != "in-progress":
                raise ValueError(f"call {sid} is {pdata['status']}, not in progress: nothing to dial from")
            from_ = dial.get("callerId") or pdata["from"]
            if not _valid_address(number, allow_e164=True, voice=True):
                raise TwilioApiError(400, 21211, _format_message(21211, None, to=number))
            now = time.time()
            child = _sid("CA")
            talked = outcome == "completed"
            data = {
                "account_sid": self.account_sid,
                "answered_by": None,
                "api_version": API_VERSION,
                "date_created": _now_rfc2822(now),
                "date_updated": _now_rfc2822(now),
                "direction": "outbound-dial",
                "duration": str(duration if talked else 0),
                "end_time": _now_rfc2822(now),
                "from": from_,
                "from_formatted": _format_number(from_),
                "parent_call_sid": sid,
                "sid": child,
                "start_time": _now_rfc2822(now) if talked else None,
                "status": outcome,
                "to": number,
                "to_formatted": _format_number(number),
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{child}.json",
            }
            self._calls[child] = {
                "data": data,
                "params": {"To": number, "From": from_, "Timeout": dial.get("timeout", "30")},
                "created_monotonic": time.monotonic(),
                "created_wall": now,
                "updates": [],
            }
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "CallSid": sid,
                "CallStatus": "in-progress",
                "Called": pdata["to"],
                "Caller": pdata["from"],
                "To": pdata["to"],
                "From": pdata["from"],
                "Direction": pdata["direction"],
                "DialCallSid": child,
                "DialCallStatus": outcome,
            }
            if talked:
                params["DialCallDuration"] = str(duration)
            self._cond.notify_all()
        url = dial.get("action")
        if not url:
            return 0, "", child
        method = (dial.get("method") or "POST").upper()
        validator = RequestValidator(self.auth_token)
        if method == "GET":
            url = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
            body, signature = None, validator.compute_signature(url, {})
        else:
            body, signature = (
                urllib.parse.urlencode(params).encode(),
                validator.compute_signature(url, params),
            )
        request = urllib.request.Request(
            url,
            data=body,
            method=method,
            headers={
                "X-Twilio-Signature": signature,
                "User-Agent": "TwilioProxy/1.1",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                return resp.status, resp.read().decode("utf-8"), child
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace"), child

    def _prepare_status(self, sid, status, error_code, answered_by, duration):
        with self._cond:
            now_wall = time.time()
            if sid in self._messages:
                res = self._messages[sid]
                data = res["data"]
                data["status"] = status
                data["date_updated"] = _now_rfc2822(now_wall)
                if status in ("sent", "delivered") and data.get("date_sent") is None:
                    data["date_sent"] = _now_rfc2822(now_wall)
                if error_code is not None:
                    data["error_code"] = int(error_code)
                    data["error_message"] = ERROR_MESSAGES.get(int(error_code))
                p = res["params"]
                params = {
                    "AccountSid": self.account_sid,
                    "ApiVersion": API_VERSION,
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                    "To": data["to"],
                }
                if data.get("from"):
                    params["From"] = data["from"]
                if data.get("messaging_service_sid"):
                    params["MessagingServiceSid"] = data["messaging_service_sid"]
                if error_code is not None:
                    params["ErrorCode"] = str(error_code)
                if status == "delivered":
                    params["RawDlrDoneDate"] = time.strftime("%y%m%d%H%M", time.gmtime(now_wall))
                url = p.get("StatusCallback") or None
                method = "POST"
            elif sid in self._calls:
                res = self._calls[sid]
                data = res["data"]
                p = res["params"]
                data["status"] = status
                data["date_updated"] = _now_rfc2822(now_wall)
                if status == "in-progress" and data.get("start_time") is None:
                    data["start_time"] = _now_rfc2822(now_wall)
                    res["answered_monotonic"] = time.monotonic()
                if p.get("MachineDetection") and status in ("in-progress", "completed"):
                    data["answered_by"] = answered_by or data.get("answered_by") or "human"
                elif answered_by:
                    data["answered_by"] = answered_by
                final = status in ("completed", "busy", "failed", "no-answer", "canceled")
                if final:
                    data["end_time"] = _now_rfc2822(now_wall)
                    if duration is None:
                        started = res.get("answered_monotonic")
                        duration = int(time.monotonic() - started) if started and status == "completed" else 0
                    data["duration"] = str(duration)
                res["sequence"] = res.get("sequence", -1) + 1
                params = {
                    "AccountSid": self.account_sid,
                    "ApiVersion": API_VERSION,
                    "CallSid": sid,
                    "CallStatus": status,
                    "Called": data["to"],
                    "Caller": data["from"],
                    "To": data["to"],
                    "From": data["from"],
                    "Direction": "outbound-api",
                    "CallbackSource": "call-progress-events",
                    "SequenceNumber": str(res["sequence"]),
                    "Timestamp": _now_rfc2822(now_wall),
                }
                if final:
                    params["CallDuration"] = str(duration)
                    params["Duration"] = str(max(1, math.ceil(int(duration) / 60)) if int(duration) else 0)
                if data.get("answered_by"):
                    params["AnsweredBy"] = data["answered_by"]
                if error_code is not None:
                    params["ErrorCode"] = str(error_code)
                url = p.get("StatusCallback") or None
                method = (p.get("StatusCallbackMethod") or "POST").upper()
            else:
                raise KeyError(f"unknown sid {sid}")
            self._cond.notify_all()
        return url, method, params

    def _deliver(
        self, sid: str, url: str, method: str, params: dict[str, str], raise_errors: bool
    ) -> int | None:
        from twilio.request_validator import RequestValidator

        body: bytes | None = None
        if method == "GET":
            sep = "&" if "?" in url else "?"
            full_url = url + sep + urllib.parse.urlencode(params)
            signature = RequestValidator(self.auth_token).compute_signature(full_url, {})
        else:
            full_url = url
            signature = RequestValidator(self.auth_token).compute_signature(url, params)
            body = urllib.parse.urlencode(params).encode("utf-8")
        parts = urllib.parse.urlsplit(full_url)
        target = (parts.path or "/") + (("?" + parts.query) if parts.query else "")
        headers = {
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "Cache-Control": "max-age=259200",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "Connection": "close",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if parts.username is not None:
            cred = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
        host = parts.hostname or "127.0.0.1"
        record: dict[str, Any] = {
            "sid": sid,
            "url": full_url,
            "method": method,
            "params": dict(params),
            "signature": signature,
            "status_code": None,
            "error": None,
            "sent_monotonic": time.monotonic(),
        }
        try:
            conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            conn = conn_cls(host, parts.port, timeout=self.callback_timeout)
            try:
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                record["status_code"] = resp.status
            finally:
                conn.close()
        except Exception as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            with self._cond:
                self._callbacks.append(record)
                self._cond.notify_all()
            if raise_errors:
                raise
            return None
        with self._cond:
            self._callbacks.append(record)
            self._cond.notify_all()
        return record["status_code"]

    def _schedule_auto(self, sid: str, statuses: tuple[str, ...], delay: float) -> None:
        executor = self._executor
        if executor is None or not statuses:
            return
        with self._cond:
            self._pending_callbacks += 1

        def run() -> None:
            try:
                for status in statuses:
                    if self._stopping.wait(delay):
                        return
                    try:
                        url, method, params = self._prepare_status(sid, status, None, None, None)
                    except KeyError:  # reset() in between
                        return
                    if url:
                        self._deliver(sid, url, method, params, raise_errors=False)
            finally:
                with self._cond:
                    self._pending_callbacks -= 1
                    self._cond.notify_all()

        try:
            executor.submit(run)
        except RuntimeError:  # executor shut down
            with self._cond:
                self._pending_callbacks -= 1

    # ------------------------------------------------------------------ WSGI

    def _wsgi(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_fake/"):
            response = self._control(request)
        else:
            response = self._api(request)
        return response(environ, start_response)

    def _api(self, request: Request) -> Response:
        received_monotonic = time.monotonic()
        received_wall = time.time()
        raw = request.get_data(cache=True, as_text=False)
        try:
            pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            pairs = []
        record: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query_string": request.query_string.decode("latin-1"),
            "params": _pairs_to_params(pairs),
            "headers": dict(request.headers.items()),
            "auth_user": request.authorization.username if request.authorization else None,
            "received_monotonic": received_monotonic,
            "received_wall": received_wall,
            "status": None,
            "response": None,
        }
        with self._cond:
            self._requests.append(record)
            delay = self._delay
            self._cond.notify_all()
        if delay:
            time.sleep(delay)

        after: list[Callable[[], None]] = []
        try:
            status, body = self._dispatch(request, pairs, after)
        except TwilioApiError as err:
            status, body = err.status, err.body()
        except Exception as exc:
            status, body = 500, _error_body(500, 20500, f"fake_twilio internal error: {exc!r}")

        with self._cond:
            record["status"] = status
            record["response"] = body
            self._status_counts[status] += 1
            if status == 429:
                self._count_429 += 1
            self._cond.notify_all()

        headers = {
            "Twilio-Request-Id": "RQ" + secrets.token_hex(16),
            "Twilio-Request-Duration": f"{time.monotonic() - received_monotonic:.3f}",
        }
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        if status == 204:  # a DELETE: no body, as Twilio answers it
            response = Response(b"", status=204, headers=headers)
        else:
            response = Response(
                json.dumps(body),
                status=status,
                headers=headers,
                content_type="application/json; charset=utf-8",
            )
        for fn in after:
            response.call_on_close(fn)
        return response

    def _check_auth(self, request: Request) -> None:
        auth = request.authorization
        ok = False
        if auth is not None and auth.type == "basic":
            user, password = auth.username or "", auth.password or ""
            if user == self.account_sid:
                ok = secrets.compare_digest(password, self.auth_token)
            elif user in self.api_keys:
                ok = secrets.compare_digest(password, self.api_keys[user])
        if not ok:
            raise TwilioApiError(
                401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect."
            )

    def _dispatch(self, request: Request, pairs: list[tuple[str, str]], after: list[Callable[[], None]]):
        self._check_auth(request)
        match = _ROUTE.match(request.path)
        not_found = TwilioApiError(404, 20404, _format_message(20404, None, path=request.path))
        media = None if match else _MEDIA_ROUTE.match(request.path)
        if media is not None and media.group("account") == self.account_sid:
            return self._media(request, media, not_found)
        if not match or match.group("account") != self.account_sid:
            raise not_found
        collection, sid, method = match.group("collection"), match.group("sid"), request.method
        if sid is not None and method == "DELETE":
            return self._delete(
                self._messages if collection == "Messages" else self._calls, collection, sid, not_found
            )
        if collection == "Messages":
            if sid is None and method == "POST":
                return self._create_message(pairs, after)
            if sid is None and method == "GET":
                return self._list(self._messages, "messages", request)
            if sid is not None and method == "GET":
                return 200, self._fetch(self._messages, sid, not_found)
            if sid is not None and method == "POST":
                return self._update_message(sid, pairs, not_found)
        else:
            if sid is None and method == "POST":
                return self._create_call(pairs, after)
            if sid is None and method == "GET":
                return self._list(self._calls, "calls", request)
            if sid is not None and method == "GET":
                return 200, self._fetch(self._calls, sid, not_found)
            if sid is not None and method == "POST":
                return self._update_call(sid, pairs, not_found, after)
        raise TwilioApiError(405, 20004, "Method not allowed")

    def _delete(self, store: dict[str, Any], collection: str, sid: str, not_found: TwilioApiError):
        # fail_next/fail_always(resource="recordings" | "transcriptions" | "messages" | "calls") apply.
        self._gate(collection.lower(), None, None, None)
        with self._cond:
            if sid not in store:
                raise not_found
            del store[sid]
            self._deleted.append((collection, sid))
            self._cond.notify_all()
        return 204, None

    def _media(self, request: Request, match: re.Match, not_found: TwilioApiError):
        """Recordings and transcriptions: list a call's recordings or a recording's transcriptions
        (or the account's), fetch or delete one. Deleting a recording leaves its transcriptions, as on Twilio."""
        parent, parent_sid = match.group("parent"), match.group("parent_sid")
        collection, sid, method = match.group("collection"), match.group("sid"), request.method
        valid_parent = {"Recordings": "Calls", "Transcriptions": "Recordings"}[collection]
        if parent is not None and parent != valid_parent:
            raise not_found
        store = self._recordings if collection == "Recordings" else self._transcriptions
        link = "call_sid" if collection == "Recordings" else "recording_sid"
        with self._lock:
            if sid is not None and (sid not in store or (parent_sid and store[sid][link] != parent_sid)):
                raise not_found
            if (
                parent == "Calls"
                and parent_sid not in self._calls
                and not any(r["call_sid"] == parent_sid for r in self._recordings.values())
            ):
                raise not_found
        if sid is None and method == "GET":
            with self._lock:
                items = [
                    json.loads(json.dumps(r))
                    for r in reversed(list(store.values()))
                    if parent_sid is None or r[link] == parent_sid
                ]
            return 200, self._page(collection.lower(), items, request, len(items) or 50)
        if sid is not None and method == "GET":
            with self._lock:
                return 200, json.loads(json.dumps(store[sid]))
        if sid is not None and method == "DELETE":
            return self._delete(store, collection, sid, not_found)
        raise TwilioApiError(405, 20004, "Method not allowed")

    def _fetch(self, store: dict[str, dict[str, Any]], sid: str, not_found: TwilioApiError) -> dict[str, Any]:
        with self._lock:
            if sid not in store:
                raise not_found
            return json.loads(json.dumps(store[sid]["data"]))

    def _list(self, store: dict[str, dict[str, Any]], key: str, request: Request):
        args = request.args
        page_size = int(args.get("PageSize", 50))
        with self._lock:
            items = [json.loads(json.dumps(r["data"])) for r in reversed(list(store.values()))]
        for name, field in (("To", "to"), ("From", "from"), ("Status", "status")):
            if name in args:
                items = [i for i in items if i.get(field) == args[name]]
        return 200, self._page(key, items[:page_size], request, page_size)

    @staticmethod
    def _page(key: str, items: list[dict[str, Any]], request: Request, page_size: int) -> dict[str, Any]:
        """A list answer as Twilio gives it: one page holding `items` under `key`."""
        uri = request.full_path.rstrip("?")
        return {
            key: items,
            "end": max(len(items) - 1, 0),
            "first_page_uri": uri,
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }

    # --- failure injection / rate limiting (shared by both creates)

    def _gate(self, resource: str, to: str | None, sender: str | None, from_: str | None) -> None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(resource, to):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    self._rules = [r for r in self._rules if r.remaining is None or r.remaining > 0]
                    raise TwilioApiError(
                        rule.status, rule.code, _format_message(rule.code, rule.message, to=to, from_=from_)
                    )
            if self._rate and sender:
                now = self.clock()
                window = self._windows.setdefault(sender, collections.deque())
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= self._rate:
                    raise TwilioApiError(429, 20429, "Too Many Requests")
                window.append(now)

    # --- messages

    def _create_message(self, pairs, after):
        schema = self._schemas.message_create
        params = schema.validate(pairs)
        to = params.get("To", "")
        from_ = params.get("From", "")
        mss = params.get("MessagingServiceSid", "")
        body = params.get("Body")
        media = [m for m in params.get("MediaUrl", []) if m]
        content_sid = params.get("ContentSid", "")
        if not to:
            raise TwilioApiError(400, 21604, ERROR_MESSAGES[21604])
        if not _valid_address(to, allow_e164=True):
            raise TwilioApiError(400, 21211, _format_message(21211, None, to=to))
        if not from_ and not mss:
            raise TwilioApiError(400, 21603, ERROR_MESSAGES[21603])
        if from_ and not (
            _valid_address(from_, allow_e164=True) or _SHORT_CODE.match(from_) or _ALPHA_SENDER.match(from_)
        ):
            raise TwilioApiError(400, 21212, _format_message(21212, None, from_=from_))
        if not body and not media and not content_sid:
            raise TwilioApiError(400, 21602, ERROR_MESSAGES[21602])
        if body and len(body) > 1600:
            raise TwilioApiError(400, 21617, ERROR_MESSAGES[21617])
        for name in schema.required:
            if not params.get(name):
                raise TwilioApiError(400, 20001, f"Missing required parameter {name} in the post body")

        self._gate("messages", to, from_ or mss, from_)

        now = time.time()
        sid = _sid("MM" if media else "SM")
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        data = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body or "",
            "date_created": _now_rfc2822(now),
            "date_sent": None,
            "date_updated": _now_rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_ or None,
            "messaging_service_sid": mss or None,
            "num_media": str(len(media)),
            "num_segments": str(segments_for(body or "")),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if (mss and not from_) or params.get("SendAt") else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        if params.get("SendAt"):
            data["status"] = "scheduled"
        with self._cond:
            self._messages[sid] = {
                "data": data,
                "params": params,
                "created_monotonic": time.monotonic(),
                "created_wall": now,
                "updates": [],
            }
            statuses = self._auto_status
            auto_delay = self._auto_status_delay
            self._cond.notify_all()
        if statuses and params.get("StatusCallback"):
            after.append(lambda: self._schedule_auto(sid, statuses, auto_delay))
        return 201, json.loads(json.dumps(data))

    def _update_message(self, sid, pairs, not_found):
        params = self._schemas.message_update.validate(pairs)
        with self._cond:
            if sid not in self._messages:
                raise not_found
            res = self._messages[sid]
            data = res["data"]
            if "Status" in params:
                if data["status"] not in ("scheduled",):
                    raise TwilioApiError(400, 30409, "Message cannot be canceled: it is not scheduled")
                data["status"] = params["Status"]
            if "Body" in params:
                data["body"] = params["Body"]
            data["date_updated"] = _now_rfc2822()
            res["updates"].append(params)
            self._cond.notify_all()
            return 200, json.loads(json.dumps(data))

    # --- calls

    def _create_call(self, pairs, after):
        schema = self._schemas.call_create
        params = schema.validate(pairs)
        to = params.get("To", "")
        from_ = params.get("From", "")
        if not to:
            raise TwilioApiError(400, 21201, ERROR_MESSAGES[21201])
        if not from_:
            raise TwilioApiError(400, 21213, ERROR_MESSAGES[21213])
        if not _valid_address(to, allow_e164=True, voice=True):
            raise TwilioApiError(400, 21211, _format_message(21211, None, to=to))
        if not _valid_address(from_, allow_e164=True, voice=True):
            raise TwilioApiError(400, 21212, _format_message(21212, None, from_=from_))
        handlers = [n for n in ("Url", "Twiml", "ApplicationSid") if params.get(n)]
        if not handlers:
            raise TwilioApiError(400, 21205, ERROR_MESSAGES[21205])
        if len(handlers) > 1:
            raise TwilioApiError(
                400,
                21205,
                f"Only one of Url, Twiml or ApplicationSid may be given (got {', '.join(handlers)})",
            )
        events = params.get("StatusCallbackEvent", [])
        for ev in events:
            for e in ev.split():  # Twilio also accepts space separated events
                if e not in ("initiated", "ringing", "answered", "completed"):
                    raise TwilioApiError(
                        400, 20001, f"Invalid value for parameter StatusCallbackEvent: {e!r}"
                    )

        self._gate("calls", to, from_, from_)

        now = time.time()
        sid = _sid("CA")
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"
        base = uri[: -len(".json")]
        data = {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": _now_rfc2822(now),
            "date_updated": _now_rfc2822(now),
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": from_,
            "from_formatted": _format_number(from_),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + secrets.token_hex(16),
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "streams": f"{base}/Streams.json",
                "payments": f"{base}/Payments.json",
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
            },
            "to": to,
            "to_formatted": _format_number(to),
            "trunk_sid": None,
            "uri": uri,
        }
        with self._cond:
            self._calls[sid] = {
                "data": data,
                "params": params,
                "created_monotonic": time.monotonic(),
                "created_wall": now,
                "updates": [],
            }
            statuses = self._auto_call_status
            auto_delay = self._auto_status_delay
            self._cond.notify_all()
        if statuses and params.get("StatusCallback"):
            wanted = {e for ev in events for e in ev.split()} or {"completed"}
            statuses = tuple(s for s in statuses if _call_event(s) in wanted)
            after.append(lambda: self._schedule_auto(sid, statuses, auto_delay))
        return 201, json.loads(json.dumps(data))

    def _update_call(self, sid, pairs, not_found, after):
        params = self._schemas.call_update.validate(pairs)
        send_final: str | None = None
        with self._cond:
            if sid not in self._calls:
                raise not_found
            res = self._calls[sid]
            data = res["data"]
            final = ("completed", "busy", "failed", "no-answer", "canceled")
            if params.get("Status") and data["status"] not in final:
                new = params["Status"]
                if new == "canceled" and data["status"] not in ("queued", "ringing"):
                    new = data["status"]  # Twilio ignores cancel of an answered call
                if new != data["status"]:
                    send_final = new
            if (params.get("Twiml") or params.get("Url")) and data["status"] in final:
                raise TwilioApiError(400, 21220, "Call is not in-progress. Cannot redirect.")
            for key in ("StatusCallback", "StatusCallbackMethod"):
                if params.get(key):
                    res["params"][key] = params[key]
            res["updates"].append(params)
            data["date_updated"] = _now_rfc2822()
            auto = bool(self._auto_call_status)
            self._cond.notify_all()
        if send_final is not None:
            url, method, cb_params = self._prepare_status(sid, send_final, None, None, None)
            if url and auto:
                after.append(
                    lambda: (
                        self._executor
                        and self._executor.submit(self._deliver, sid, url, method, cb_params, False)
                    )
                )
        return 200, self._fetch(self._calls, sid, not_found)

    # ------------------------------------------------------------------ control API (standalone use)

    def _control(self, request: Request) -> Response:
        name = request.path[len("/_fake/") :].strip("/")
        try:
            args = request.get_json(silent=True) or {}
            if request.method == "GET":
                getters = {
                    "stats": self.stats,
                    "messages": self.messages,
                    "calls": self.calls,
                    "recordings": self.recordings,
                    "transcriptions": self.transcriptions,
                    "deleted": self.deleted,
                    "requests": self.requests,
                    "callbacks": self.callbacks,
                    "failures": self.failure_rules,
                    "health": lambda: {"ok": True, "base_url": self.base_url},
                }
                if name not in getters:
                    return _json_response(404, {"error": f"unknown control {name}"})
                return _json_response(200, getters[name]())
            if name == "reset":
                self.reset()
            elif name == "clear_failures":
                self.clear_failures()
            elif name == "fail_next":
                self.fail_next(**args)
            elif name == "fail_always":
                self.fail_always(**args)
            elif name == "rate_limit":
                self.rate_limit(args.get("per_second"))
            elif name == "delay":
                self.delay(args.get("seconds", 0))
            elif name == "auto_status":
                self.set_auto_status(
                    args.get("statuses", _UNSET), args.get("call_statuses", _UNSET), args.get("delay")
                )
            elif name == "send_status":
                code = self.send_status(**args)
                return _json_response(200, {"status_code": code})
            else:
                return _json_response(404, {"error": f"unknown control {name}"})
            return _json_response(200, {"ok": True})
        except Exception as exc:
            return _json_response(400, {"error": f"{type(exc).__name__}: {exc}"})


def _call_event(status: str) -> str:
    return {
        "initiated": "initiated",
        "queued": "initiated",
        "ringing": "ringing",
        "in-progress": "answered",
    }.get(status, "completed")


def _valid_address(value: str, allow_e164: bool, voice: bool = False) -> bool:
    if voice and (value.startswith(("client:", "sip:"))):
        return len(value.split(":", 1)[1]) > 0
    for prefix in ("whatsapp:", "messenger:", "rcs:"):
        if not voice and value.startswith(prefix):
            value = value[len(prefix) :]
            return bool(value)
    return bool(allow_e164 and E164.match(value))


def _pairs_to_params(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in pairs:
        if name in params:
            if not isinstance(params[name], list):
                params[name] = [params[name]]
            params[name].append(value)
        else:
            params[name] = value
    return params


def _copy_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in params.items()}


def _json_response(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


# --------------------------------------------------------------------------- remote control


class RemoteFakeTwilio:
    """Drive a standalone fake (another process) through its ``/_fake/`` endpoints."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, name: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload or {}).encode() if method == "POST" else None
        req = urllib.request.Request(
            f"{self.base_url}/_fake/{name}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"/_fake/{name}: {err.code} {err.read().decode(errors='replace')}") from None

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def messages(self) -> list[dict[str, Any]]:
        return self._call("GET", "messages")

    def calls(self) -> list[dict[str, Any]]:
        return self._call("GET", "calls")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "requests")

    def callbacks(self) -> list[dict[str, Any]]:
        return self._call("GET", "callbacks")

    def count_429(self) -> int:
        return self.stats()["count_429"]

    def reset(self) -> None:
        self._call("POST", "reset")

    def clear_failures(self) -> None:
        self._call("POST", "clear_failures")

    def fail_next(self, n: int = 1, status: int = 400, code: int | None = None, **kw: Any) -> None:
        payload = dict(kw, n=n, status=status)
        if code is not None:
            payload["code"] = code
        self._call("POST", "fail_next", payload)

    def fail_always(
        self, to: str | None = None, status: int = 400, code: int | None = None, **kw: Any
    ) -> None:
        payload = dict(kw, to=to, status=status)
        if code is not None:
            payload["code"] = code
        self._call("POST", "fail_always", payload)

    def rate_limit(self, per_second: float | None) -> None:
        self._call("POST", "rate_limit", {"per_second": per_second})

    def delay(self, seconds: float) -> None:
        self._call("POST", "delay", {"seconds": seconds})

    def set_auto_status(self, statuses=None, call_statuses=None, delay=None) -> None:
        payload: dict[str, Any] = {}
        if statuses is not None:
            payload["statuses"] = list(statuses)
        if call_statuses is not None:
            payload["call_statuses"] = list(call_statuses)
        if delay is not None:
            payload["delay"] = delay
        self._call("POST", "auto_status", payload)

    def send_status(self, sid: str, status: str, error_code: int | None = None) -> int | None:
        return self._call("POST", "send_status", {"sid": sid, "status": status, "error_code": error_code})[
            "status_code"
        ]

    def wait_for_messages(self, n: int, timeout: float = WAIT_SECONDS) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while self.stats()["messages"] < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {n} messages")
            time.sleep(0.05)
        return self.messages()


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_twilio", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID", DEFAULT_ACCOUNT_SID))
    parser.add_argument("--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN", DEFAULT_AUTH_TOKEN))
    parser.add_argument("--api-key", action="append", default=[], metavar="SK...:SECRET")
    parser.add_argument("--rate-limit", type=float, default=None, help="creates per sender per second")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds of latency per request")
    parser.add_argument("--auto-status", default="", help="comma separated, e.g. sent,delivered")
    parser.add_argument("--auto-call-status", default="", help="comma separated, e.g. completed")
    parser.add_argument("--auto-status-delay", type=float, default=0.05)
    parser.add_argument("--oai", default=OAI_PATH)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    api_keys = dict(k.split(":", 1) for k in args.api_key)
    fake = FakeTwilio(
        args.account_sid,
        args.auth_token,
        api_keys=api_keys,
        host=args.host,
        port=args.port,
        rate_limit=args.rate_limit,
        delay=args.delay,
        auto_status=[s for s in args.auto_status.split(",") if s],
        auto_call_status=[s for s in args.auto_call_status.split(",") if s],
        auto_status_delay=args.auto_status_delay,
        oai_path=args.oai,
        verbose=args.verbose,
    )
    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake.start()
    print(f"listening on {fake.base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

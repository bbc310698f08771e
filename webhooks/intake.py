"""An intake that cannot lose a signed request: the spool around the Twilio webhooks, and its replayer.

Every Twilio webhook that stores something (a text, a call's step, a status callback) is wrapped in
`spooled(...)`, inside the signature check. When the view fails for any reason but bad input (a 4xx
passes through: it is refused with its reason), the request is run once more if the database
connection was lost, and if it fails again the raw signed request (path, query, form, signature, the
time it arrived and what we answered) is written to the spool (checkin.spool; a local directory) and
the caller still gets an answer that needs no database: for a text, the rules decide on its words
alone (`inbound.reply_without_storage`: a crisis gets 988/911); for a call, 911 and 988 are said.

The replayer feeds spooled requests back through the same views, in this process, once the database
answers: a request replayed is one arriving again, so the MessageSid claim stores a text once however
often it is replayed (or if its first commit did land after all), and a crisis opens its escalation
and pages then, with the received time kept. It runs in a background thread of every web process while
the spool holds anything (a lock on the spool lets one process at a time do it), and on demand with
`checkin spool replay`. While the spool holds anything it logs at ERROR every pass and /healthz says
"degraded".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from checkin.db import brief, connection_lost, utcnow
from checkin.spool import SpooledRequest

log = logging.getLogger("checkin.intake")

# The WSGI environ key that marks a replayed request. Only this process can set it (an HTTP header
# arrives as HTTP_*), so a client cannot claim to be a replay.
REPLAY = "checkin.replay"

Degraded = Callable[[], tuple[object, "str | None"]]  # () -> (the response, the reply text in it)


def replaying() -> SpooledRequest | None:
    """The spooled request this request replays, or None for one arriving from Twilio."""
    return request.environ.get(REPLAY)


def spooled(degraded: Degraded, *, retry: bool = True, fallback: bool = False, keep: bool = True):
    """Wrap a signed webhook: what it cannot store goes to the spool, and the caller gets `degraded()`.

    `retry`: run the view once more when the database connection was lost (the SMS path retries inside
    the domain already). `fallback`: this is the route Twilio calls when the primary one failed, so even
    if the spool cannot keep the request, answer (there is nowhere left for Twilio to try). `keep=False`:
    a request that only reads (an alert's script): answer `degraded()`, there is nothing to store later."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if replaying() is not None:
                return view(*args, **kwargs)  # a replay that fails stays in the spool: nothing to catch
            received_at = utcnow()
            try:
                return view(*args, **kwargs)
            except HTTPException:
                raise
            except Exception as exc:
                failure = exc
            if retry and connection_lost(failure):
                log.warning(
                    "database connection lost on %s (%s); retrying once (sid=%s)",
                    request.path,
                    type(failure).__name__,
                    _sid(),
                )
                try:
                    return view(*args, **kwargs)
                except HTTPException:
                    raise
                except Exception as exc:
                    failure = exc
            if not keep:
                log.error(
                    "%s failed (%s); answered without the database", request.path, type(failure).__name__
                )
                return degraded()[0]
            return _spool(failure, received_at, degraded, fallback=fallback)

        return wrapper

    return decorate


def _sid() -> str:
    return request.form.get("MessageSid") or request.form.get("CallSid") or ""


def _traceback_once(failure: Exception) -> None:
    """A failure to store is one ERROR line per request (`brief`); its traceback, often 200 lines of
    chained database errors, goes to the log once per outage and kind of failure (the first of its
    exception type since the spool was last empty, in this process: another kind in the same outage is
    another fault) and at DEBUG after that."""
    level = logging.ERROR if replayer(current_app).first_failure(type(failure).__name__) else logging.DEBUG
    log.log(level, "the failure to store %s, in full (once per outage)", request.path, exc_info=failure)


def _spool(failure: Exception, received_at, degraded: Degraded, *, fallback: bool):
    runtime = current_app.extensions["checkin"]
    try:
        response, reply = degraded()
    except (
        Exception
    ):  # a bug in the answer must not cost the request: keep it, and let Twilio try the fallback
        log.exception("answering %s without the database failed too", request.path)
        response, reply = ("cannot answer now\n", 500, {"Content-Type": "text/plain; charset=utf-8"}), None
    entry = SpooledRequest(
        path=request.path,
        query=request.query_string.decode("latin-1"),
        form=tuple(request.form.items(multi=True)),
        signature=request.headers.get("X-Twilio-Signature", ""),
        received_at=received_at,
        reply=reply,
        reason=type(failure).__name__,
    )
    try:
        key = runtime.spool.put(entry)
    except Exception as exc:
        log.critical(
            "STORING FAILED (%s) AND THE SPOOL FAILED (%s): %s sid=%s IS NOT KEPT; %s",
            brief(failure),
            brief(exc),
            request.path,
            entry.sid,
            "answered anyway (this is the fallback URL)"
            if fallback
            else "503, so Twilio tries the fallback URL",
        )
        _traceback_once(failure)
        if fallback:
            return response
        return "storage and spool unavailable\n", 503, {"Content-Type": "text/plain; charset=utf-8"}
    log.error(
        "STORING FAILED (%s) for %s sid=%s: the request is spooled as %s and will be stored when storage "
        "works again; answered without the database",
        brief(failure),
        request.path,
        entry.sid,
        key,
    )
    _traceback_once(failure)
    replayer(current_app).wake()
    return response


# --- replay ------------------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    stored: int = 0  # taken by the webhook (stored, or found stored already): removed from the spool
    refused: int = 0  # a 4xx on replay: set aside under rejected/, for a person
    failed: int = 0  # still failing: kept for the next pass
    busy: bool = False  # another replayer holds the spool
    storage_down: bool = False  # the database did not answer: nothing was tried

    @property
    def left(self) -> int:
        return self.failed


def replay(app: Flask) -> ReplayResult:
    """One pass over the spool, oldest first: each request goes through its webhook again."""
    runtime = app.extensions["checkin"]
    spool = runtime.spool
    result = ReplayResult()
    with spool.replaying() as mine:
        if not mine:
            result.busy = True
            return result
        keys = spool.keys()
        if not keys:
            replayer(app).outage_over()
            return result
        try:
            runtime.db.ping()
        except Exception as exc:
            log.error(
                "SPOOL HOLDS %d request(s); the database still does not answer (%s)",
                len(keys),
                type(exc).__name__,
            )
            result.storage_down, result.failed = True, len(keys)
            return result
        client = app.test_client()
        for key in _consent_first(spool, keys):
            _replay_one(spool, client, key, result)
    if result.failed == 0:
        replayer(app).outage_over()
    return result


def _consent_first(spool, keys: list[str]) -> list[str]:
    """The spooled texts that are STOP or START (and their plain-language kin) first, in the order they
    came, then everything else in order. A member who texted "4" then STOP was confirmed at once; replayed
    in plain order, the answer to "4" went out 45 ms before the STOP was recorded. Recorded first, the
    STOP is there when any answer to an earlier text of theirs is sent (the send checks consent), and
    STOP then START still ends opted in. Each text keeps the time it arrived, so the record reads in order."""
    from checkin.keywords import classify

    consent, rest = [], []
    for key in keys:
        try:
            body = dict(spool.load(key).form).get("Body")
        except Exception:  # unreadable: _replay_one sets it aside, in its turn
            body = None
        is_consent = body is not None and classify(body)[0] in ("opt_out", "opt_in")
        (consent if is_consent else rest).append(key)
    return consent + rest


def _replay_one(spool, client, key: str, result: ReplayResult) -> None:
    try:
        entry = spool.load(key)
    except FileNotFoundError:
        return
    except Exception as exc:  # not ours, altered, or under a key no longer configured
        log.error("spooled request %s cannot be read (%s); set aside", key, type(exc).__name__)
        spool.set_aside(key, f"cannot be read: {type(exc).__name__}")
        result.refused += 1
        return
    try:
        response = client.post(
            entry.path,
            query_string=entry.query,
            data=MultiDict(list(entry.form)),
            headers={"X-Twilio-Signature": entry.signature},
            environ_base={REPLAY: entry},
        )
        code, why = response.status_code, f"HTTP {response.status_code}"
    except Exception as exc:
        code, why = 500, type(exc).__name__
    age = (utcnow() - entry.received_at).total_seconds()
    if code < 400:
        spool.remove(key)
        result.stored += 1
        log.warning(
            "spooled request %s (%s sid=%s, received %.0f s ago) is stored now",
            key,
            entry.path,
            entry.sid,
            age,
        )
    elif code < 500:
        spool.set_aside(key, why)
        result.refused += 1
        log.error(
            "spooled request %s (%s sid=%s) was refused on replay (%s); set aside",
            key,
            entry.path,
            entry.sid,
            why,
        )
    else:
        result.failed += 1
        log.error(
            "spooled request %s (%s sid=%s) still cannot be stored (%s)", key, entry.path, entry.sid, why
        )


class Replayer:
    """The web process's background replayer: a thread that runs while the spool holds anything, every
    CHECKIN_SPOOL_REPLAY_SECONDS, and ends when it is empty (the next spooled request, or /healthz
    seeing one, starts it again)."""

    def __init__(self, app: Flask, interval: int):
        self.app = app
        self.interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failing: set[str] = set()  # failures to store logged in full since the spool was last empty

    def first_failure(self, kind: str) -> bool:
        """Whether this failure to store is the first of its kind in an outage (its traceback is logged)."""
        with self._lock:
            first = kind not in self._failing
            self._failing.add(kind)
            return first

    def outage_over(self) -> None:
        """The spool was found empty, or a replay pass left nothing: the next failure is a new outage."""
        self._failing = set()

    def wake(self) -> None:
        if self.interval <= 0 or self._stop.is_set():
            return
        with self._lock:
            # Not alive: it ended, or it was started in a parent process before a fork (gunicorn --preload).
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="checkin-spool-replayer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def _run(self) -> None:
        spool = self.app.extensions["checkin"].spool
        while not self._stop.wait(self.interval):
            with self._lock:
                try:
                    waiting = spool.count()
                except Exception:
                    waiting = 0
                if waiting == 0:
                    self._thread = None
                    self._failing = set()
                    return
            oldest = spool.keys()[:1]
            since = (time.time_ns() - int(oldest[0].split("-", 1)[0])) / 1e9 if oldest else 0.0
            log.error(
                "SPOOL HOLDS %d request(s) not yet stored, the oldest for %.0f s; replaying", waiting, since
            )
            try:
                replay(self.app)
            except Exception:
                log.exception("spool replay pass failed; trying again in %d s", self.interval)
        with self._lock:
            self._thread = None


def replayer(app: Flask) -> Replayer:
    return app.extensions["checkin.replayer"]


def install(app: Flask) -> None:
    """Give the app its replayer, and start it if the spool holds something from before a restart."""
    runtime = app.extensions["checkin"]
    app.extensions["checkin.replayer"] = found = Replayer(app, runtime.settings.spool_replay_seconds)
    try:
        waiting = runtime.spool.count()
    except OSError:
        waiting = 0
    if waiting:
        log.error("SPOOL HOLDS %d request(s) from before this process started; replaying", waiting)
        found.wake()

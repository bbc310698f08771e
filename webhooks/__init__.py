"""The Flask app: Twilio webhooks in, staff console, health."""

from __future__ import annotations

import logging
from functools import cached_property
from types import FunctionType

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from checkin.bootstrap import Runtime
from config import Settings, load_settings

MAX_REQUEST_BYTES = 64 * 1024  # Twilio's largest webhook is a few KB; anything bigger is not Twilio.
# What a caller said or typed, as Twilio relays it: control bytes are stripped, not refused, since a
# 4xx would drop the member's words (Twilio does not retry it).
TWILIO_FREE_TEXT = frozenset(
    {("/twilio/", "Body"), ("/twilio/", "SpeechResult"), ("/twilio/", "TranscriptionText")}
)


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None, *, warm_rules: bool = True
) -> Flask:
    """The web app. ``warm_rules=False`` is for the CLI, which serves no webhook: it skips compiling the
    risk rules up front (about 2 s per command on an idle machine; a command that assesses loads them)."""
    if runtime is None:
        runtime = Runtime.build(settings or load_settings())
    settings = runtime.settings
    app = _App(__name__, instance_path=str(settings.instance_path), instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
    )
    app.session_interface = _SessionInterface()
    app.extensions["checkin"] = runtime
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from webhooks import (
        console,
        errors,
        health,
        intake,
        params,
        twilio_sms,
        twilio_voice,
        twilio_voice_alerts,
    )

    # The runtime loaded and validated config/escalation.toml and config/voice.toml (a malformed policy
    # or prompt stopped the start, naming the key); the settings checked the send rates.
    app.extensions["checkin.escalation"] = runtime.escalation
    # Templates too long for two SMS segments stop the start too, named.
    _check_answers()

    errors.register(app)
    params.bound_route_ids(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(twilio_sms.bp)
    app.register_blueprint(twilio_voice_alerts.bp)
    app.register_blueprint(twilio_voice.bp)
    app.register_blueprint(console.bp)
    params.refuse_undecodable_forms(app, prefix="/twilio/")  # first: before anything parses the form
    params.refuse_control_bytes(app, free_text=TWILIO_FREE_TEXT)
    intake.install(app)  # the spool's replayer (started now if the spool holds something)
    if settings.public_base_url.startswith("https://"):
        _strict_transport(app)
    if warm_rules:
        _warm_rules()
    return app


class _App(Flask):
    """Flask, with each view's and hook's sync form worked out once: Flask asks `inspect` whether it is a
    coroutine function on every call (seven times per Twilio webhook). At most 512 are kept."""

    def ensure_sync(self, func):
        found = self._sync.get(func)
        if found is None:
            found = super().ensure_sync(func)
            # Functions only (a class view's bound method is new on every request), and a cap, should a
            # closure be made per call (copy_current_request_context).
            if isinstance(func, FunctionType) and len(self._sync) < 512:
                self._sync[func] = found
        return found

    @cached_property
    def _sync(self) -> dict:
        return {}


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's cookie sessions, with the signing serializer built once per secret key (and fallbacks)
    instead of on every request: building it (itsdangerous tries a dump to learn its text type) cost
    about as much as the signature check on every Twilio webhook, which has no session at all.
    Twilio's webhooks get Flask's null session: no cookie read, nothing saved, and a write would fail."""

    def __init__(self) -> None:
        self._serializers: dict = {}

    def open_session(self, app: Flask, request):
        if request.path.startswith("/twilio/"):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask):
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        found = self._serializers.get(key)
        if found is None:
            found = self._serializers[key] = super().get_signing_serializer(app)
        return found


def _warm_rules() -> None:
    """Compile the risk rules and load the classifier now, before this web worker takes a request.
    Loaded lazily, the first text each worker got paid for it: 2 s on an idle machine, over 15 s on a
    loaded one (the fault table's baseline), and Twilio gives up on a webhook after 15 s, so the member
    who sent it (perhaps a crisis text) got no reply."""
    from checkin.rules import ALL_LANGUAGES, assess

    assess("warm up", language=ALL_LANGUAGES, second_opinion=True)


def _strict_transport(app: Flask) -> None:
    """Served over https: browsers must never fall back to http, where the session cookie could leak."""

    @app.after_request
    def _hsts(response):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def _check_answers() -> None:
    from checkin import templates
    from checkin.schedules import load_config

    templates.check_lengths(more={"plan.toml": load_config().templates})
    from checkin.inbox import replies

    replies.defaults()  # config/replies.toml: a bad entry stops the start, named

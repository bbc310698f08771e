"""Twilio request signatures, checked against PUBLIC_BASE_URL so they hold behind a TLS-terminating proxy."""

from __future__ import annotations

import hmac
import logging
from functools import lru_cache, wraps
from urllib.parse import urlparse

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, remove_port

from webhooks.intake import REPLAY


def public_url() -> str:
    """The URL Twilio called: our public base plus the path and query as received.

    Twilio signs the URL as it requested it, percent-escapes included, so the raw request line
    (RAW_URI, which gunicorn and werkzeug set) is preferred to the decoded `request.path`."""
    settings = current_app.extensions["checkin"].settings
    raw = request.environ.get("RAW_URI") or ""
    if raw.startswith("/"):
        return settings.public_base_url + raw
    query = request.query_string.decode("latin-1")
    return settings.public_base_url + request.path + (f"?{query}" if query else "")


@lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    """One validator per auth token (it holds nothing else), not one per request."""
    return RequestValidator(auth_token)


class _Form:
    """A werkzeug MultiDict as twilio's validator reads a form. It asks for `getall` first and falls back
    to `getlist` on AttributeError: with a MultiDict as it is, an exception per field on every request,
    about a third of the check's CPU. The algorithm stays twilio's."""

    __slots__ = ("_form", "getall")

    def __init__(self, form) -> None:
        self._form = form
        self.getall = form.getlist

    def __iter__(self):
        return iter(self._form.keys())

    def __len__(self) -> int:
        return len(self._form)


@lru_cache(maxsize=64)
def _url_forms(url: str) -> tuple[str, str]:
    """The URL without and with its port, the two forms Twilio may have signed (as `RequestValidator.validate`
    tries them), the one that is `url` as written first: Twilio signs the URL it was given, so that form is
    the one that matches (a base URL with a port tried the other one first, one HMAC more on every request).
    The same few URLs come again and again, so they are parsed once."""
    parsed = urlparse(url)
    without, with_port = remove_port(parsed), add_port(parsed)
    return (with_port, without) if with_port == url else (without, with_port)


def valid_signature(auth_token: str, url: str, params, signature: str) -> bool:
    """`RequestValidator(auth_token).validate(url, params, signature)` for a form-encoded request, with the
    same two URL forms and a constant-time comparison, but the second HMAC only computed when the
    first does not match (validate computes both on every request)."""
    validator, fields = _validator(auth_token), _Form(params)
    given = signature.encode("utf-8", "surrogateescape")
    # any() stops at the first match: the second form is only signed when the first is not Twilio's.
    return any(
        hmac.compare_digest(validator.compute_signature(form, fields).encode("ascii"), given)
        for form in _url_forms(url)
    )


def _refused(reason: str):
    """403, and a log line: a wrong PUBLIC_BASE_URL or a rotated auth token refuses every text (a crisis
    among them), so the refusals must show in the log, not only in Twilio's debugger. Ids only. A request
    with no signature at all is not Twilio's (a scanner, a probe): a warning, so such noise cannot bury the
    errors that mean misconfiguration."""
    sid = (request.form.get("MessageSid") or request.form.get("CallSid") or "")[:64]
    signed = bool(request.headers.get("X-Twilio-Signature"))
    current_app.logger.log(
        logging.ERROR if signed else logging.WARNING,
        "refused %s %s: %s (sid=%s; check PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN)",
        request.method,
        request.path,
        reason,
        sid or "none",
    )
    abort(403, reason)


def twilio_signed(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if request.environ.get(REPLAY) is not None:
            # A spooled request replayed in this process (webhooks.intake): its signature was checked
            # when it arrived, and the spool's encryption authenticates it since (a changed file does
            # not decrypt), so a rotated auth token or base URL cannot strand it.
            return view(*args, **kwargs)
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            _refused("missing X-Twilio-Signature")
        runtime = current_app.extensions["checkin"]
        if not valid_signature(runtime.settings.twilio_auth_token, public_url(), request.form, signature):
            _refused("X-Twilio-Signature does not match this request")
        return view(*args, **kwargs)

    return wrapper

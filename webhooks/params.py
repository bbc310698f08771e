"""What a client sends, checked before it reaches the database: ids, counts and control bytes.

PostgreSQL's `integer` stops at 2^31-1 and its text refuses NUL, so an id like 99999999999 or a
NUL in a field would otherwise be a 500 from the database rather than a 4xx from us.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, current_app, request
from werkzeug.routing import IntegerConverter

MAX_INT = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")  # ASCII only: str.isdigit() also takes '²', which int() refuses
# C0 controls and DEL, but tab, newline and carriage return, which typed text has.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# An escape that decodes to a byte past ASCII: only a form with one (or a raw byte past ASCII) can fail
# to be UTF-8.
_HIGH_ESCAPE = re.compile(rb"%[89a-fA-F]")
# The one id a refusal may log from a body it cannot read: a Twilio message or call SID.
_SID_IN_FORM = re.compile(rb"(?:^|&)(?:MessageSid|CallSid)=((?:SM|MM|CA)[0-9a-fA-F]{32})(?:&|$)")


def whole_number(raw: str | None) -> int | None:
    """The whole number 0..2^31-1 that `raw` spells in ASCII digits, or None."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_INT else None


def record_id(raw: str | None) -> int | None:
    """The row id `raw` names (1..2^31-1), or None when it cannot name one."""
    value = whole_number(raw)
    return value if value else None


def optional_id(name: str, raw: str | None, what: str) -> int | None:
    """An optional id argument: None when absent, 400 naming it when it is not an id."""
    if not raw:
        return None
    value = record_id(raw)
    if value is None:
        abort(400, f"{name} must be {what}")
    return value


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


class _RowIdConverter(IntegerConverter):
    """`<int:...>` in a route stops at 2^31-1: a longer id is a 404, never a database error."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def bound_route_ids(app: Flask) -> None:
    """`<int:id>` in every route stops at 2^31-1. Must run before blueprints register their routes."""
    app.url_map.converters["int"] = _RowIdConverter


def utf8_error_at(form: bytes) -> int | None:
    """Where the url-encoded `form` stops being UTF-8 once its %-escapes are decoded (a byte offset into
    the decoded form), or None when all of it is UTF-8. Raw bytes and escaped ones alike."""
    try:
        unquote_to_bytes(form).decode("utf-8")  # '+' (a space) and '&', '=' are ASCII: no need to split
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def refuse_undecodable_forms(app: Flask, *, prefix: str) -> None:
    """A url-encoded form under `prefix` that is not UTF-8 is a 400 that says so, before anything reads it.

    Werkzeug would read raw non-UTF-8 bytes as an empty form, and keep a bad escape (%E9) as its three
    characters: either way the signature check then refused it as "does not match", which sends an
    operator after PUBLIC_BASE_URL and the auth token. Twilio sends UTF-8 only, so such a body is not one
    Twilio signed, and saying so first tells a caller nothing about us. Nothing is stored; the log line
    has the SID, never the body. Must be registered before any hook that reads the form."""

    @app.before_request
    def _refuse_undecodable_form():
        if not request.path.startswith(prefix) or request.mimetype != "application/x-www-form-urlencoded":
            return
        raw = request.get_data(cache=True)  # kept: the form is parsed from it next
        if raw.isascii() and not _HIGH_ESCAPE.search(raw):
            return  # every byte and every escape is ASCII: UTF-8 (the everyday text, an English one)
        at = utf8_error_at(raw)
        if at is None:
            return
        found = _SID_IN_FORM.search(raw)
        current_app.logger.error(
            "refused %s %s: the body is not valid UTF-8 (byte %d of the decoded form; sid=%s); nothing stored",
            request.method,
            request.path,
            at,
            found.group(1).decode() if found else "none",
        )
        abort(400, f"the request body is not valid UTF-8 (byte {at}); Twilio sends UTF-8; nothing was stored")


def refuse_control_bytes(app: Flask, *, free_text: frozenset[tuple[str, str]]) -> None:
    """Refuse control bytes in any argument or form field with a 400 naming the field.

    `free_text` lists (path prefix, field) pairs whose control bytes are stripped instead (a member's
    SMS body: refusing it would drop the message, since Twilio does not retry a 4xx).
    Runs after the blueprints' own before-request hooks, which may raise an upload's size limit
    before the form is read."""

    @app.before_request
    def _refuse_control_bytes():
        req = request._get_current_object()  # once: each `request.` goes through a context-local proxy
        for source in (req.args, req.form):
            if not source:
                continue
            items = list(source.items(multi=True))
            if not _CONTROL.search("".join(key + value for key, value in items)):
                continue  # the everyday form: one search over all of it, none per field
            for key, value in items:
                if _CONTROL.search(key):
                    abort(400, "a field name contains a control character")
                if _CONTROL.search(value) and not any(
                    req.path.startswith(prefix) and key == field for prefix, field in free_text
                ):
                    abort(400, f"{key} contains a control character")

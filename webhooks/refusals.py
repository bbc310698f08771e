"""A signed webhook request refused for what it says: a 4xx with the reason, and one ERROR line for the
operator (path and SID; never words or numbers), since Twilio does not retry a 4xx and the text is gone."""

from __future__ import annotations

from typing import NoReturn

from flask import abort, current_app, request


def refuse(code: int, reason: str) -> NoReturn:
    """`reason` is read by Twilio's debugger and our log: it must name fields, not their values."""
    sid = (request.form.get("MessageSid") or request.form.get("CallSid") or "")[:64]
    current_app.logger.error(
        "refused %s %s: %s (sid=%s)", request.method, request.path, reason, sid or "none"
    )
    abort(code, reason)

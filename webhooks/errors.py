"""Every client error gets a status and a reason in plain words; nothing a client sends causes a 500."""

from collections.abc import Callable

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

_PAGES = "checkin.error_pages"


def page_for(app: Flask, prefix: str, page: Callable[[HTTPException], object]) -> None:
    """Errors under `prefix` get `page` (a blueprint's own error page) even when no view matched the URL:
    Flask asks a blueprint's error handlers only once one of its routes matched, and a mistyped link
    or a GET on a form's address matches none."""
    app.extensions.setdefault(_PAGES, {})[prefix] = page


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        reason = exc.description or exc.name
        if exc.code == 413:
            reason = f"request too large (limit {app.config['MAX_CONTENT_LENGTH'] // 1024} KiB)"
        if request.path.startswith("/twilio/"):
            return reason + "\n", exc.code, {"Content-Type": "text/plain; charset=utf-8"}
        for prefix, page in app.extensions.get(_PAGES, {}).items():
            if request.path.startswith(prefix):
                return page(exc)
        return jsonify(error=exc.name, reason=reason), exc.code

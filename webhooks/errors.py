"""Every client error gets a status and a reason in plain words; nothing a client sends causes a 500."""

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        reason = exc.description or exc.name
        if exc.code == 413:
            reason = f"request too large (limit {app.config['MAX_CONTENT_LENGTH'] // 1024} KiB)"
        if request.path.startswith("/twilio/"):
            return reason + "\n", exc.code, {"Content-Type": "text/plain; charset=utf-8"}
        return jsonify(error=exc.name, reason=reason), exc.code

"""The baseline: a bare Flask endpoint answering every inbound SMS with constant TwiML.

Served by gunicorn with exactly the settings used for the real webhook, so the ratio between the two
measures what the webhook itself costs (signature check, parsing, database, reply), not the server.
"""

from __future__ import annotations

from flask import Flask

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/twilio/sms")
    def sms():
        return TWIML, 200, {"Content-Type": "text/xml; charset=utf-8"}

    return app

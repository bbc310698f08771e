"""Baselines for the inbound webhook, served by gunicorn with exactly the settings used for it.

- `create_app`: a bare Flask endpoint answering every inbound SMS with constant TwiML. The ratio
  between the webhook and it measures what the webhook itself costs (signature check, parsing,
  database, deciding, reply), not the server.
- `create_floor_app`: the same, plus the one thing no webhook that stores before it answers can skip:
  reading the form and one durable INSERT ... ON CONFLICT (provider_sid) DO NOTHING, autocommitted,
  with a raw psycopg connection per thread (no ORM, no signature, no encryption, no deciding). Its
  ratio to the bare endpoint is the ceiling for any webhook with that guarantee on this machine.
"""

from __future__ import annotations

import os
import threading

from flask import Flask, request

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}
FLOOR_SQL = (
    "INSERT INTO messages (direction, channel, provider_sid, from_number, to_number, status, created_at, updated_at) "
    "VALUES ('inbound', 'sms', %s, %s, %s, 'received', now(), now()) ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
)


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/twilio/sms")
    def sms():
        return TWIML, 200, HEADERS

    return app


def create_floor_app() -> Flask:
    import psycopg

    dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    local = threading.local()
    app = Flask(__name__)

    @app.post("/twilio/sms")
    def sms():
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
        form = request.form
        conn.execute(FLOOR_SQL, (form["MessageSid"], form["From"], form["To"]), prepare=True).fetchone()
        return TWIML, 200, HEADERS

    return app

"""Inbound and outbound member calls: POST /twilio/voice and its Gather actions."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("twilio_voice", __name__, url_prefix="/twilio/voice")

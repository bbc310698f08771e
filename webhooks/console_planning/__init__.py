"""Console pages for planning: schedule builder, reminder plan and templates, preview, calendar feed, simulator.

A blueprint of its own under /console; it uses the console's layout and sign-in (webhooks.console).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console_planning", __name__, url_prefix="/console", template_folder="templates", static_folder=None)

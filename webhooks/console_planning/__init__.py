"""Console pages for planning: schedule builder, reminder plan and templates, preview, calendar feed, simulator.

A blueprint of its own under /console; it uses the console's layout and sign-in (webhooks.console).
Coordinators edit; a facilitator sees the groups they facilitate (read-only) and gets 404 for others.
"""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import HTTPException

bp = Blueprint(
    "console_planning",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/planning-static",
)

from webhooks.console import add_nav, views_auth  # noqa: E402
from webhooks.console_planning import views_calendar, views_groups, views_plan, views_simulator  # noqa: E402,F401

# The console's response headers (no-store, no framing, CSP) and error pages apply here too.
bp.after_request(views_auth._headers)
bp.register_error_handler(HTTPException, views_auth._http_error)

add_nav("Groups", "console_planning.groups")
add_nav("Simulator", "console_planning.simulator")

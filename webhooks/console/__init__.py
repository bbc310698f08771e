"""The staff console under /console: server-rendered pages for coordinators and facilitators, one blueprint.

By what a page is about:
  views_home, views_members, views_roster (+ imports: the members list's filters, CSV import in
  update mode, exports), views_member_data (a member's copy and
  erasure), views_escalations (+ timeline),
  views_inbox (+ thread)                the shared inbox, a member's conversation and replies, live polling
  views_staff (rota), views_audit       people and cases
  views_groups (+ recurrence: the schedule builder), views_plan (+ texts: a group's own wording),
  views_announce                        group announcements: write, preview, send once, progress
  views_calendar                        groups, meetings, reminder plans and their preview, calendar feed
  views_reports (+ report_charts)       a group's weekly report (charts and tables) and its CSV
  views_simulator (+ simulator, call_simulator)
                                        texts and calls played against the real service, nothing kept
  views_auth, auth, forms, templating   sign-in, the request's staff member and session, form fields, layout
  views_account                         your own password and authenticator app

Coordinators edit; a facilitator sees the groups they facilitate (read-only) and gets 404 for others.
Every page uses the layout `console/base.html` (blocks title, content) and `login_required`,
`coordinator_required`, `current_staff()`, `group_visible(group_id)`, `db()` (the request's database session).
CSRF: every POST/PUT/PATCH/DELETE outside /twilio/ needs Flask-WTF's token (form field
`csrf_token`, rendered by `{{ csrf_field() }}`); Twilio's webhooks are signed instead.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, request
from flask_wtf.csrf import CSRFProtect

from webhooks.console.auth import (  # noqa: F401  (re-exported for the console's views)
    can_see_group,
    client_ip,
    close_db,
    coordinator_required,
    current_staff,
    db,
    group_visible,
    is_coordinator,
    login_required,
    visible_group_ids,
    visible_groups,
)

bp = Blueprint(
    "console", __name__, url_prefix="/console", template_folder="templates", static_folder="static"
)
csrf = CSRFProtect()
SESSION_HOURS = timedelta(hours=12)

# (label, endpoint, coordinator_only), in the order they appear in the top navigation.
NAV: tuple[tuple[str, str, bool], ...] = (
    ("Home", "console.home", False),
    ("Inbox", "console.inbox", False),
    ("Members", "console.members", False),
    ("Escalations", "console.escalations", False),
    ("Staff", "console.staff", False),
    ("Audit", "console.audit_log", True),
    ("Groups", "console.groups", False),
    ("Reports", "console.reports", False),
    ("Simulator", "console.simulator", False),
    ("Your account", "console.account", False),
)


# Endpoints that take a file upload bigger than the app-wide limit (which is sized for Twilio's webhooks).
UPLOAD_LIMITS: dict[str, int] = {"console.members_import": 5 * 1024 * 1024 + 64 * 1024}
UPLOAD_FORM_MEMORY = 2 * 64 * 1024  # two of Werkzeug's 64 KiB reads; text fields stay small


@bp.record_once
def _setup(state) -> None:
    app = state.app
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_HOURS  # Flask's default is 31 days
    # Checked in _csrf below rather than on every view by default, so Twilio's signed webhooks are left alone.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the session
    csrf.init_app(app)
    app.teardown_appcontext(close_db)

    @app.before_request
    def _csrf():
        if request.endpoint in UPLOAD_LIMITS:
            request.max_content_length = UPLOAD_LIMITS[request.endpoint]
            # Werkzeug's multipart decoder checks this limit against its buffer, file data included: a
            # 64 KiB read on top of the few bytes it holds back (a possible boundary) must fit, or an
            # upload over 64 KiB fails with 413 whenever a line break falls at the end of a read.
            request.max_form_memory_size = UPLOAD_FORM_MEMORY
        if not request.path.startswith("/twilio/"):
            csrf.protect()  # a no-op for GET/HEAD/OPTIONS

    from webhooks import errors
    from webhooks.console import templating

    templating.register(app)
    errors.page_for(app, bp.url_prefix + "/", views_auth.error_page)


# The views register their routes on `bp` when imported, so they come after it is defined.
from webhooks.console import (  # noqa: E402, F401
    views_account,
    views_announce,
    views_audit,
    views_auth,
    views_calendar,
    views_escalations,
    views_groups,
    views_home,
    views_inbox,
    views_member_data,
    views_members,
    views_plan,
    views_policy,
    views_reports,
    views_roster,
    views_simulator,
    views_staff,
)

"""Members: list, add, edit, pause, consent, CSV import, timeline."""

from __future__ import annotations

from flask import render_template

from webhooks.console import bp
from webhooks.console.auth import login_required, visible_groups


@bp.route("/members")
@login_required
def members():
    return render_template("console/members.html", groups=visible_groups())

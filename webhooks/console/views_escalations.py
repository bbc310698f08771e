"""Escalations: list with filters, one escalation's timeline, acknowledge, resolve, reassign, note."""

from __future__ import annotations

from flask import render_template

from webhooks.console import bp
from webhooks.console.auth import login_required


@bp.route("/escalations")
@login_required
def escalations():
    return render_template("console/escalations.html")

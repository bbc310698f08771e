"""Staff and rota: who works here, who is on call for which group."""

from __future__ import annotations

from flask import render_template

from webhooks.console import bp
from webhooks.console.auth import login_required


@bp.route("/staff")
@login_required
def staff():
    return render_template("console/staff.html")

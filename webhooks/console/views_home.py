"""Home: what needs a person now, what goes out today, how yesterday went."""

from __future__ import annotations

from flask import render_template

from webhooks.console import bp
from webhooks.console.auth import login_required


@bp.route("/")
@login_required
def home():
    return render_template("console/home.html")

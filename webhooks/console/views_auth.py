"""Sign-in (password, then the authenticator app's code when the person has one), sign-out, the page an
invitation or reset link opens; HTML error pages for the console."""

from __future__ import annotations

import logging
import time

from flask import (
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from checkin import accounts
from checkin.accounts import invitations
from checkin.errors import ValidationError
from checkin.models import StaffUser
from webhooks.console import bp
from webhooks.console.auth import client_ip, current_staff, db, sign_in, sign_out

log = logging.getLogger("checkin.console")

# Between the password and the code: who, since when (the signed session cookie holds it, nothing else).
PENDING = "pending_code"
CODE_MINUTES = 5


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(_safe_next(next_url))
        return render_template("console/login.html", next=next_url)
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    throttle = current_app.extensions["checkin"].signin_throttle
    session = db()
    try:
        result = accounts.authenticate(session, throttle, email, password, client_ip())
    except accounts.ThrottleUnavailable:
        abort(
            503,
            "sign-in is unavailable for a moment (the attempt counter cannot be reached); try again shortly",
        )
    session.commit()
    if result.staff is None:
        status = 429 if result.retry_after else 401
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else {}
        return (
            render_template("console/login.html", error=result.error, email=email, next=next_url),
            status,
            headers,
        )
    if result.needs_code:
        cookie.clear()
        cookie[PENDING] = [result.staff.id, int(time.time())]
        return redirect(url_for("console.login_code", next=next_url))
    sign_in(result.staff)
    return redirect(_safe_next(next_url))


def _pending_staff() -> StaffUser | None:
    pending = cookie.get(PENDING)
    if not (isinstance(pending, list) and len(pending) == 2 and all(isinstance(v, int) for v in pending)):
        return None
    staff_id, since = pending
    if time.time() - since > CODE_MINUTES * 60:
        return None
    staff = db().get(StaffUser, staff_id)
    return staff if staff is not None and staff.active and staff.totp_enabled_at is not None else None


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of signing in: the code from the authenticator app, or a recovery code."""
    next_url = request.args.get("next")
    staff = _pending_staff()
    if staff is None:
        cookie.pop(PENDING, None)
        flash(f"Sign in again: the code must follow the password within {CODE_MINUTES} minutes.", "error")
        return redirect(url_for("console.login", next=next_url))
    if request.method == "GET":
        return render_template("console/login_code.html", next=next_url)
    throttle = current_app.extensions["checkin"].signin_throttle
    try:
        result = accounts.second_factor(db(), throttle, staff, request.form.get("code", ""), client_ip())
    except accounts.ThrottleUnavailable:
        abort(
            503,
            "sign-in is unavailable for a moment (the attempt counter cannot be reached); try again shortly",
        )
    db().commit()
    if result.staff is None:
        status = 429 if result.retry_after else 401
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else {}
        recovery = request.form.get("kind") == "recovery"
        page = render_template(
            "console/login_code.html", error=result.error, next=next_url, recovery=recovery
        )
        return page, status, headers
    sign_in(result.staff)
    return redirect(_safe_next(next_url))


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str):
    """An invitation or reset link: the person sets their own password, once."""
    opened = invitations.open_link(db(), token)
    if opened.problem:
        status = 404 if opened.invitation is None else 410
        return render_template("console/welcome.html", problem=opened.problem), status
    if request.method == "GET":
        return render_template("console/welcome.html", person=opened.staff, kind=opened.invitation.kind)
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        error = "the two passwords are not the same; type the new one twice"
    else:
        try:
            staff = accounts.accept_invitation(db(), token, password, ip=client_ip())
        except ValidationError as exc:
            db().rollback()
            error = str(exc)
        else:
            db().commit()
            if staff.totp_enabled_at is not None:
                flash(
                    "Your new password is set. Sign in with it and a code from your authenticator app.", "ok"
                )
                return redirect(url_for("console.login"))
            sign_in(staff)
            flash("Your password is set. Next, protect your account with an authenticator app.", "ok")
            return redirect(url_for("console.account_two_factor", welcome=1))
    return render_template(
        "console/welcome.html", person=opened.staff, kind=opened.invitation.kind, error=error
    ), 400


@bp.route("/logout", methods=["POST"])
def logout():
    staff = current_staff()
    if staff is not None:
        accounts.audit(db(), "signout", staff.id, ip=client_ip())
        db().commit()
    sign_out()
    flash("You are signed out.", "ok")
    return redirect(url_for("console.login"))


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError):
    reason = f"The form had expired or was not sent from this console ({exc.description}). Go back, reload and try again."
    return render_template("console/error.html", code=400, name="Form not accepted", reason=reason), 400


@bp.errorhandler(OperationalError)
@bp.errorhandler(PoolTimeout)
def _database_unreachable(exc: Exception):
    """The database not answering: a page in words (503), not waitress's bare "Internal Server Error",
    which is what a signed-in page gave, since the 500 page's layout asks the database who is signed
    in and failed again; one line in the log per request, not two chained tracebacks."""
    log.error("console %s: DATABASE UNREACHABLE (%s)", request.endpoint, type(exc).__name__)
    g.console_staff = None  # the layout must not ask the database again who is signed in
    reason = (
        "The database is not answering, so this page cannot be shown and nothing was changed. "
        "Members' texts are still answered and kept until it is back. Try again in a minute."
    )
    return render_template("console/error.html", code=503, name="Database unavailable", reason=reason), 503


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return render_template(
        "console/error.html", code=exc.code, name=exc.name, reason=exc.description, back=_form_page()
    ), exc.code


def error_page(exc: HTTPException):
    """The console's error page for a URL under /console/ that no view matched (a mistyped or cut-off
    link, a GET on a form's address), with the console's headers: not the API's JSON."""
    return _headers(make_response(_http_error(exc)))


def _form_page() -> str | None:
    """The console page a refused form was sent from, so the coordinator can go back and correct it."""
    referrer = request.referrer or ""
    if request.method == "POST" and referrer.startswith(request.host_url + "console/"):
        return referrer
    return None


@bp.after_request
def _headers(response):
    # Member data and one-time passwords must not linger in caches; no framing, nothing from elsewhere.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Console URLs name members and escalations: never send them to another site.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    )
    return response

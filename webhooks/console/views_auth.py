"""Sign-in and sign-out; HTML error pages for the console."""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from checkin import accounts
from webhooks.console import bp
from webhooks.console.auth import client_ip, current_staff, db, sign_in, sign_out


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
    sign_in(result.staff)
    return redirect(_safe_next(next_url))


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

"""Your account: change your own password, set up (or turn off) an authenticator app, new recovery codes.

These pages stay reachable while the account needs something first (auth.account_gate): a temporary
password to replace, or, with CHECKIN_REQUIRE_2FA=1, a coordinator's authenticator app to set up.
"""

from __future__ import annotations

import segno
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from markupsafe import Markup

from checkin import accounts
from checkin.accounts import passwords, two_factor
from checkin.errors import ValidationError
from webhooks.console import bp
from webhooks.console.auth import account_gate, client_ip, current_staff, db, gate_words, login_required


def _page(template: str, status: int = 200, **context):
    gate = account_gate()
    return render_template(
        template,
        gate=gate,
        gate_words=gate_words(gate),
        me=current_staff(),
        min_length=passwords.MIN_LENGTH,
        **context,
    ), status


@bp.route("/account")
@login_required
def account():
    me = current_staff()
    return _page("console/account.html", codes_left=two_factor.recovery_codes_left(db(), me.id))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def account_password():
    if request.method == "GET":
        return _page("console/account_password.html")
    form = request.form
    me = current_staff()
    was_temporary = me.must_change_password
    new = form.get("new_password", "")
    try:
        if new != form.get("new_password2", ""):
            raise ValidationError("the two new passwords are not the same; type the new one twice")
        accounts.change_own_password(
            db(),
            me,
            form.get("current_password", ""),
            new,
            keep_token=session.get("token"),
            throttle=current_app.extensions["checkin"].signin_throttle,
            ip=client_ip(),
        )
    except accounts.ThrottleUnavailable:
        db().rollback()
        abort(503, "changing a password is unavailable for a moment (the attempt counter cannot be reached)")
    except ValidationError as exc:
        db().rollback()
        status = 429 if str(exc).startswith("too many wrong passwords") else 400
        return _page("console/account_password.html", status, error=str(exc))
    db().commit()
    flash("Your password is changed. Any other browser signed in as you has been signed out.", "ok")
    return redirect(url_for(account_gate() or ("console.home" if was_temporary else "console.account")))


def _qr_svg(uri: str) -> Markup:
    """The otpauth address as an inline SVG QR code (segno: made here, no request to anywhere)."""
    svg = segno.make(uri, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=False, title="QR code for your authenticator app"
    )
    return Markup(svg)  # noqa: S704 - segno's own SVG of our own address, nothing from the request


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def account_two_factor():
    me = current_staff()
    if me.totp_enabled_at is not None:
        if request.method == "POST":
            abort(400, "your authenticator app is already set up; turn it off first to set up another")
        return redirect(url_for("console.account"))
    if not me.totp_secret:
        # Kept (encrypted) from the first visit, so reloading the page does not change a key already scanned.
        me.totp_secret = two_factor.new_secret()
        db().commit()
    error = None
    if request.method == "POST":
        codes = accounts.enable_two_factor(
            db(), me, me.totp_secret, request.form.get("code", ""), ip=client_ip()
        )
        if codes is not None:
            db().commit()
            return _page("console/recovery_codes.html", codes=codes, first=True)
        db().rollback()
        error = (
            "That code does not match. Type the 6 digits the app shows now for “Checkin” "
            "(a new code appears every 30 seconds); check the phone's clock is right."
        )
    uri = two_factor.provisioning_uri(me.totp_secret, me.email)
    return _page(
        "console/account_two_factor.html",
        400 if error else 200,
        qr=_qr_svg(uri),
        secret=two_factor.grouped(me.totp_secret),
        error=error,
        welcome=bool(request.args.get("welcome")),
    )


@bp.route("/account/two-factor/off", methods=["POST"])
@login_required
def account_two_factor_off():
    me = current_staff()
    if not passwords.verify_password(me.password_hash, request.form.get("current_password", "")):
        flash("Not turned off: your current password is not right.", "error")
        return redirect(url_for("console.account"))
    accounts.turn_off_two_factor(db(), me, by=me, ip=client_ip())
    db().commit()
    flash("Your authenticator app is turned off: you sign in with your password only.", "ok")
    return redirect(url_for(account_gate() or "console.account"))


@bp.route("/account/recovery-codes", methods=["POST"])
@login_required
def account_recovery_codes():
    me = current_staff()
    if me.totp_enabled_at is None:
        abort(400, "set up an authenticator app first: recovery codes go with it")
    if not passwords.verify_password(me.password_hash, request.form.get("current_password", "")):
        flash("No new codes: your current password is not right.", "error")
        return redirect(url_for("console.account"))
    codes = two_factor.new_recovery_codes(db(), me)
    accounts.audit(db(), "recovery_codes_new", me.id, detail=f"staff:{me.id}", ip=client_ip())
    db().commit()
    return _page("console/recovery_codes.html", codes=codes, first=False)

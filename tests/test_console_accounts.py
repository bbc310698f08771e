"""Staff accounts done right: invitation links, the common-password list, a forced change of a password
someone else set, changing one's own password, the authenticator app and its recovery codes, and
CHECKIN_REQUIRE_2FA."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, text

from checkin import accounts
from checkin.accounts import passwords, two_factor
from checkin.accounts.models import AuditEvent, StaffInvitation
from checkin.errors import ValidationError
from checkin.models import OutboxItem, StaffUser
from config import ConfigError, load_settings
from tests.console_helpers import (  # noqa: F401
    PASSWORD,
    Console,
    cheap_password_hashing,
    csrf_token,
    make_staff,
    plain_http,
    sign_in,
)

NEW_PASSWORD = "lantern orchard velvet"


def _field(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:code|p)>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1))  # the text, without the spans that group it


def _actions(db) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


@pytest.fixture
def casey(client, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


def _invite(casey, group, phone="202-555-0188") -> tuple[str, str]:
    """Casey invites Robin; returns (the link's path, the page)."""
    page = casey.post(
        "/console/staff/new",
        {
            "name": "Robin",
            "email": "robin@example.org",
            "role": "facilitator",
            "phone": phone,
            "groups": group.id,
        },
    ).get_data(as_text=True)
    link = _field(page, "invite-link")
    return link[link.index("/console/welcome/") :], page


def _set_password(client, path, password, again=None):
    token = csrf_token(client, path)
    return client.post(path, data={"password": password, "password2": again or password, "csrf_token": token})


# --- the common-password list ----------------------------------------------------------------


def test_common_passwords_are_refused_case_insensitively_with_the_reason():
    assert len(passwords.common_passwords()) > 1000 and not any(
        w.startswith("#") for w in passwords.common_passwords()
    )
    for common in ("password123", "Password123", "QWERTYUIOP", "1234567890"):
        with pytest.raises(ValidationError, match="passwords people use most often"):
            passwords.check_password_rules(common)
    with pytest.raises(ValidationError, match="at least 10 characters"):
        passwords.check_password_rules("dragon")
    with pytest.raises(ValidationError, match="at most 256 characters"):
        passwords.check_password_rules("x" * 257)
    assert passwords.check_password_rules(NEW_PASSWORD) == NEW_PASSWORD


# --- invitations -------------------------------------------------------------------------------


def test_an_invitation_link_is_stored_hashed_works_once_and_signs_the_person_in(app, casey, db, group):
    path, page = _invite(casey, group)
    token = path.rsplit("/", 1)[1]
    assert "Text the link to +12025550188" in page
    with db.session() as s:
        row = s.scalar(select(StaffInvitation))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert (row.expires_at - row.created_at) == timedelta(hours=72)
        stored = " ".join(str(v) for v in s.execute(text("SELECT * FROM staff_invitations")).one())
    assert token not in stored

    robin = app.test_client()
    assert "Welcome, Robin" in robin.get(path).get_data(as_text=True)
    refused = _set_password(robin, path, "Password123")
    assert refused.status_code == 400
    assert "passwords people use most often" in refused.get_data(as_text=True)
    assert _set_password(robin, path, NEW_PASSWORD, "something else!").status_code == 400
    response = _set_password(robin, path, NEW_PASSWORD)  # the refusals spent nothing
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/console/account/two-factor"
    )
    assert robin.get("/console/members").status_code == 200  # signed in, not asked to change it again

    again = app.test_client().get(path)
    assert again.status_code == 410
    words = again.get_data(as_text=True)
    assert "already been used" in words and "Ask your coordinator" in words
    assert {"staff_added", "invite_sent", "invite_used", "signin"} <= set(_actions(db))


def test_an_expired_link_says_so_and_a_new_one_replaces_the_old(app, casey, db, group):
    path, _ = _invite(casey, group)
    with db.session() as s:
        row = s.scalar(select(StaffInvitation))
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        robin_id = row.staff_id
    expired = app.test_client().get(path)
    assert expired.status_code == 410
    assert "This link has expired. Ask your coordinator" in expired.get_data(as_text=True)
    staff_page = casey.get("/console/staff").get_data(as_text=True)
    assert "Has not chosen a password: the link expired." in staff_page

    fresh = _field(casey.post(f"/console/staff/{robin_id}/invite").get_data(as_text=True), "invite-link")
    second = _field(casey.post(f"/console/staff/{robin_id}/invite").get_data(as_text=True), "invite-link")
    replaced = app.test_client().get(fresh[fresh.index("/console/") :])
    assert replaced.status_code == 410 and "replaced by a newer one" in replaced.get_data(as_text=True)
    assert app.test_client().get(second[second.index("/console/") :]).status_code == 200
    assert app.test_client().get("/console/welcome/not-a-real-token").status_code == 404


def test_a_coordinator_can_cancel_a_link(app, casey, db, group):
    path, _ = _invite(casey, group)
    with db.session() as s:
        robin_id = s.scalar(select(StaffUser.id).where(StaffUser.email == "robin@example.org"))
    page = casey.post(f"/console/staff/{robin_id}/invite/revoke", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Robin&#39;s link is cancelled" in page
    cancelled = app.test_client().get(path)
    assert cancelled.status_code == 410 and "was cancelled" in cancelled.get_data(as_text=True)
    assert "invite_revoked" in _actions(db)


def test_the_link_can_be_texted_to_the_staff_phone_through_the_outbox(casey, db, group):
    path, page = _invite(casey, group)
    token = path.rsplit("/", 1)[1]
    with db.session() as s:
        robin_id = s.scalar(select(StaffUser.id).where(StaffUser.email == "robin@example.org"))
    response = casey.post(f"/console/staff/{robin_id}/invite/text", {"token": token})
    assert response.status_code == 302
    with db.session() as s:
        item = s.scalar(select(OutboxItem).where(OutboxItem.staff_id == robin_id))
        assert item.to_number == "+12025550188" and path in item.body and item.purpose == "staff_link"
    assert "invite_texted" in _actions(db)
    assert casey.post(f"/console/staff/{robin_id}/invite/text", {"token": "forged"}).status_code == 400


def test_link_lifetime_and_require_2fa_settings_are_validated(env):
    assert load_settings(dict(env, CHECKIN_INVITE_HOURS="24", CHECKIN_REQUIRE_2FA="1")).invite_hours == 24
    with pytest.raises(ConfigError) as caught:
        load_settings(dict(env, CHECKIN_INVITE_HOURS="3 days", CHECKIN_REQUIRE_2FA="maybe"))
    problems = dict(caught.value.problems)
    assert "whole number of hours from 1 to 720" in problems["CHECKIN_INVITE_HOURS"]
    assert "must be 1" in problems["CHECKIN_REQUIRE_2FA"]


# --- a password someone else set; one's own password -------------------------------------------------


def test_a_password_set_by_someone_else_must_be_changed_before_any_other_page(app, client, db):
    casey = make_staff(db, "Casey", "casey@example.org", "coordinator")
    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    with db.session() as s:
        accounts.set_password(
            s, s.get(StaffUser, frankie.id), "temporary password 1", by=s.get(StaffUser, casey.id)
        )
    assert sign_in(client, "frankie@example.org", "temporary password 1").status_code == 302
    for page in ("/console/", "/console/members", "/console/staff"):
        assert client.get(page).headers["Location"] == "/console/account/password"
    form = client.get("/console/account/password").get_data(as_text=True)
    assert "set by someone else" in form and "Inbox" not in form  # no way around it from the navigation
    token = csrf_token(client, "/console/account/password")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302  # signing out works

    assert sign_in(client, "frankie@example.org", "temporary password 1").status_code == 302
    token = csrf_token(client, "/console/account/password")
    assert (
        client.post(
            f"/console/staff/{frankie.id}/sign-out-everywhere", data={"csrf_token": token}
        ).status_code
        == 403
    )
    response = client.post(
        "/console/account/password",
        data={
            "current_password": "temporary password 1",
            "new_password": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/console/members").status_code == 200


def test_changing_ones_own_password_needs_the_current_one_and_signs_out_other_browsers(app, db):
    make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    laptop = Console(app.test_client(), "frankie@example.org")
    phone = Console(app.test_client(), "frankie@example.org")
    form = {
        "current_password": "not my password",
        "new_password": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    wrong = phone.post("/console/account/password", form)
    assert wrong.status_code == 400 and "current password is not right" in wrong.get_data(as_text=True)
    common = phone.post(
        "/console/account/password",
        dict(form, current_password=PASSWORD, new_password="qwertyuiop", new_password2="qwertyuiop"),
    )
    assert common.status_code == 400 and "passwords people use most often" in common.get_data(as_text=True)
    assert laptop.get("/console/").status_code == 200  # refusals change nothing

    assert phone.post("/console/account/password", dict(form, current_password=PASSWORD)).status_code == 302
    assert phone.get("/console/").status_code == 200  # this browser stays signed in
    assert laptop.get("/console/").status_code == 302  # the other one is signed out
    assert sign_in(app.test_client(), "frankie@example.org", NEW_PASSWORD).status_code == 302
    assert "password_changed" in _actions(db)


# --- the authenticator app -----------------------------------------------------------------------


def _enrol(console) -> tuple[str, list[str]]:
    page = console.get("/console/account/two-factor").get_data(as_text=True)
    assert "<svg" in page and "http" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
        "http://www.w3.org/2000/svg", ""
    )  # the QR code is drawn on the page, nothing fetched from elsewhere
    secret = _field(page, "totp-secret")
    assert re.fullmatch(r"([A-Z2-7]{4} )+[A-Z2-7]{4}", secret)
    secret = secret.replace(" ", "")
    assert re.search(
        r'id="totp-secret" class="secret"><span>[A-Z2-7]{4}</span> <span>', page
    )  # groups never break
    wrong = console.post("/console/account/two-factor?welcome=1", {"code": "000000"})
    said = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "does not match" in said
    assert "Skip for now" in said and "Back to your account" not in said  # still the welcome flow's way out
    done = console.post("/console/account/two-factor", {"code": pyotp.TOTP(secret).now()})
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10 == len(set(codes))
    assert 'data-copy="recovery-codes"' in done.get_data(as_text=True)  # a Copy codes button
    return secret, codes


def _sign_in_with_code(app, code, email="frankie@example.org", password=PASSWORD):
    client = app.test_client()
    first = sign_in(client, email, password)
    assert first.headers["Location"].startswith("/console/login/code"), first.headers
    assert client.get("/console/").status_code == 302  # the password alone did not sign in
    token = csrf_token(client, "/console/login/code")
    return client, client.post("/console/login/code", data={"code": code, "csrf_token": token})


def test_authenticator_app_enrolment_and_sign_in_with_a_code_or_a_recovery_code(app, db):
    make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    secret, codes = _enrol(Console(app.test_client(), "frankie@example.org"))
    with db.session() as s:
        raw = s.execute(
            text("SELECT totp_secret FROM staff_users WHERE email = 'frankie@example.org'")
        ).scalar()
        stored = " ".join(s.execute(text("SELECT code_hash FROM staff_recovery_codes")).scalars())
    assert secret.encode() not in bytes(raw)  # encrypted at rest
    assert not any(c in stored for c in codes)  # hashed

    totp = pyotp.TOTP(secret)
    client, response = _sign_in_with_code(app, totp.at(time.time() + 30))  # the next step: drift allowed
    assert response.status_code == 302 and client.get("/console/").status_code == 200

    _, reused = _sign_in_with_code(app, totp.at(time.time() + 30))  # the same code again
    words = reused.get_data(as_text=True)
    assert reused.status_code == 401 and "That code was just used. Wait for the next one" in words
    assert "not right" not in words

    code_page = app.test_client()
    sign_in(code_page, "frankie@example.org", PASSWORD)
    page = code_page.get("/console/login/code").get_data(as_text=True)
    # The app's 6 digits on a number pad; a recovery code (letters too) in its own text field.
    assert 'id="code" name="code" type="text" inputmode="numeric"' in page
    assert 'id="recovery-code" name="code" type="text" inputmode="text"' in page

    client, response = _sign_in_with_code(app, codes[3].upper())
    assert response.status_code == 302 and client.get("/console/").status_code == 200
    _, again = _sign_in_with_code(app, codes[3])
    assert again.status_code == 401
    actions = _actions(db)
    assert "2fa_on" in actions and actions.count("signin_code_failed") == 2
    with db.session() as s:
        details = list(s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "signin")))
    assert "with recovery code (9 left)" in details


def test_codes_are_accepted_one_step_either_side_and_no_further():
    secret = two_factor.new_secret()
    now = datetime(2026, 12, 7, 12, 0, 15, tzinfo=UTC)
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = totp.generate_otp(step + offset)
        assert (two_factor.matching_step(secret, code, now) == step + offset) is accepted, offset
    assert two_factor.matching_step(secret, "12345", now) is None
    assert two_factor.matching_step(secret, "abcdef", now) is None


def test_wrong_codes_lock_the_account_like_wrong_passwords(app, db):
    from checkin.adapters import redis_throttle as throttle

    make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    secret, _ = _enrol(Console(app.test_client(), "frankie@example.org"))
    client = app.test_client()
    sign_in(client, "frankie@example.org")
    token = csrf_token(client, "/console/login/code")
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert (
            client.post("/console/login/code", data={"code": "000000", "csrf_token": token}).status_code
            == 401
        )
    locked = client.post("/console/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert locked.status_code == 429 and "Too many wrong codes" in locked.get_data(as_text=True)


def test_guessing_the_current_password_on_the_account_page_locks_like_sign_in(app, db):
    from checkin.adapters import redis_throttle as throttle

    make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    stolen = Console(app.test_client(), "frankie@example.org")  # someone holding a signed-in session
    guess = {"current_password": "a guess 123", "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert stolen.post("/console/account/password", guess).status_code == 400
    locked = stolen.post("/console/account/password", dict(guess, current_password=PASSWORD))
    assert locked.status_code == 429 and "too many wrong passwords" in locked.get_data(as_text=True)
    assert sign_in(app.test_client(), "frankie@example.org", NEW_PASSWORD).status_code != 302  # not changed
    assert sign_in(app.test_client(), "frankie@example.org").status_code == 429  # the same counter


def test_a_coordinator_resets_someones_authenticator_app(app, casey, db):
    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    frankie_console = Console(app.test_client(), "frankie@example.org")
    _enrol(frankie_console)
    assert "Reset the authenticator app of Frankie" in casey.get("/console/staff").get_data(as_text=True)
    assert casey.post(f"/console/staff/{frankie.id}/two-factor/reset").status_code == 302
    assert frankie_console.get("/console/").status_code == 302  # signed out by the reset
    assert (
        sign_in(app.test_client(), "frankie@example.org").headers["Location"] == "/console/"
    )  # password only
    with db.session() as s:
        assert (
            s.scalar(select(AuditEvent.detail).where(AuditEvent.action == "2fa_reset"))
            == f"staff:{frankie.id}"
        )


def test_require_2fa_sends_coordinators_to_set_up_an_app_first(app, db, monkeypatch):
    runtime = app.extensions["checkin"]
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, require_2fa=True))
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    facilitator = app.test_client()
    sign_in(facilitator, "frankie@example.org")
    assert facilitator.get("/console/members").status_code == 200  # facilitators are not required

    coordinator = app.test_client()
    sign_in(coordinator, "casey@example.org")
    assert coordinator.get("/console/staff").headers["Location"] == "/console/account/two-factor"
    page = coordinator.get("/console/account/two-factor").get_data(as_text=True)
    assert "Coordinators must set up an authenticator app" in page and "Skip for now" not in page
    secret = _field(page, "totp-secret").replace(" ", "")
    token = csrf_token(coordinator, "/console/account/two-factor")
    done = coordinator.post(
        "/console/account/two-factor", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert done.status_code == 200
    assert coordinator.get("/console/staff").status_code == 200


def test_a_reset_link_does_not_get_round_the_authenticator_app(app, casey, db):
    frankie = make_staff(db, "Frankie", "frankie@example.org", "facilitator")
    secret, _ = _enrol(Console(app.test_client(), "frankie@example.org"))
    link = _field(casey.post(f"/console/staff/{frankie.id}/password").get_data(as_text=True), "invite-link")
    browser = app.test_client()
    response = _set_password(browser, link[link.index("/console/") :], NEW_PASSWORD)
    assert response.headers["Location"] == "/console/login"  # not signed in by the link alone
    assert browser.get("/console/").status_code == 302
    _, signed = _sign_in_with_code(app, pyotp.TOTP(secret).at(time.time() + 30), password=NEW_PASSWORD)
    assert signed.status_code == 302


def test_an_invited_facilitator_who_has_not_accepted_is_said_so_on_the_rota_and_the_paging_preview(
    app, casey, db, group
):
    path, _ = _invite(casey, group)
    waiting = "Robin (has not accepted the invitation yet)"
    staff_page = casey.get("/console/staff").get_data(as_text=True)
    assert "has not accepted the invitation yet: still paged by text and call, cannot sign in" in staff_page
    preview = casey.get(f"/console/groups/{group.id}/escalation-policy").get_data(as_text=True)
    assert waiting in preview  # paged (by phone), but nobody counts on them without knowing
    assert _set_password(app.test_client(), path, NEW_PASSWORD).status_code == 302
    assert "has not accepted" not in casey.get("/console/staff").get_data(as_text=True)
    preview = casey.get(f"/console/groups/{group.id}/escalation-policy").get_data(as_text=True)
    assert "Robin (on call)" in preview or "Robin and" in preview or "and Robin" in preview
    assert waiting not in preview

"""Console sign-in: passwords, sessions, throttling, CSRF, and the Twilio webhooks left alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.adapters import redis_throttle as throttle
from checkin.models import StaffUser
from tests.console_helpers import (  # noqa: F401
    PASSWORD,
    Console,
    cheap_password_hashing,
    csrf_token,
    make_staff,
    plain_http,
    sign_in,
)


@pytest.fixture
def coordinator(db):
    return make_staff(db, "Casey", "casey@example.org", "coordinator")


def test_pages_need_sign_in(client):
    response = client.get("/console/members")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=/console/members")


def test_password_is_stored_as_an_argon2_hash_and_sign_in_works(client, db, coordinator):
    with db.session() as s:
        stored = s.get(StaffUser, coordinator.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    response = sign_in(client, "Casey@Example.org")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    page = client.get("/console/").get_data(as_text=True)
    assert "Casey" in page and "Sign out" in page
    with db.session() as s:
        assert s.scalars(select(AuditEvent.action)).all() == ["signin"]


def test_real_hashing_uses_argon2id_with_rfc9106_low_memory_parameters():
    from checkin.accounts import passwords

    passwords.use_cheap_hashing_for_tests(False)
    stored = passwords.hash_password("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(stored, "a long enough password")
    assert not passwords.verify_password(stored, "a long enough passworD")


def test_an_unknown_email_costs_one_argon2_run_in_the_real_parameters():
    """The hash verified for an unknown email (so it takes as long as a wrong password) is written out, not
    computed: it must carry the live parameters, change with them, and match no password."""
    from argon2 import extract_parameters

    from checkin.accounts import passwords

    for cheap in (False, True):
        passwords.use_cheap_hashing_for_tests(cheap)
        real = passwords.hash_password("a long enough password")
        assert extract_parameters(passwords._DUMMY_HASH) == extract_parameters(real)
        assert not passwords.verify_password(passwords._DUMMY_HASH, "a long enough password")
        assert passwords._DUMMY_HASH.split("$")[-2:] != real.split("$")[-2:]
    passwords.burn_time("")  # an empty password still costs the run, and raises nothing


def test_short_passwords_are_refused():
    from checkin.accounts import passwords
    from checkin.directory import ValidationError

    with pytest.raises(ValidationError, match="at least 10 characters"):
        passwords.hash_password("short")


def test_wrong_password_is_refused_with_a_reason(client, coordinator):
    response = sign_in(client, "casey@example.org", "wrong password!")
    assert response.status_code == 401
    assert "Email or password is not right." in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_session_cookie_is_httponly_samesite_and_lasts_12_hours(client, coordinator):
    from email.utils import parsedate_to_datetime

    from checkin.db import utcnow

    before = utcnow()  # the session starts between `before` and `after`
    response = sign_in(client, "casey@example.org")
    after = utcnow()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert (expires - before).total_seconds() / 3600 > 11.9 and (expires - after).total_seconds() / 3600 <= 12


def test_session_cookie_is_secure_behind_https(app, settings):
    assert settings.public_base_url.startswith("https://")
    from webhooks import create_app

    assert create_app(runtime=app.extensions["checkin"]).config["SESSION_COOKIE_SECURE"] is True


def test_sign_out_ends_the_session(client, coordinator):
    console = Console(client, "casey@example.org")
    assert console.post("/console/logout").status_code == 302
    assert client.get("/console/").status_code == 302


def test_a_password_reset_ends_other_sessions(client, app, db, coordinator):
    console = Console(client, "casey@example.org")
    from checkin import accounts

    with db.session() as s:
        accounts.set_password(s, s.get(StaffUser, coordinator.id), "a brand new password")
    assert console.get("/console/").status_code == 302


def test_account_is_throttled_after_repeated_failures_even_with_the_right_password(client, coordinator):
    for _ in range(throttle.ACCOUNT_LIMIT):
        assert sign_in(client, "casey@example.org", "guess-guess-guess").status_code == 401
    response = sign_in(client, "casey@example.org")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_one_address_is_throttled_across_accounts(client, runtime, coordinator):
    # The test client's address is 127.0.0.1; all but the last failure counted directly (hashing is slow).
    for n in range(throttle.IP_LIMIT - 1):
        throttle.record_failure(runtime.redis, f"nobody{n}@example.org", "127.0.0.1")
    assert sign_in(client, "somebody@example.org", "guess-guess-guess").status_code == 401
    assert sign_in(client, "casey@example.org").status_code == 429


def test_a_good_sign_in_resets_the_account_count(client, coordinator):
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        sign_in(client, "casey@example.org", "guess-guess-guess")
    assert sign_in(client, "casey@example.org").status_code == 302
    client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    for _ in range(throttle.ACCOUNT_LIMIT - 1):
        sign_in(client, "casey@example.org", "guess-guess-guess")
    assert sign_in(client, "casey@example.org").status_code == 302


def test_forms_without_a_csrf_token_are_rejected(client, coordinator):
    response = client.post("/console/login", data={"email": "casey@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "Form not accepted" in response.get_data(as_text=True)
    Console(client, "casey@example.org")
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in


def test_next_never_leads_off_site(client, coordinator):
    token = csrf_token(client)
    response = client.post(
        "/console/login?next=//evil.example/x",
        data={"email": "casey@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/console/"


def test_twilio_webhooks_need_no_csrf_token(twilio, member):
    # Signed by Twilio instead; CSRF must not get in the way.
    response = twilio.sms(member.phone, "hello")
    assert response.status_code == 200
    assert "<Response" in response.get_data(as_text=True)


def test_unsigned_twilio_request_is_still_refused(client):
    assert client.post("/twilio/sms", data={"From": "+12025550101", "Body": "hi"}).status_code == 403


def test_console_pages_are_not_cached_framed_or_leaked_in_referrers(client, coordinator):
    Console(client, "casey@example.org")
    headers = client.get("/console/members").headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "default-src 'self'" in headers["Content-Security-Policy"]

"""Console sessions live on the server: signing out, a password reset or deactivation ends a copied
cookie too, and the cookie holds nothing derived from the password."""

import pytest
from sqlalchemy import select

from checkin.models import StaffUser
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401

COOKIE = "session"


@pytest.fixture
def people(db):
    return (
        make_staff(db, "Casey", "casey@example.org", "coordinator"),
        make_staff(db, "Frankie", "frankie@example.org", "facilitator", (), "+12025550177"),
    )


def copy_of_cookie(app, console):
    """A second browser holding a copy of `console`'s session cookie (as a stolen cookie would be)."""
    other = app.test_client()
    other.set_cookie(COOKIE, console.client.get_cookie(COOKIE).value)
    return other


def signed_in(client) -> bool:
    return client.get("/console/").status_code == 200


def test_a_copied_cookie_is_dead_after_sign_out(app, people):
    frankie = Console(app.test_client(), "frankie@example.org")
    thief = copy_of_cookie(app, frankie)
    assert signed_in(thief)  # the copy works while the session lives ...
    frankie.post("/console/logout")
    assert not signed_in(frankie.client)
    assert not signed_in(thief)  # ... and not after sign-out


def test_the_cookie_carries_a_token_not_the_password_hash(app, db, people):
    frankie = Console(app.test_client(), "frankie@example.org")
    raw = frankie.client.get_cookie(COOKIE).value
    content = app.session_interface.get_signing_serializer(app).loads(raw)
    with db.session() as s:
        password_hash = s.scalar(select(StaffUser.password_hash).where(StaffUser.name == "Frankie"))
    assert "staff_id" not in content and "pw" not in content
    for value in content.values():
        for start in range(len(password_hash) - 8):
            assert password_hash[start : start + 8] not in str(value)


def test_a_password_reset_ends_every_session_of_that_person(app, people):
    frankie_phone = Console(app.test_client(), "frankie@example.org")
    frankie_laptop = Console(app.test_client(), "frankie@example.org")
    casey = Console(app.test_client(), "casey@example.org")
    assert casey.post(f"/console/staff/{people[1].id}/password").status_code == 200
    assert not signed_in(frankie_phone.client) and not signed_in(frankie_laptop.client)
    assert signed_in(casey.client)


def test_deactivation_ends_their_sessions(app, people):
    frankie = Console(app.test_client(), "frankie@example.org")
    casey = Console(app.test_client(), "casey@example.org")
    casey.post(f"/console/staff/{people[1].id}/active", data={"active": "no"})
    assert not signed_in(frankie.client)


def test_the_staff_page_lists_browsers_and_signs_out_everywhere(app, people):
    chrome = {
        "User-Agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"
    }
    frankie_client = app.test_client()
    frankie_client.environ_base.update(HTTP_USER_AGENT=chrome["User-Agent"])
    frankie = Console(frankie_client, "frankie@example.org")
    casey = Console(app.test_client(), "casey@example.org")
    page = casey.get("/console/staff").get_data(as_text=True)
    assert "Chrome on Android" in page and "Sign out everywhere: Frankie" in page
    response = casey.post(f"/console/staff/{people[1].id}/sign-out-everywhere")
    assert response.status_code == 302
    assert not signed_in(frankie.client)
    assert signed_in(casey.client)


def test_a_facilitator_cannot_sign_someone_else_out(app, people):
    frankie = Console(app.test_client(), "frankie@example.org")
    casey = Console(app.test_client(), "casey@example.org")
    assert frankie.post(f"/console/staff/{people[0].id}/sign-out-everywhere").status_code == 403
    assert signed_in(casey.client)
    # ... but may sign themselves out everywhere (a lost phone).
    assert frankie.post(f"/console/staff/{people[1].id}/sign-out-everywhere").status_code == 302
    assert not signed_in(frankie.client)


def test_https_deployments_tell_browsers_to_stay_on_https(client):
    # The test settings' PUBLIC_BASE_URL is https://checkin.example.org.
    response = client.get("/console/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")

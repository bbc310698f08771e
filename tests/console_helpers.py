"""Helpers for the console's view tests: staff who can sign in, and a client that signs in with a CSRF token."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from checkin.accounts.passwords import hash_password
from checkin.directory import add_staff

PASSWORD = "correct-horse-battery"
# A group's plan form as a coordinator sends it, every field valid; a test changes the ones it is about.
PLAN_FORM = {
    "reminders": "24",
    "prompt_days_after": "2",
    "prompt_time": "10:00",
    "nudge_after_hours": "24",
    "quiet_start": "08:00",
    "quiet_end": "21:00",
    "prompt_stale_hours": "12",
}


@pytest.fixture(autouse=True)
def cheap_password_hashing():
    """Import into a test module to use argon2's cheapest parameters there (and plain-http cookies)."""
    from checkin.accounts import passwords

    passwords.use_cheap_hashing_for_tests()
    yield
    passwords.use_cheap_hashing_for_tests(False)


@pytest.fixture(autouse=True)
def plain_http(app):
    """The test client speaks http://; the session cookie is Secure only behind https (see create_app)."""
    app.config["SESSION_COOKIE_SECURE"] = False


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_staff(db, name, email, role, groups=(), phone=None):
    with db.session() as s:
        return add_staff(s, name, email, role, phone, list(groups), password_hash=hash_password(PASSWORD))


def csrf_token(client, path="/console/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _TOKEN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client, email, password=PASSWORD, **kw):
    token = csrf_token(client)
    return client.post(
        "/console/login", data={"email": email, "password": password, "csrf_token": token}, **kw
    )


class Console:
    """A test client signed in as one staff user, posting forms with a valid CSRF token."""

    def __init__(self, client, email):
        self.client = client
        response = sign_in(client, email)
        assert response.status_code == 302, response.get_data(as_text=True)
        self.token = csrf_token(client, "/console/")

    def get(self, path, **kw):
        return self.client.get(path, **kw)

    def post(self, path, data=None, **kw):
        return self.client.post(path, data=dict(data or {}, csrf_token=self.token), **kw)


CRISIS_TEXT = "I want to kill myself tonight"
URGENT_TEXT = "I have been feeling hopeless and cannot cope"
OTHER_GROUP_NUMBER = "+15005550009"


class World:
    """Two groups, a member and a live escalation in each, a coordinator and a facilitator of the first group only."""

    def __init__(self, db, twilio, group, member):
        from checkin.directory import add_group, add_member
        from checkin.escalation.models import Escalation

        self.group, self.member = group, member
        with db.session() as s:
            self.other_group = add_group(s, "Thursday Group", "America/Chicago", OTHER_GROUP_NUMBER)
            self.other_member = add_member(s, "Thursday Group", "+12025550133", "Olive Other")
        self.coordinator = make_staff(db, "Casey", "casey@example.org", "coordinator")
        self.facilitator = make_staff(
            db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177"
        )
        self.other_facilitator = make_staff(
            db, "Otto", "otto@example.org", "facilitator", ["Thursday Group"], "+12025550178"
        )
        # Escalations opened the real way: a member's text through the signed webhook.
        assert twilio.sms(member.phone, CRISIS_TEXT).status_code == 200
        assert twilio.sms(self.other_member.phone, URGENT_TEXT, to=OTHER_GROUP_NUMBER).status_code == 200
        with db.session() as s:
            self.escalation = s.scalar(select(Escalation).where(Escalation.member_id == member.id))
            self.other_escalation = s.scalar(
                select(Escalation).where(Escalation.member_id == self.other_member.id)
            )
        assert self.escalation.level == "crisis" and self.other_escalation.level == "urgent"
        # A shift for Frankie (every day, all day: on call as before) that a coordinator may remove.
        from datetime import time

        from checkin import rota
        from checkin.models import GroupStaff

        with db.session() as s:
            self.window = rota.add_weekly(
                s, s.get(GroupStaff, (group.id, self.facilitator.id)), list(range(1, 8)), time(0), time(0)
            )
            s.commit()

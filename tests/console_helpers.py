"""Helpers for the console's view tests: staff who can sign in, and a client that signs in with a CSRF token."""

from __future__ import annotations

import re

from checkin.accounts.passwords import hash_password
from checkin.directory import add_staff

PASSWORD = "correct-horse-battery"
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
    return client.post("/console/login", data={"email": email, "password": password, "csrf_token": token}, **kw)


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

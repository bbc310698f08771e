"""Browser tests: the console served by a real WSGI server on localhost, driven by Debian's Chromium.

Fixtures (shared with the planning pages' tests):
- `console_server`: the app on http://127.0.0.1:<port> against the test database, with a
  coordinator and a facilitator who can sign in (see ConsoleServer).
- `browser_page`: a Playwright page signed in as the coordinator; `anonymous_page`: one signed out.
- `screenshot(page, name)`: saves tests/screenshots/<name>-phone.png and -desktop.png (git-ignored).
- `tests.browser.plain_words.assert_plain_words(page)`: fails if the text a person sees on the page has an
  RRULE, a config/ path, a {placeholder} or a rule id (closed <details> and form values are not read).
`make test` installs Chromium and Playwright; without them the browser tests fail, saying what is missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHECKIN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

COORDINATOR = ("Casey Coordinator", "casey@example.org", "coordinator-pass-1")
FACILITATOR = ("Frankie Facilitator", "frankie@example.org", "facilitator-pass-1", "+12025550177")


def _missing(what: str):
    pytest.fail(what, pytrace=False)


@dataclass
class ConsoleServer:
    base_url: str
    runtime: object
    coordinator_email: str
    facilitator_email: str
    password_by_email: dict

    @property
    def db(self):
        return self.runtime.db

    def url(self, path: str) -> str:
        return self.base_url + path

    def sign_in(self, page, email: str | None = None) -> None:
        email = email or self.coordinator_email
        page.goto(self.url("/console/login"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(self.password_by_email[email])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(self.url("/console/"))


@pytest.fixture(autouse=True)
def _cheap_password_hashing():
    from checkin.accounts import passwords

    passwords.use_cheap_hashing_for_tests()
    yield
    passwords.use_cheap_hashing_for_tests(False)


@pytest.fixture(scope="session")
def _browser():
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright for Python is not installed (pip install -e '.[test]')")
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)  # as the pages' default below: bounds a hang, not a speed limit
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_server(live_app, group):
    """The live app (conftest's live_app: a real server on a localhost port) with staff who can sign in."""
    from checkin.accounts.passwords import hash_password
    from checkin.directory import add_staff

    with live_app.db.session() as s:
        name, email, password = COORDINATOR
        add_staff(s, name, email, "coordinator", password_hash=hash_password(password))
        name, f_email, f_password, phone = FACILITATOR
        add_staff(
            s, name, f_email, "facilitator", phone, [group.name], password_hash=hash_password(f_password)
        )
    return ConsoleServer(
        live_app.settings.public_base_url, live_app, email, f_email, {email: password, f_email: f_password}
    )


@pytest.fixture
def anonymous_page(_browser, console_server):
    context = _browser.new_context(viewport=DESKTOP, base_url=console_server.base_url)
    page = context.new_page()
    page.set_default_timeout(60_000)  # bounds a hang; a loaded machine renders slowly
    yield page
    context.close()


@pytest.fixture
def browser_page(anonymous_page, console_server):
    console_server.sign_in(anonymous_page)
    return anonymous_page


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> list[Path]:
        paths = []
        before = page.viewport_size
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(size)
            path = SCREENSHOTS / f"{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        page.set_viewport_size(before or DESKTOP)
        return paths

    return take


def crisis_text_from_a_member(console_server, group):
    """Sam Rivera joins the group and texts a crisis through a signed webhook to the live server's app; returns the case."""
    from sqlalchemy import select

    from checkin.directory import add_member
    from checkin.escalation.models import Escalation
    from tests.conftest import FROM_NUMBER, TwilioWebhook
    from tests.console_helpers import CRISIS_TEXT
    from webhooks import create_app

    with console_server.db.session() as s:
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
    webhook = TwilioWebhook(
        create_app(runtime=console_server.runtime).test_client(), console_server.runtime.settings
    )
    assert webhook.sms(sam.phone, CRISIS_TEXT, to=FROM_NUMBER).status_code == 200
    with console_server.db.session() as s:
        return s.scalar(select(Escalation).where(Escalation.member_id == sam.id))

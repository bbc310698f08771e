"""The simulator on SQLite, as `make run` has it (web, worker and cron processes on one file): a text is
answered while other writers come and go, and a failure gives the typed message back."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from tests.browser.conftest import COORDINATOR, DESKTOP

CRISIS_TEXT = "I am going to kill myself tonight"


@pytest.fixture
def laptop(env, tmp_path, redis_url):
    """The console served from a SQLite file, with a coordinator, a group and a member: (base, runtime, path)."""
    from werkzeug.serving import make_server

    from checkin.accounts.passwords import hash_password
    from checkin.bootstrap import Runtime
    from checkin.directory import add_group, add_member, add_staff
    from config import load_settings
    from migrations import upgrade
    from webhooks import create_app

    path = tmp_path / "laptop.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    server = make_server("127.0.0.1", 0, None, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    runtime = Runtime.build(load_settings(dict(env, DATABASE_URL=url, PUBLIC_BASE_URL=base)))
    with runtime.db.session() as s:
        name, email, password = COORDINATOR
        add_staff(s, name, email, "coordinator", password_hash=hash_password(password))
        group = add_group(s, "Laptop Group", "America/New_York", "+15005550006")
        add_member(s, group.name, "+12025550101", "Sam Rivera")
    server.app = create_app(runtime=runtime)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, runtime, path
    server.shutdown()
    runtime.db.dispose()


@pytest.fixture
def page(_browser, laptop):
    base, _runtime, _path = laptop
    context = _browser.new_context(viewport=DESKTOP, base_url=base)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto("/console/login")
    page.get_by_label("Email").fill(COORDINATOR[1])
    page.get_by_label("Password").fill(COORDINATOR[2])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/console/")
    yield page
    context.close()


def _text(page, words: str) -> None:
    page.goto("/console/simulator")
    page.get_by_label("Text as").select_option(label="Sam Rivera")
    page.get_by_label("Message").fill(words)
    page.get_by_role("button", name="Send").click()


def test_a_text_is_answered_when_the_staff_members_session_was_last_seen_a_while_ago(page, laptop):
    """Noting the session's use (once a minute) wrote in the request's transaction and held SQLite's write lock
    through the simulator's run on its own connection: every text failed with "database is locked"."""
    from checkin.accounts.models import StaffSession
    from checkin.db import utcnow

    _base, runtime, _path = laptop
    with runtime.db.session() as s:
        s.execute(update(StaffSession).values(last_seen_at=utcnow() - timedelta(minutes=5)))
    _text(page, CRISIS_TEXT)
    thread = page.locator(".thread")
    expect(thread).to_contain_text("988")
    expect(page.locator(".alerts")).to_contain_text("crisis")
    with runtime.db.session() as s:  # and the use was noted
        seen = s.scalar(StaffSession.__table__.select().with_only_columns(StaffSession.last_seen_at))
    assert utcnow() - seen < timedelta(minutes=1)


def test_a_text_waits_for_another_process_that_is_writing(page, laptop):
    """Another process (the worker, the cron) holds the write lock when the text arrives: the simulator
    waits its turn, where it used to fail at once with "database is locked"."""
    _base, _runtime, path = laptop
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE groups SET name = name")
    release = threading.Timer(3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        _text(page, CRISIS_TEXT)
        expect(page.locator(".thread")).to_contain_text("988")
    finally:
        release.join()
        other.close()


def test_a_failed_run_gives_the_typed_message_back_with_the_conversation(page, laptop, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from webhooks.console import views_simulator

    _text(page, "hello")
    expect(page.locator(".thread .bubble.mine")).to_have_count(1)
    real_run = views_simulator.run

    def locked(*args, **kwargs):
        raise OperationalError("INSERT INTO members ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(views_simulator, "run", locked)
    page.get_by_label("Message").fill("i took all my pills")
    page.get_by_role("button", name="Send").click()
    alert = page.locator("#sim-error")
    expect(alert).to_contain_text("The database stayed busy")
    expect(alert).to_contain_text("Nothing was sent or kept")
    expect(page.get_by_label("Message")).to_have_value("i took all my pills")
    expect(page.locator(".thread")).to_contain_text("hello")  # the conversation so far, still there

    monkeypatch.setattr(views_simulator, "run", real_run)
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".thread .bubble.mine")).to_have_count(2)
    expect(page.locator(".thread")).to_contain_text("988")

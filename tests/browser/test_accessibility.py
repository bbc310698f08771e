"""axe-core (node_modules/axe-core, pinned by package-lock.json) on every console page, WCAG 2.1 A and AA.

The pages are not listed by hand: every GET route of the console blueprint in the app's url_map is
visited, its <placeholders> filled from seeded data by the placeholder's name, so a page another
engineer adds later is checked without anyone remembering to. A route whose placeholder has no
seeded value, or that answers with something other than a page, fails the test by name: seed a value
for it in the `seeded` fixture (by placeholder name), or add the route to NOT_PAGES with the reason.

One browser context, page after page: the coordinator sees every page, the facilitator every page
they may open, and a handful of key pages again at 390x844. The coordinator's key pages are saved as
PNGs at 1280 px for the README (docs/console/ when CHECKIN_UPDATE_DOCS=1, else tests/screenshots/).
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from tests.browser.plain_words import engineering_words, visible_text

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
DOCS = REPO / "docs" / "console"
SCRATCH = REPO / "tests" / "screenshots"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Console GET routes that are not pages a person reads (endpoint: what it is instead).
NOT_PAGES = {
    "console.static": "CSS, JavaScript and images",
    "console.calendar": "an iCalendar feed for calendar apps",
    "console.announcement_progress": "JSON polled by the announcement page",
    "console.members_import_status": "JSON polled by the import page",
    "console.live": "JSON polled by the inbox for new messages",
    "console.members_import_template": "the roster template, a CSV download",
    # A refused form's POST address, reloaded: a redirect to the form's page (checked as that page).
    "console.group_form_page": "a redirect to the group's page",
    "console.member_reply_page": "a redirect to the conversation",
    "console.staff_new_page": "a redirect to the invite form",
    "console.reports_export_page": "a redirect to the group's report",
    "console.announce_preview_page": "a redirect to the announcement form",
}
# The pages a signed-out visitor sees.
SIGNED_OUT = {"console.login", "console.welcome"}
# Key pages, checked again at phone width.
KEY_PAGES = {
    "console.home",
    "console.groups",
    "console.group",
    "console.plan",
    "console.members",
    "console.member",
    "console.escalation",
    "console.inbox",
    "console.staff",
    "console.simulator",
}
# Photographed for the README at 1280x800 (endpoint: file name in docs/console/).
PHOTOS = {
    "console.home": "home",
    "console.members": "members",
    "console.member": "member",
    "console.group": "group",
    "console.plan": "plan",
    "console.escalation": "escalation",
    "console.inbox": "inbox",
    "console.members_import_job": "import-dry-run",
    "console.escalation_policy": "escalation-policy",
    "console.reports": "reports",
}
_PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([A-Za-z_]\w*)>")


@pytest.fixture
def seeded(console_server, group):
    """One of everything a console page can be about: members, a crisis escalation, an announcement,
    an import job. Returns the values for each route placeholder, by name."""
    from checkin import accounts
    from checkin.announcements import service as announcements
    from checkin.directory import add_member, add_staff
    from checkin.escalation.models import Escalation
    from checkin.models import Group, StaffUser
    from checkin.schedules import set_schedule
    from tests.conftest import FROM_NUMBER, TwilioWebhook
    from tests.console_helpers import CRISIS_TEXT
    from webhooks import create_app
    from webhooks.console import imports

    runtime = console_server.runtime
    with runtime.db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(18, 30),
            duration_minutes=90,
            starts_on=date(2026, 1, 6),
            location="Grace Church hall, 1250 Main St",
        )
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera")
        add_member(s, group.name, "+12025550102", "Rosa Medina", language="es")
    app = create_app(runtime=runtime)
    webhook = TwilioWebhook(app.test_client(), runtime.settings)
    assert webhook.sms(sam.phone, "4 a good week, walked every day", to=FROM_NUMBER).status_code == 200
    assert webhook.sms(sam.phone, CRISIS_TEXT, to=FROM_NUMBER).status_code == 200
    with runtime.db.session() as s:
        escalation = s.scalar(select(Escalation).where(Escalation.member_id == sam.id))
        coordinator = s.scalar(select(StaffUser).where(StaffUser.email == console_server.coordinator_email))
        announcement, _ = announcements.send(
            s,
            s.get(Group, group.id),
            "No meeting next Tuesday: the hall is closed.",
            "No hay reunión el próximo martes: el salón está cerrado.",
            request_key="a11y-announcement",
            staff_id=coordinator.id,
        )
        ids = {
            "group_id": group.id,
            "member_id": sam.id,
            "escalation_id": escalation.id,
            "announcement_id": announcement.id,
            "staff_id": coordinator.id,
        }
        # An invitation's link, for the page an invited person opens first (signed out).
        invitee = add_staff(s, "Ivy Invited", "ivy@example.org", role="facilitator")
        _, ids["token"] = accounts.invite(s, invitee, by=coordinator, lifetime=timedelta(hours=72))
    row = {"group": group.name, "phone": "+12025550103", "name": "Ana Diaz", "language": "es"}
    data = ("group,phone,name,language\n" + ",".join(row.values()) + "\n").encode()
    ids["job_id"] = imports.start(runtime, data, [row], ids["staff_id"], "members.csv", date.today())
    return app, ids


def _pages(app, ids) -> tuple[list[tuple[str, str]], list[str]]:
    """(endpoint, path) for every console GET page, and the routes it could not fill, in words."""
    pages, unknown = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("console.") or "GET" not in rule.methods:
            continue
        if rule.endpoint in NOT_PAGES:
            continue
        missing = sorted(set(rule.arguments) - set(ids))
        if missing:
            unknown.append(
                f"{rule.rule} ({rule.endpoint}): no seeded value for <{'>, <'.join(missing)}>; "
                "add one to `seeded` in tests/browser/test_accessibility.py, or the route to NOT_PAGES"
            )
            continue
        pages.append((rule.endpoint, _PLACEHOLDER.sub(lambda m: str(ids[m.group(1)]), rule.rule)))
    return pages, unknown


def _axe(page) -> list[str]:
    """axe's WCAG 2.1 A/AA violations on the page as it is, one line each."""
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(json.dumps(n["target"][-1]) for n in v["nodes"][:4])
        + (f" and {len(v['nodes']) - 4} more" if len(v["nodes"]) > 4 else "")
        for v in result["violations"]
    ]


def _check(page, url: str, who: str, problems: list[str], *, allow_refusal: bool = False) -> bool:
    """Open one page and run axe; False if this visitor may not open it (with allow_refusal)."""
    try:
        response = page.goto(url)
    except PlaywrightError as exc:  # a file download ("Download is starting"), a crash
        problems.append(f"{who} {url}: did not open as a page ({exc.message.splitlines()[0]}): NOT_PAGES?")
        return False
    status = response.status if response else 0
    if allow_refusal and status in (401, 403, 404):
        return False
    kind = (response.headers.get("content-type", "") if response else "").split(";")[0]
    if status != 200 or kind != "text/html":
        problems.append(f"{who} {url}: answered {status} {kind!r}, not a page (add it to NOT_PAGES?)")
        return False
    page.wait_for_load_state("load")
    problems += [f"{who} {url}: {line}" for line in _axe(page)]
    # Issue 16: no RRULE, config/ path, {placeholder} or rule id where a person reads (closed
    # toggles and form values aside), on every page this walk opens.
    problems += [f"{who} {url}: engineering words: {w}" for w in engineering_words(visible_text(page))]
    return True


def _photograph(page, name: str) -> None:
    """The viewport only, at CSS pixels (1280 wide), so the README's pictures stay small (optipng
    makes them smaller still before they are committed)."""
    folder = DOCS if os.environ.get("CHECKIN_UPDATE_DOCS") == "1" else SCRATCH
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), scale="css", full_page=False)


def test_every_console_page_has_no_axe_violations(anonymous_page, console_server, seeded):
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(REPO)} is missing: run `make node` (npm ci)", pytrace=False)
    app, ids = seeded
    pages, unknown = _pages(app, ids)
    assert not unknown, "console routes the accessibility test cannot fill:\n  " + "\n  ".join(unknown)
    page, problems = anonymous_page, []
    page.set_viewport_size(DESKTOP)
    # Injected before each page's own scripts, as the browser's, so the console's CSP (no inline
    # scripts) needs no loosening for the test.
    page.add_init_script(path=str(AXE))

    for endpoint, path in pages:
        if endpoint in SIGNED_OUT:
            _check(page, console_server.url(path), "signed out", problems)

    console_server.sign_in(page)
    for endpoint, path in pages:
        if endpoint in SIGNED_OUT:
            continue
        _check(page, console_server.url(path), "coordinator", problems)
        if endpoint in PHOTOS:
            _photograph(page, PHOTOS[endpoint])

    page.set_viewport_size(PHONE)
    key = [(endpoint, path) for endpoint, path in pages if endpoint in KEY_PAGES]
    assert len(key) == len(KEY_PAGES), "a key page is gone from the console: update KEY_PAGES"
    for _, path in key:
        _check(page, console_server.url(path), "coordinator at 390x844", problems)

    page.set_viewport_size(DESKTOP)
    page.context.clear_cookies()
    console_server.sign_in(page, console_server.facilitator_email)
    seen = [
        path
        for endpoint, path in pages
        if endpoint not in SIGNED_OUT
        and _check(page, console_server.url(path), "facilitator", problems, allow_refusal=True)
    ]
    assert len(seen) >= 5, f"the facilitator could open only {seen}"

    assert not problems, f"{len(problems)} accessibility problems:\n  " + "\n  ".join(problems)


def test_a_console_page_the_check_cannot_fill_is_named_not_skipped():
    from flask import Blueprint, Flask

    console = Blueprint("console", __name__)
    console.add_url_rule("/console/groups/<int:group_id>/report", "report", lambda group_id: "")
    console.add_url_rule("/console/policies/<int:policy_id>", "policy", lambda policy_id: "")
    console.add_url_rule(
        "/console/staff/<int:staff_id>/invite", "invite", lambda staff_id: "", methods=["POST"]
    )
    app = Flask(__name__)
    app.register_blueprint(console)

    pages, unknown = _pages(app, {"group_id": 7})

    assert ("console.report", "/console/groups/7/report") in pages  # a new page is checked unasked
    assert len(unknown) == 1 and unknown[0].startswith(
        "/console/policies/<int:policy_id> (console.policy): no seeded value for <policy_id>"
    )

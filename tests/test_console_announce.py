"""The announcement pages as a coordinator uses them: write, preview who gets it and when, send once (a
second press of the same form sends nothing more), watch the counts; a refusal says why and stores nothing;
facilitators cannot announce, and another group's announcement is 404."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from checkin.announcements.models import Announcement
from checkin.db import utcnow
from checkin.models import Member, OutboxItem
from tests.conftest import zone_where_it_is
from tests.console_helpers import Console, make_staff


@pytest.fixture
def coordinator(app, client, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    return Console(client, "casey@example.org")


@pytest.fixture
def people(db, group):
    from checkin.directory import add_member

    now = utcnow()
    with db.session() as s:
        sam = add_member(s, group.name, "+12025550101", "Sam Rivera", timezone=zone_where_it_is(12, now))
        rosa = add_member(s, group.name, "+12025550102", "Rosa Medina", "es", zone_where_it_is(3, now))
        ana = add_member(s, group.name, "+12025550103", "Ana Ruiz")
        s.get(Member, ana.id).status = "opted_out"
        return sam, rosa, ana


def text(response) -> str:
    return response.get_data(as_text=True)


def form_key(page: str) -> str:
    return re.search(r'name="request_key" value="([0-9a-f]{32})"', page).group(1)


def test_preview_then_send_twice_sends_once_and_the_progress_counts(coordinator, db, group, people):
    page = text(coordinator.get(f"/console/groups/{group.id}/announce"))
    key = form_key(page)
    words = {"text_en": "No meeting tonight.", "text_es": "No hay reunion hoy.", "request_key": key}
    preview = coordinator.post(f"/console/groups/{group.id}/announce/preview", words)
    assert preview.status_code == 200
    body = text(preview)
    assert "2 members get it: 1 now; 1 at their morning (quiet hours; first at " in body
    # written as the console writes times elsewhere: "Mon, Dec 7, 8:00 am CST"
    assert re.search(r"first at [A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}, \d{1,2}:\d\d [ap]m \S+\)", body)
    assert " UTC" not in body  # one clock on the page: the group's and each member's own
    assert "1 skipped (opted out)" in body and "skipped: opted out" in body
    assert "Send to 2 members" in body and form_key(body) == key
    # What each member reads, stop wording included, in each language.
    assert '<dd class="body" id="body-en">Tuesday Group: No meeting tonight. Reply STOP to stop.</dd>' in body
    assert '<dd class="body" id="body-es">Tuesday Group: No hay reunion hoy. BAJA para parar.</dd>' in body
    with db.session() as s:  # a preview writes nothing
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0

    first = coordinator.post(f"/console/groups/{group.id}/announce", words)
    second = coordinator.post(f"/console/groups/{group.id}/announce", words)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Announcement)) == 1
        rows = s.execute(select(OutboxItem.to_number, OutboxItem.body).order_by(OutboxItem.to_number)).all()
    assert rows == [
        ("+12025550101", "Tuesday Group: No meeting tonight. Reply STOP to stop."),
        ("+12025550102", "Tuesday Group: No hay reunion hoy. BAJA para parar."),
    ]
    # The form sent, then changed with the browser's Back and sent again: refused, the words kept, and a
    # new key so that previewing again sends them as a new announcement.
    changed = coordinator.post(
        f"/console/groups/{group.id}/announce", dict(words, text_en="Meeting at 7 instead.")
    )
    assert changed.status_code == 400
    assert "this form was already sent, with other words, as announcement 1" in text(changed)
    assert "Meeting at 7 instead.</textarea>" in text(changed) and form_key(text(changed)) != key
    status = coordinator.get(first.headers["Location"])
    assert status.status_code == 200 and 'id="announce-bar"' in text(status)
    assert "Tuesday Group: No hay reunion hoy. BAJA para parar.</dd>" in text(status)
    progress = coordinator.get(first.headers["Location"] + "/progress").get_json()
    assert progress == dict(total=2, waiting=2, sent=0, delivered=0, failed=0, cancelled=0, done=0, percent=0)


def test_a_refused_announcement_says_why_and_keeps_the_words(coordinator, db, group, people):
    words = {"text_en": "No meeting tonight.", "text_es": "", "request_key": "k" * 32}
    for path in ("/announce/preview", "/announce"):
        response = coordinator.post(f"/console/groups/{group.id}{path}", words)
        assert response.status_code == 400
        assert "Tuesday Group has 1 Spanish-speaking member: write the Spanish text too" in text(response)
        assert "No meeting tonight.</textarea>" in text(response)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Announcement)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_each_refused_text_is_marked_at_its_own_box_all_at_once(coordinator, group, people):
    import re

    words = {"text_en": "x" * 601, "text_es": "", "request_key": "k" * 32}
    page = text(coordinator.post(f"/console/groups/{group.id}/announce/preview", words))
    errors = dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">(.*?)</p>', page))
    assert errors == {
        "text_en": "The English text is 601 characters; at most 600",
        "text_es": "Tuesday Group has 1 Spanish-speaking member: write the Spanish text too",
    }
    assert "There are 2 problems to fix" in page
    assert re.search(r'id="text_es"[^>]*aria-invalid="true" aria-describedby="text_es-error c-es"', page)
    words["text_en"] = "No meeting tonight."
    page = text(coordinator.post(f"/console/groups/{group.id}/announce/preview", words))
    assert 'id="text_es-error"' in page and "text_en-error" not in page  # the filled box is not marked
    assert not re.search(r'id="text_en"[^>]*aria-invalid', page)


def test_facilitators_cannot_announce_and_other_groups_are_404(app, client, db, group, people, coordinator):
    from checkin.directory import add_group

    with db.session() as s:
        other = add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
    words = {"text_en": "Hi", "text_es": "Hola", "request_key": "a" * 32}
    sent = coordinator.post(f"/console/groups/{group.id}/announce", words)
    # The same key posted to another group's form is not that group's announcement.
    assert coordinator.post(f"/console/groups/{other.id}/announce", words).status_code == 400
    location = sent.headers["Location"]
    assert (
        coordinator.get(location.replace(f"/groups/{group.id}/", f"/groups/{other.id}/")).status_code == 404
    )
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [other.name], phone="+12025550177")
    facilitator = Console(app.test_client(), "frankie@example.org")
    assert facilitator.get(f"/console/groups/{other.id}/announce").status_code == 403
    assert (
        facilitator.post(
            f"/console/groups/{other.id}/announce", dict(words, request_key="b" * 32)
        ).status_code
        == 403
    )
    assert facilitator.get(location).status_code == 404  # not their group

"""Group announcements: write (English, and Spanish when the group has Spanish speakers), preview who gets it
and when, send once, and watch it go out (a progress bar that polls its counts).

The form carries a random send key from the moment it is shown: pressing send twice, or resubmitting
after a slow answer, finds the announcement the first press wrote (checkin.announcements.send)."""

from __future__ import annotations

import uuid

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from checkin.accounts import audit
from checkin.announcements import service as announcements
from checkin.announcements.models import Announcement
from checkin.announcements.service import AnnouncementError
from checkin.db import utcnow
from webhooks.console import (
    bp,
    client_ip,
    coordinator_required,
    current_staff,
    db,
    forms,
    group_visible,
    login_required,
)

PREVIEW_ROWS = 200  # members listed on the preview page; the summary counts them all


def _form() -> dict:
    form = request.form
    return {
        "text_en": form.get("text_en", ""),
        "text_es": form.get("text_es", ""),
        "request_key": (form.get("request_key") or "").strip(),
    }


def _refused(group, form, exc: AnnouncementError):
    """The form again with what was typed: each text's mistakes at that text (forms.Problems, all at
    once); a mistake about the whole form (its send key, nobody to send to) above it."""
    problems = forms.Problems()
    for each in exc.all:
        if each.field:
            problems.add(each.field, str(each), named=True)
    general = next((str(e) for e in exc.all if not e.field), None)
    return _page(group, form, general, 400, problems=problems.fields)


def _page(group, form=None, error=None, status=200, problems=None):
    form = form or {"text_en": "", "text_es": "", "request_key": uuid.uuid4().hex}
    past = db().scalars(
        select(Announcement)
        .where(Announcement.group_id == group.id)
        .order_by(Announcement.id.desc())
        .limit(10)
    )
    return render_template(
        "console/announce.html",
        group=group,
        form=form,
        error=error,
        problems=problems or {},
        past=list(past),
        stop=announcements.STOP_EXAMPLE,
    ), status


@bp.get("/groups/<int:group_id>/announce")
@coordinator_required
def announce(group_id: int):
    return _page(group_visible(group_id))


@bp.get("/groups/<int:group_id>/announce/preview")
@coordinator_required
def announce_preview_page(group_id: int):
    """The preview's address, reloaded: the announcement form, not "Method Not Allowed"."""
    return redirect(url_for("console.announce", group_id=group_id))


@bp.post("/groups/<int:group_id>/announce/preview")
@coordinator_required
def announce_preview(group_id: int):
    group, form = group_visible(group_id), _form()
    try:
        planned = announcements.preview(db(), group, form["text_en"], form["text_es"])
    except AnnouncementError as exc:
        return _refused(group, form, exc)
    return render_template(
        "console/announce_preview.html",
        group=group,
        form=form,
        planned=planned,
        shown=PREVIEW_ROWS,
        bodies=announcements.bodies_for(group.name, form["text_en"], form["text_es"]),
    )


@bp.post("/groups/<int:group_id>/announce")
@coordinator_required
def announce_send(group_id: int):
    group, form = group_visible(group_id), _form()
    runtime = current_app.extensions["checkin"]
    staff = current_staff()
    try:
        announcement, created = announcements.send(
            db(),
            group,
            form["text_en"],
            form["text_es"],
            request_key=form["request_key"],
            staff_id=staff.id,
            base_url=runtime.settings.public_base_url,
            bulk_insert=runtime.bulk_outbox_insert,
        )
    except AnnouncementError as exc:
        db().rollback()
        if isinstance(exc, announcements.KeyUsed):  # the words are kept; a new key sends them as a new one
            form = dict(form, request_key=uuid.uuid4().hex)
        return _refused(group, form, exc)
    if announcement.group_id != group.id:  # a key reused from another group's form: not this one's
        db().rollback()
        abort(400, "this send key belongs to another announcement: reload the page and send again")
    if created:
        audit(
            db(),
            "announce",
            staff.id,
            detail=f"announcement {announcement.id} to group {group.id}: {announcement.recipients} member(s)",
            ip=client_ip(),
            now=utcnow(),
        )
    db().commit()  # the sends are queued once this commits
    return redirect(url_for(".announcement", group_id=group.id, announcement_id=announcement.id))


def _announcement(group_id: int, announcement_id: int) -> tuple:
    group = group_visible(group_id)
    found = db().get(Announcement, announcement_id)
    if found is None or found.group_id != group.id:
        abort(404)
    return group, found


@bp.get("/groups/<int:group_id>/announcements/<int:announcement_id>")
@login_required
def announcement(group_id: int, announcement_id: int):
    group, found = _announcement(group_id, announcement_id)
    done = announcements.progress(db(), found.id)
    bodies = announcements.bodies_for(group.name, found.text_en, found.text_es)
    return render_template(
        "console/announcement.html", group=group, announcement=found, progress=done, bodies=bodies
    )


@bp.get("/groups/<int:group_id>/announcements/<int:announcement_id>/progress")
@login_required
def announcement_progress(group_id: int, announcement_id: int):
    _, found = _announcement(group_id, announcement_id)
    response = jsonify(announcements.progress(db(), found.id).as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response

"""Finishing a console action: commit, then send what it decided and schedule its timers."""

from __future__ import annotations

from flask import current_app

from checkin import outbox
from checkin.escalation import service
from webhooks.console.auth import db


def commit_and_send() -> None:
    session = db()
    items = outbox.created_in(session)
    timers = service.timers_in(session)
    session.commit()
    outbox.forget_created(session)
    service.forget_timers(session)
    from workers import escalation_jobs

    escalation_jobs.after_commit(current_app.extensions["checkin"], items, timers)

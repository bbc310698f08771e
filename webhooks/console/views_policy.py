"""A group's escalation policy: who is paged at each step, how long to wait, by text or call; edited by
coordinators (facilitators read it), with a preview in words computed by the engine's own code.

config/escalation.toml stays the default; a saved policy is the group's override
(checkin.escalation.effective) until "Back to the default" removes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from checkin.db import utcnow
from checkin.escalation import effective, preview
from checkin.escalation.models import PolicyOverride
from checkin.escalation.policy import (
    PAGED,
    GroupPolicy,
    LevelPolicy,
    PolicyError,
    group_from_settings,
    to_settings,
)
from checkin.escalation.service import coordinators_of
from checkin.models import Group, GroupStaff, StaffUser
from webhooks.console import bp
from webhooks.console.auth import (
    audit_here,
    coordinator_required,
    current_staff,
    db,
    group_visible,
    is_coordinator,
    login_required,
)

MAX_STEPS = 3
STEP_CHOICES = (
    ("primary", "Facilitators on call"),
    ("backup", "Backup facilitators"),
    ("coordinator", "Coordinators"),
)
STEP_WORDS = {"primary": "on call", "backup": "backup", "coordinator": "coordinators"}
CHANNEL_WORDS = {"sms": "text", "voice": "call"}
LEVEL_WORDS = {"crisis": "Crisis", "urgent": "Urgent"}
PREVIEW_LEVELS = ("crisis", "urgent", "watch")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _ctx():
    return current_app.extensions["checkin.escalation"]


def _form_of(gp: GroupPolicy) -> dict:
    """The editor's fields for a policy."""
    form = {"realert": _num(gp.realert_after_ack_minutes), "digest_hour": str(gp.digest_hour)}
    for level in PAGED:
        lp = gp.for_level(level)
        for i in range(MAX_STEPS):
            form[f"{level}-step-{i + 1}"] = lp.levels[i] if i < len(lp.levels) else ""
        form[f"{level}-timeout"] = _num(lp.timeout_minutes)
        form[f"{level}-repeats"] = str(lp.repeats)
        for channel in CHANNEL_WORDS:
            form[f"{level}-{channel}"] = channel in lp.channels
    return form


def _num(value: float) -> str:
    return f"{value:g}"


def _whole(raw: str, low: int, high: int) -> int | None:
    raw = (raw or "").strip()
    if not raw.isdigit():
        return None
    value = int(raw)
    return value if low <= value <= high else None


@dataclass
class Parsed:
    form: dict
    errors: dict[str, str]
    policy: GroupPolicy | None


def _parse(form_in, group: Group, base: GroupPolicy) -> Parsed:
    """The editor's form as a group policy, or every problem with it, each in words beside its field."""
    form: dict = {
        "realert": (form_in.get("realert") or "").strip(),
        "digest_hour": form_in.get("digest_hour") or "",
    }
    errors: dict[str, str] = {}
    settings: dict = {}
    for level in PAGED:
        name = LEVEL_WORDS[level]
        steps = []
        for i in range(MAX_STEPS):
            key = f"{level}-step-{i + 1}"
            value = form_in.get(key) or ""
            form[key] = value
            if not value:
                if i == 0 and any(form_in.get(f"{level}-step-{j + 1}") for j in range(1, MAX_STEPS)):
                    # Later steps but no first one: who is paged first must be said, not guessed.
                    errors[key] = f"{name}, first step: choose who is paged first."
                continue
            if value not in STEP_WORDS:
                errors[key] = f"{name}, step {i + 1}: choose one of the listed steps."
            elif value in steps:
                errors[key] = (
                    f"{name}, step {i + 1}: {STEP_WORDS[value]} is already an earlier step; each can be a step once."
                )
            else:
                steps.append(value)
        if not steps and f"{level}-step-1" not in errors:
            errors[f"{level}-step-1"] = f"{name}: choose at least one step (who is paged first)."
        for key in (f"{level}-timeout", f"{level}-repeats"):
            form[key] = (form_in.get(key) or "").strip()
        timeout = _whole(form[f"{level}-timeout"], 1, 1440)
        if timeout is None:
            errors[f"{level}-timeout"] = (
                f"{name}: the wait before the next step must be a whole number of minutes from 1 to 1440 (a day)."
            )
        repeats = _whole(form[f"{level}-repeats"], 0, 10)
        if repeats is None:
            errors[f"{level}-repeats"] = f"{name}: repeats must be a whole number from 0 to 10."
        channels = [c for c in CHANNEL_WORDS if form_in.get(f"{level}-{c}")]
        for c in CHANNEL_WORDS:
            form[f"{level}-{c}"] = c in channels
        if not channels:
            errors[f"{level}-channels"] = f"{name}: choose text, call or both: " + (
                "a crisis must reach someone." if level == "crisis" else "the alert must go out somehow."
            )
        elif "voice" in channels and steps and not _anyone_with_phone(group, steps):
            errors[f"{level}-channels"] = (
                f"{name}: a call needs a phone number, and nobody on these steps has one. "
                "Add a number on the Staff page, or untick Call."
            )
        if not errors.keys() & {f"{level}-timeout", f"{level}-repeats", f"{level}-channels"} and steps:
            settings[level] = {
                "levels": steps,
                "timeout_minutes": timeout,
                "repeats": repeats,
                "channels": channels,
            }
    realert = _whole(form["realert"], 1, 1440)
    if realert is None:
        errors["realert"] = (
            "Reminder after someone takes it: a whole number of minutes from 1 to 1440 (a day)."
        )
    hour = _whole(form["digest_hour"], 0, 23)
    if hour is None:
        errors["digest_hour"] = "Watch digest: choose an hour of the day."
    if errors:
        return Parsed(form, errors, None)
    settings["realert_after_ack_minutes"] = realert
    settings["watch"] = {"channels": ["digest"], "digest_hour": hour}
    try:
        return Parsed(form, errors, group_from_settings(settings, base))
    except PolicyError as exc:  # the file's own checks: a second line behind the ones above
        return Parsed(form, {"form": str(exc)}, None)


def _anyone_with_phone(group: Group, steps: list[str]) -> bool:
    """Whether anyone a step names (the group's facilitators of that tier, or its coordinators) has a phone."""
    session = db()
    tiers = [s for s in steps if s != "coordinator"]
    if tiers and session.scalar(
        select(StaffUser.id)
        .join(GroupStaff, GroupStaff.staff_id == StaffUser.id)
        .where(
            GroupStaff.group_id == group.id,
            GroupStaff.tier.in_(tiers),
            StaffUser.role != "coordinator",
            StaffUser.active.is_(True),
            StaffUser.phone.is_not(None),
        )
        .limit(1)
    ):
        return True
    return "coordinator" in steps and bool(coordinators_of(session, group.id))


def _level_words(lp: LevelPolicy) -> str:
    steps = ", then ".join(STEP_WORDS[t] for t in lp.levels)
    how = " and ".join(CHANNEL_WORDS[c] for c in lp.channels)
    repeats = f", each step sent {lp.repeats + 1} times" if lp.repeats else ""
    return f"{steps}; {how}; {_num(lp.timeout_minutes)} min between steps{repeats}"


def changes_in_words(old: GroupPolicy, new: GroupPolicy) -> list[str]:
    """What changed, old → new, in the console's words (the audit row)."""
    out = []
    for level in PAGED:
        a, b = old.for_level(level), new.for_level(level)
        if a.levels != b.levels:
            out.append(
                f"{level} steps {', '.join(STEP_WORDS[t] for t in a.levels)} → {', '.join(STEP_WORDS[t] for t in b.levels)}"
            )
        if a.timeout_minutes != b.timeout_minutes:
            out.append(f"{level} wait {_num(a.timeout_minutes)} → {_num(b.timeout_minutes)} min")
        if a.repeats != b.repeats:
            out.append(f"{level} repeats {a.repeats} → {b.repeats}")
        if a.channels != b.channels:
            out.append(
                f"{level} by {' and '.join(CHANNEL_WORDS[c] for c in a.channels)} → {' and '.join(CHANNEL_WORDS[c] for c in b.channels)}"
            )
    if old.realert_after_ack_minutes != new.realert_after_ack_minutes:
        out.append(
            f"reminder after taking it {_num(old.realert_after_ack_minutes)} → {_num(new.realert_after_ack_minutes)} min"
        )
    if old.digest_hour != new.digest_hour:
        out.append(f"watch digest {old.digest_hour}:00 → {new.digest_hour}:00")
    return out


def _moment(group: Group, args) -> tuple[dict, object, str | None]:
    """The preview's level and moment from the query (default: a crisis at 2 am this Sunday), or an error."""
    chosen = {
        "level": args.get("level") or "crisis",
        "day": args.get("day") or "6",
        "time": args.get("time") or "02:00",
    }
    error = None
    if chosen["level"] not in PREVIEW_LEVELS:
        error, chosen["level"] = "Preview: choose crisis, urgent or watch.", "crisis"
    day = _whole(chosen["day"], 0, 6)
    match = _TIME.match(chosen["time"].strip())
    if day is None:
        error, day, chosen["day"] = "Preview: choose a day of the week.", 6, "6"
    if match is None:
        error, match, chosen["time"] = (
            "Preview: the time must be like 02:00 or 18:30.",
            _TIME.match("02:00"),
            "02:00",
        )
    at = preview.moment(group, utcnow(), day, int(match.group(1)), int(match.group(2)))
    return chosen, at, error


def _page(group: Group, *, form=None, errors=None, status=200, unsaved: GroupPolicy | None = None):
    """The page; `unsaved` is a policy typed in the form but not saved: the preview shows it."""
    session = db()
    ctx = _ctx()
    current = effective.group_policy(session, ctx.policy, group)
    default = effective.file_policy(ctx.policy, group)
    override = effective.override_of(session, group.id)
    chosen, at, moment_error = _moment(group, request.form if request.method == "POST" else request.args)
    shown = preview.describe(session, ctx.policy, group, chosen["level"], at, unsaved)
    links = session.execute(
        select(GroupStaff.tier, StaffUser)
        .join(StaffUser, StaffUser.id == GroupStaff.staff_id)
        .where(GroupStaff.group_id == group.id, StaffUser.active.is_(True), StaffUser.role != "coordinator")
        .order_by(StaffUser.name)
    ).all()
    people = {
        "primary": [s for tier, s in links if tier == "primary"],
        "backup": [s for tier, s in links if tier == "backup"],
        "coordinator": coordinators_of(session, group.id),
    }
    return render_template(
        "console/escalation_policy.html",
        group=group,
        form=form or _form_of(current),
        errors=errors or {},
        field_errors={k: v for k, v in (errors or {}).items() if k != "form"},
        current=current,
        default=default,
        override=override,
        preview=shown,
        chosen=chosen,
        moment_error=moment_error,
        days=list(enumerate(preview.DAYS)),
        hours=[(h, preview.clock(at.replace(hour=h, minute=0))) for h in range(24)],
        step_choices=STEP_CHOICES,
        levels=PAGED,
        level_words=LEVEL_WORDS,
        people=people,
        summary={level: _level_words(current.for_level(level)) for level in PAGED},
        editable=is_coordinator(),
        max_steps=MAX_STEPS,
        unsaved=unsaved is not None and unsaved != current,
    ), status


@bp.post("/groups/<int:group_id>/escalation-policy/preview")
@coordinator_required
def preview_escalation_policy(group_id: int):
    """The preview of what the form says now, saved or not (nothing is saved; the typed values stay)."""
    group = group_visible(group_id)
    parsed = _parse(request.form, group, effective.file_policy(_ctx().policy, group))
    if parsed.policy is None:
        return _page(group, form=parsed.form, errors=parsed.errors, status=400)
    return _page(group, form=parsed.form, unsaved=parsed.policy)


@bp.get("/groups/<int:group_id>/escalation-policy")
@login_required
def escalation_policy(group_id: int):
    return _page(group_visible(group_id))


@bp.post("/groups/<int:group_id>/escalation-policy")
@coordinator_required
def save_escalation_policy(group_id: int):
    group = group_visible(group_id)
    session = db()
    ctx = _ctx()
    current = effective.group_policy(session, ctx.policy, group)
    default = effective.file_policy(ctx.policy, group)
    parsed = _parse(request.form, group, default)
    if parsed.policy is None:
        return _page(group, form=parsed.form, errors=parsed.errors, status=400)
    changes = changes_in_words(current, parsed.policy)
    back = redirect(url_for(".escalation_policy", group_id=group.id, **_preview_args()) + "#preview")
    if not changes:
        flash("Nothing changed: the policy is as it was.", "ok")
        return back
    row = effective.override_of(session, group.id)
    staff_id = current_staff().id
    if parsed.policy == default:
        # The file's policy again: follow the file (and whatever it says later), not a copy of it.
        if row is not None:
            session.delete(row)
        said = "the same as the default, so the group follows the default again"
    else:
        settings = to_settings(parsed.policy)
        if row is None:
            session.add(PolicyOverride(group_id=group.id, settings=settings, updated_by=staff_id))
        else:
            row.settings, row.updated_by, row.updated_at = settings, staff_id, utcnow()
        said = "saved"
    audit_here("escalation_policy", f"group:{group.id} escalation policy: " + "; ".join(changes))
    effective.forget(session, group.id)
    try:
        session.commit()
    except IntegrityError:  # another coordinator saved this group's first policy a moment ago
        session.rollback()
        flash("Someone else saved this group's policy a moment ago. Check it below and save again.", "error")
        return back
    flash(f"Escalation policy {said}. The preview below uses it.", "ok")
    return back


@bp.post("/groups/<int:group_id>/escalation-policy/default")
@coordinator_required
def reset_escalation_policy(group_id: int):
    group = group_visible(group_id)
    session = db()
    ctx = _ctx()
    row = effective.override_of(session, group.id)
    if row is None:
        flash("This group already follows the default policy.", "ok")
    else:
        current = effective.group_policy(session, ctx.policy, group)
        changes = changes_in_words(current, effective.file_policy(ctx.policy, group))
        session.delete(row)
        audit_here(
            "escalation_policy",
            f"group:{group.id} escalation policy back to the default"
            + (": " + "; ".join(changes) if changes else ""),
        )
        effective.forget(session, group.id)
        session.commit()
        flash("Back to the default policy. The preview below uses it.", "ok")
    return redirect(url_for(".escalation_policy", group_id=group.id, **_preview_args()) + "#preview")


def _preview_args() -> dict:
    return {k: request.form[k] for k in ("level", "day", "time") if request.form.get(k)}

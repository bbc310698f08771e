"""The shared inbox, a member's conversation with the reply form, canned replies, and the small JSON
the live pages poll (unread count and a digest of what they show)."""

from __future__ import annotations

import re
import uuid

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from checkin.accounts import audit, audit_read
from checkin.db import utcnow
from checkin.directory import ValidationError
from checkin.escalation import reach
from checkin.inbox import conversations, replies
from checkin.inbox.models import Conversation
from checkin.models import LANGUAGES, Group, Member, Message, StaffUser
from webhooks.console import bp
from webhooks.console.auth import (
    can_see_group,
    client_ip,
    coordinator_required,
    current_staff,
    db,
    group_visible,
    login_required,
    member_visible,
    visible_group_ids,
    visible_groups,
    visible_groups_of,
)
from webhooks.console.views_members import LANGUAGE_NAMES
from webhooks.params import optional_id

_TOKEN = re.compile(r"[0-9a-f]{32}")


def _conversation(conversation_id: int) -> Conversation:
    """The conversation, or 404 when it does not exist or is in a group the user does not see."""
    found = db().get(Conversation, conversation_id)
    if found is None or not can_see_group(found.group_id):
        abort(404, "no such conversation")
    return found


@bp.route("/inbox")
@login_required
def inbox():
    ids = visible_group_ids()
    show_done = request.args.get("show") == "done"
    items = conversations.listing(db(), ids, done=show_done)
    members = {
        m.id: m
        for m in db().scalars(select(Member).where(Member.id.in_({c.member_id for c in items} or {-1})))
    }
    groups = visible_groups()
    by_group = {g.id: [] for g in groups}
    for c in items:
        by_group.setdefault(c.group_id, []).append(c)
    names = dict(db().execute(select(StaffUser.id, StaffUser.name)).all())
    last_ids = {c.last_message_id for c in items if c.last_message_id}
    last = dict(db().execute(select(Message.id, Message.body).where(Message.id.in_(last_ids or {-1}))).all())
    if last:  # the latest words of each are on the page: a view of members' messages, audited as one
        audit_read(  # once an hour per person for what it showed: a newer text is a new row
            db(),
            "view_messages",
            current_staff().id,
            detail=f"inbox: {len(last)} conversation(s), newest message #{max(last)}",
            ip=client_ip(),
        )
        db().commit()
    return render_template(
        "console/inbox.html",
        last=last,
        groups=groups,
        by_group=by_group,
        members=members,
        names=names,
        show_done=show_done,
        me=current_staff().id,
    )


@bp.route("/inbox/<int:conversation_id>/take", methods=["POST"])
@login_required
def inbox_take(conversation_id: int):
    c = _conversation(conversation_id)
    staff = current_staff()
    # Taking a conversation someone else holds is a take-over: the page asked first; say it and audit it.
    before = c.assigned_to if c.state == "taken" and c.assigned_to != staff.id else None
    if conversations.take(db(), c, staff.id, utcnow()):
        detail = f"staff:{before} conversation {c.id} taken over" if before else f"conversation {c.id}"
        audit(db(), "inbox_take", staff.id, member_id=c.member_id, detail=detail, ip=client_ip())
        db().commit()
        holder = db().get(StaffUser, before) if before else None
        flash(
            f"You took it over from {holder.name}: reply below, then mark it done."
            if holder
            else "It is yours: reply below, then mark it done.",
            "ok",
        )
    else:
        flash("That conversation is done already.", "error")
    return redirect(url_for("console.conversation", member_id=c.member_id, group=c.group_id))


@bp.route("/inbox/<int:conversation_id>/done", methods=["POST"])
@login_required
def inbox_done(conversation_id: int):
    c = _conversation(conversation_id)
    staff = current_staff()
    if conversations.finish(db(), c, staff.id, utcnow()):
        audit(
            db(), "inbox_done", staff.id, member_id=c.member_id, detail=f"conversation {c.id}", ip=client_ip()
        )
        db().commit()
        flash("Marked done.", "ok")
    if request.form.get("next") == "conversation":
        return redirect(url_for("console.conversation", member_id=c.member_id, group=c.group_id))
    return redirect(url_for("console.inbox"))


def _reply_group(member: Member) -> Group | None:
    """The group to reply from: the one asked for (if the member is in it and the user sees it), else
    the group of the member's open conversation, else the member's first group the user sees."""
    mine = visible_groups_of(member)
    wanted = optional_id("group", request.values.get("group"), "a group id")
    if wanted is not None:
        found = next((g for g in mine if g.id == wanted), None)
        if found is None:
            abort(404, "no such group")
        return found
    open_ = conversations.open_for(db(), member.id)
    return next((g for g in mine if open_ is not None and g.id == open_.group_id), None) or (
        mine[0] if mine else None
    )


def _conversation_page(member: Member, group: Group | None, *, error=None, draft="", status=200):
    from webhooks.console import thread, timeline

    session = db()
    default_number = current_app.extensions["checkin"].settings.twilio_from_number
    lines = thread.for_member(
        session, member, timeline.scope_for(member, visible_group_ids(), default_number)
    )
    conversations.mark_read(session, member.id, visible_group_ids())
    newest = session.scalar(select(func.max(Message.id)).where(Message.member_id == member.id))
    audit_read(  # once an hour per person for what it showed: a new message is a new row
        session,
        "view_messages",
        current_staff().id,
        member_id=member.id,
        detail=f"conversation: {len(lines)} line(s)" + (f", newest message #{newest}" if newest else ""),
        ip=client_ip(),
    )
    session.commit()
    open_ = conversations.open_for(session, member.id, group.id if group else None)
    return render_template(
        "console/conversation.html",
        member=member,
        group=group,
        groups=visible_groups_of(member),
        lines=lines,
        tz=group.timezone if group else member.effective_timezone,
        open_conversation=open_,
        names=dict(session.execute(select(StaffUser.id, StaffUser.name)).all()),
        refusal=replies.refusal(session, member, group),
        canned=replies.canned(session, member.language),
        language=LANGUAGE_NAMES.get(member.language, member.language),
        token=uuid.uuid4().hex,
        error=error,
        draft=draft,
        max_chars=replies.MAX_CHARS,
        live_member=member.id,
    ), status


@bp.route("/members/<int:member_id>/conversation")
@login_required
def conversation(member_id: int):
    member = member_visible(member_id)
    return _conversation_page(member, _reply_group(member))


@bp.get("/members/<int:member_id>/reply")
@login_required
def member_reply_page(member_id: int):
    """The address a refused reply leaves in the bar: reloading it (or live.js polling it) gets the
    conversation, not "Method Not Allowed"."""
    return redirect(url_for("console.conversation", member_id=member_id, group=request.args.get("group")))


@bp.route("/members/<int:member_id>/reply", methods=["POST"])
@login_required
def member_reply(member_id: int):
    member = member_visible(member_id)
    group = _reply_group(member)
    staff = current_staff()
    body = request.form.get("body") or ""
    token = request.form.get("token") or ""
    if not _TOKEN.fullmatch(token):
        abort(400, "token: reload the page and write the reply again")
    session = db()
    try:
        if group is None:
            raise replies.ReplyRefused(f"{member.display_name} is in none of your groups.")
        sent = replies.send(
            session,
            member=member,
            group=group,
            staff=staff,
            body=body,
            key=f"reply:{member.id}:{token}",
            now=utcnow(),
        )
    except replies.ReplyRefused as exc:
        session.rollback()
        audit(
            session, "reply_refused", staff.id, member_id=member.id, detail="in the console", ip=client_ip()
        )
        session.commit()
        return _conversation_page(member, group, error=str(exc), draft=body, status=400)
    if sent.created:
        audit(
            session,
            "reply",
            staff.id,
            member_id=member.id,
            detail=f"in the console, outbox {sent.outbox_id}",
            ip=client_ip(),
        )
    session.commit()  # the unit of work hands the send to a worker now
    parts = f"{sent.segments} texts" if sent.segments != 1 else "1 text"
    flash(
        f"Sent to {member.first_name} from {group.name}'s number ({parts})."
        if sent.created
        else "That reply was sent already.",
        "ok",
    )
    return redirect(url_for("console.conversation", member_id=member.id, group=group.id))


@bp.route("/inbox/replies", methods=["GET", "POST"])
@coordinator_required
def canned_replies():
    session = db()
    error, texts = None, {}
    if request.method == "POST":
        staff = current_staff()
        try:
            parsed = {
                lang: replies.parse_lines(request.form.get(f"replies_{lang}", ""), lang) for lang in LANGUAGES
            }
        except ValidationError as exc:
            error = str(exc)
            texts = {lang: request.form.get(f"replies_{lang}", "") for lang in LANGUAGES}
        else:
            for lang, items in parsed.items():
                replies.save_canned(session, lang, items, staff.id)
            audit(session, "canned_replies", staff.id, detail="saved", ip=client_ip())
            session.commit()
            flash("Canned replies saved.", "ok")
            return redirect(url_for("console.canned_replies"))
    for lang in LANGUAGES:
        texts.setdefault(lang, "\n".join(f"{c.label} | {c.body}" for c in replies.canned(session, lang)))
    return render_template(
        "console/canned_replies.html", texts=texts, error=error, languages=LANGUAGE_NAMES
    ), (400 if error else 200)


@bp.route("/live")
@login_required
def live():
    """What a live page polls: the unread count (navigation, title) and a digest that changes when
    anything the page shows does (the page then fetches itself again)."""
    from webhooks.console import thread

    ids = visible_group_ids()
    member_id = optional_id("member", request.args.get("member"), "a member id")
    if member_id is not None:
        member_visible(member_id)
    session = db()
    waiting = reach.waiting_by_level(session, ids, shown=0)
    return jsonify(
        unread=conversations.unread_count(session, ids),
        stamp=thread.stamp(session, ids, member_id),
        # Crisis and urgent cases nobody has taken: the Escalations link's count and the tab title.
        waiting=sum(w.count for w in waiting.values()),
        alarm=reach.waiting_words(waiting),
    )


def live_stamp(member_id: int | None = None) -> str:
    """The digest a page was rendered with, so the first poll already sees a change made meanwhile."""
    from webhooks.console import thread

    try:
        return thread.stamp(db(), visible_group_ids(), member_id)
    except Exception:  # a page must still render; the first poll then refreshes it once
        import logging

        logging.getLogger("checkin.console").exception("live digest could not be read")
        return ""


def unread_for_nav() -> int:
    """The navigation's count, once per request."""
    from flask import g

    if "inbox_unread" not in g:
        try:
            g.inbox_unread = conversations.unread_count(db(), visible_group_ids())
        except Exception:
            import logging

            logging.getLogger("checkin.console").exception("inbox count could not be read")
            g.inbox_unread = 0
    return g.inbox_unread


__all__ = ["group_visible", "live_stamp", "unread_for_nav"]

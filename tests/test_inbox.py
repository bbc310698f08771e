"""The shared inbox and replies from the group's number: what a member is told, what staff see and may do."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from checkin.accounts.models import AuditEvent
from checkin.db import utcnow
from checkin.inbox.models import CannedReply, Conversation
from checkin.models import Member, OutboxItem
from tests.conftest import FROM_NUMBER, deliver_item, said, zone_where_it_is
from tests.console_helpers import (  # noqa: F401
    OTHER_GROUP_NUMBER,
    PLAN_FORM,
    Console,
    World,
    cheap_password_hashing,
    plain_http,
)

FREE_TEXT = "I moved to a new apartment, same phone number"


@pytest.fixture
def world(db, twilio, group, member):
    return World(db, twilio, group, member)


def reply(twilio, phone, body, to=FROM_NUMBER):
    response = twilio.sms(phone, body, to=to)
    assert response.status_code == 200, response.get_data(as_text=True)
    return said(response)


def conversations(db):
    with db.session() as s:
        return s.scalars(select(Conversation).order_by(Conversation.id)).all()


def audit_actions(db):
    with db.session() as s:
        return [
            (a.action, a.staff_id, a.member_id) for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))
        ]


def replies_out(db):
    with db.session() as s:
        return s.scalars(
            select(OutboxItem).where(OutboxItem.purpose == "reply").order_by(OutboxItem.id)
        ).all()


def token(page: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]{32})"', page).group(1)


# --- what the member is told ----------------------------------------------------------------------


def test_free_text_waits_for_a_person_and_the_reply_says_who_reads_it_and_when(db, twilio, world, member):
    assert reply(twilio, member.phone, "sorry, I got the day wrong") == [
        "Thanks, Sam. A facilitator will read your message within 24 hours. In a crisis, call or text 988."
    ]
    assert reply(twilio, member.phone, FREE_TEXT) == []  # said once: the second text joins the conversation
    [c] = conversations(db)
    assert (c.group_id, c.member_id, c.state, c.unread, c.messages) == (
        world.group.id,
        member.id,
        "waiting",
        2,
        2,
    )


def test_the_automatic_answer_is_sent_once_a_conversation_and_never_once_a_person_has_it(
    client, db, twilio, world, member, runtime, fake_twilio
):
    """Through the signed webhook, as the member sees it: four texts, one promise; none after a person
    took it and answered; a new promise only once the conversation was closed."""
    promise = (
        "Thanks, Sam. A facilitator will read your message within 24 hours. In a crisis, call or text 988."
    )
    assert reply(twilio, member.phone, "sorry, I got the day wrong") == [promise]
    assert reply(twilio, member.phone, FREE_TEXT) == []
    frankie = Console(client, "frankie@example.org")
    [c] = conversations(db)
    assert frankie.post(f"/console/inbox/{c.id}/take").status_code == 302
    assert reply(twilio, member.phone, "are you there?") == []  # taken: a person has it
    page = frankie.get(f"/console/members/{member.id}/conversation").get_data(as_text=True)
    form = {"body": "Hi Sam, no problem, see you next week.", "token": token(page), "group": world.group.id}
    assert frankie.post(f"/console/members/{member.id}/reply", form).status_code == 302
    assert reply(twilio, member.phone, "thanks!") == []  # answered
    with db.session() as s:  # nothing else went out to Sam but the one promise (by REST) and the answer
        bodies = [
            o.body
            for o in s.scalars(
                select(OutboxItem).where(OutboxItem.member_id == member.id).order_by(OutboxItem.id)
            )
        ]
    assert bodies == [promise, "Hi Sam, no problem, see you next week."]
    assert frankie.post(f"/console/inbox/{c.id}/done").status_code == 302
    assert reply(twilio, member.phone, "one more question") == [promise]  # a new conversation
    assert [c.messages for c in conversations(db)] == [4, 1]


def test_two_free_texts_stored_at_once_share_one_conversation_and_both_count(db, twilio, world, member):
    """The second text's transaction files it while the first's is still open: it waits for the first
    to commit, then joins its conversation instead of failing or opening a second one."""
    import threading

    from checkin.inbox import conversations as inbox
    from checkin.models import Message

    first = reply(twilio, member.phone, "sorry, I got the day wrong")
    assert first[0].startswith("Thanks, Sam. A facilitator will read")
    [opened] = conversations(db)
    with db.session() as s:
        message = s.scalars(
            select(Message)
            .where(Message.member_id == member.id, Message.direction == "inbound")
            .order_by(Message.id.desc())
        ).first()
    from checkin.inbox.models import ConversationState

    with db.session() as s:  # done: the next texts open a new conversation, and two race to open it
        s.get(Conversation, opened.id).state = ConversationState.DONE.value
    results, errors = [], []

    def file_one(started: threading.Event | None = None, release: threading.Event | None = None):
        try:
            with db.session() as s:
                results.append(inbox.receive(s, s.get(Member, member.id), s.get(Message, message.id)))
                if started is not None:
                    started.set()
                    release.wait(10)
        except Exception as exc:  # shown by the assertion below
            errors.append(exc)

    started, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=file_one, args=(started, release))
    holder.start()
    assert started.wait(10)
    second = threading.Thread(target=file_one)
    second.start()
    second.join(0.5)  # it waits on the first's uncommitted conversation
    release.set()
    holder.join(10)
    second.join(10)
    assert errors == [] and len(results) == 2
    done, racing = conversations(db)
    assert done.state == "done"
    assert (racing.state, racing.unread, racing.messages) == ("waiting", 2, 2)


def test_the_groups_answer_time_is_what_the_reply_promises(db, twilio, world, member, spanish_member):
    from checkin.schedules.service import set_plan

    with db.session() as s:
        set_plan(s, world.group.id, inbox_answer_hours=4)
    assert reply(twilio, member.phone, FREE_TEXT)[0] == (
        "Thanks, Sam. A facilitator will read your message within 4 hours. In a crisis, call or text 988."
    )
    assert reply(twilio, spanish_member.phone, "no se si puedo ir el martes")[0].startswith(
        "Gracias, Rosa. Un facilitador va a leer tu mensaje dentro de 4 horas."
    )


def test_when_nobody_reads_the_inbox_the_reply_gives_the_groups_number_and_988(db, twilio, world, member):
    from checkin.schedules.service import set_plan

    with db.session() as s:
        set_plan(s, world.group.id, inbox_answer_hours=0)  # the group reads no texts
    [text] = reply(twilio, member.phone, FREE_TEXT)
    assert "Nobody reads texts" in text and FROM_NUMBER in text and "988" in text
    assert "facilitator will" not in text
    assert len(conversations(db)) == 1  # still filed: a coordinator may look


def test_crisis_keywords_scores_and_when_are_not_inbox_conversations(db, twilio, world, member):
    conversations_before = len(conversations(db))  # World's crisis text opened an escalation, not this
    assert conversations_before == 0
    reply(twilio, member.phone, "WHEN")
    reply(twilio, member.phone, "HELP")
    reply(twilio, member.phone, "I want to end it all tonight")
    assert conversations(db) == []


# --- the inbox page and who may see what ---------------------------------------------------------


def test_the_facilitator_sees_their_groups_conversations_takes_one_and_marks_it_done(
    app, client, db, twilio, world, member
):
    reply(twilio, member.phone, FREE_TEXT)
    reply(twilio, world.other_member.phone, "running late to the group", to=OTHER_GROUP_NUMBER)
    frankie = Console(client, "frankie@example.org")
    page = frankie.get("/console/inbox").get_data(as_text=True)
    assert "Sam Rivera" in page and "Olive Other" not in page
    assert "(1) Inbox · Checkin</title>" in page and 'id="inbox-unread"><span class="n">1</span>' in page
    assert frankie.get("/console/live").get_json()["unread"] == 1
    mine, other = conversations(db)
    assert frankie.post(f"/console/inbox/{other.id}/take").status_code == 404  # another group's
    assert frankie.post(f"/console/inbox/{other.id}/done").status_code == 404
    assert frankie.get(f"/console/members/{world.other_member.id}/conversation").status_code == 404
    assert frankie.get(f"/console/live?member={world.other_member.id}").status_code == 404
    taken = frankie.post(f"/console/inbox/{mine.id}/take")
    assert taken.status_code == 302 and f"/console/members/{member.id}/conversation" in taken.location
    page = frankie.get(taken.location).get_data(as_text=True)
    assert FREE_TEXT in page and "taken by Frankie" in page
    assert frankie.get("/console/live").get_json()["unread"] == 0
    assert frankie.post(f"/console/inbox/{mine.id}/done").status_code == 302
    assert [c.state for c in conversations(db)] == ["done", "waiting"]
    assert ("inbox_take", world.facilitator.id, member.id) in audit_actions(db)
    assert ("inbox_done", world.facilitator.id, member.id) in audit_actions(db)
    # Done: the member's next free text opens a new conversation.
    reply(twilio, member.phone, "one more thing")
    assert [c.state for c in conversations(db)] == ["done", "waiting", "waiting"]
    casey = Console(app.test_client(), "casey@example.org")
    page = casey.get("/console/inbox").get_data(as_text=True)
    assert "Sam Rivera" in page and "Olive Other" in page  # a coordinator sees every group


def test_taking_over_a_conversation_someone_holds_asks_first_and_says_from_whom(
    app, client, db, twilio, world, member
):
    reply(twilio, member.phone, FREE_TEXT)
    (mine,) = conversations(db)
    frankie = Console(client, "frankie@example.org")
    assert frankie.post(f"/console/inbox/{mine.id}/take").status_code == 302
    casey = Console(app.test_client(), "casey@example.org")
    page = casey.get("/console/inbox").get_data(as_text=True)
    assert 'data-confirm="Frankie is answering this conversation. Take it over?' in page
    assert ">Take over</button>" in page
    taken = casey.post(f"/console/inbox/{mine.id}/take", follow_redirects=True).get_data(as_text=True)
    assert "You took it over from Frankie" in taken
    assert [c.assigned_to for c in conversations(db)] == [world.coordinator.id]
    # Frankie's own inbox now offers the take-over the other way, with the same question.
    assert 'data-confirm="Casey is answering' in frankie.get("/console/inbox").get_data(as_text=True)


def test_the_live_digest_changes_when_a_text_arrives(client, db, twilio, world, member):
    frankie = Console(client, "frankie@example.org")
    before = frankie.get(f"/console/live?member={member.id}").get_json()
    assert frankie.get(f"/console/live?member={member.id}").get_json() == before  # nothing new: same digest
    reply(twilio, member.phone, FREE_TEXT)
    after = frankie.get(f"/console/live?member={member.id}").get_json()
    assert after["stamp"] != before["stamp"] and after["unread"] == before["unread"] + 1
    assert frankie.get("/console/live?member=abc").status_code == 400


# --- replies from the console -------------------------------------------------------------------


def test_a_console_reply_goes_from_the_groups_number_once_and_not_held_at_night(
    client, db, twilio, world, member, runtime, fake_twilio
):
    reply(twilio, member.phone, FREE_TEXT)
    with db.session() as s:
        s.get(Member, member.id).timezone = zone_where_it_is(3, utcnow())  # 3 a.m. where Sam is
    frankie = Console(client, "frankie@example.org")
    page = frankie.get(f"/console/members/{member.id}/conversation").get_data(as_text=True)
    assert "speaks English" in page and "Got it, will call" in page  # language and canned replies
    form = {"body": "Hi Sam, I will call you at 6.", "token": token(page), "group": world.group.id}
    sent = frankie.post(f"/console/members/{member.id}/reply", form)
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert frankie.post(f"/console/members/{member.id}/reply", form).status_code == 302  # pressed twice
    [row] = replies_out(db)
    assert (row.from_number, row.to_number, row.staff_id) == (FROM_NUMBER, member.phone, world.facilitator.id)
    assert deliver_item(runtime, row.id).state == "sent"  # a person's reply: quiet hours do not hold it
    [message] = fake_twilio.wait_for_messages(1)
    assert message["params"]["From"] == FROM_NUMBER and message["params"]["To"] == member.phone
    assert message["params"]["Body"] == "Hi Sam, I will call you at 6."
    page = frankie.get(f"/console/members/{member.id}/conversation").get_data(as_text=True)
    assert "Hi Sam, I will call you at 6." in page and "Frankie" in page
    [c] = conversations(db)
    assert (c.state, c.assigned_to) == ("taken", world.facilitator.id)  # replying takes it
    assert ("reply", world.facilitator.id, member.id) in audit_actions(db)


def test_a_reply_to_an_opted_out_member_is_refused_with_the_reason(client, db, twilio, world, member):
    reply(twilio, member.phone, FREE_TEXT)
    reply(twilio, member.phone, "STOP")
    frankie = Console(client, "frankie@example.org")
    page = frankie.get(f"/console/members/{member.id}/conversation").get_data(as_text=True)
    refused = frankie.post(
        f"/console/members/{member.id}/reply", {"body": "Are you ok?", "token": token(page)}
    )
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Not sent: Sam Rivera has opted out (texted STOP)" in text
    assert "Are you ok?" in text  # what was typed is kept
    assert replies_out(db) == []
    assert ("reply_refused", world.facilitator.id, member.id) in audit_actions(db)


def test_bad_replies_get_a_reason_and_send_nothing(client, db, twilio, world, member):
    frankie = Console(client, "frankie@example.org")
    page = frankie.get(f"/console/members/{member.id}/conversation").get_data(as_text=True)
    empty = frankie.post(f"/console/members/{member.id}/reply", {"body": "  ", "token": token(page)})
    assert empty.status_code == 400 and "it is empty" in empty.get_data(as_text=True)
    long = frankie.post(f"/console/members/{member.id}/reply", {"body": "x" * 1601, "token": token(page)})
    assert long.status_code == 400 and "1601 characters" in long.get_data(as_text=True)
    assert (
        frankie.post(f"/console/members/{member.id}/reply", {"body": "hi", "token": "nope"}).status_code
        == 400
    )
    assert (
        frankie.post(
            f"/console/members/{member.id}/reply",
            {"body": "hi", "token": token(page), "group": world.other_group.id},
        ).status_code
        == 404
    )
    assert replies_out(db) == []


# --- replies by SMS: R 12 <text> -----------------------------------------------------------------

FRANKIE, OTTO = "+12025550177", "+12025550178"


def test_r_command_sends_from_the_groups_number_only_for_the_holder_or_a_coordinator(
    db, twilio, world, member, runtime, fake_twilio
):
    esc = world.escalation
    [answer] = reply(twilio, FRANKIE, f"R {esc.id} Sam, I am calling you now")
    assert answer.startswith(f"Take alert {esc.id} first (ACK {esc.id})")  # not taken yet
    [answer] = reply(twilio, OTTO, f"R {esc.id} hello")
    assert answer.startswith(f"There is no alert {esc.id} in your groups")  # another group's facilitator
    reply(twilio, FRANKIE, f"ACK {esc.id}")
    [answer] = reply(twilio, FRANKIE, f"R {esc.id}")
    assert answer.startswith("Nothing to send")
    assert replies_out(db) == []
    [answer] = reply(twilio, FRANKIE, f"r {esc.id}: Sam, I am calling you now")
    assert answer == f"Sent to Sam (alert {esc.id}) from Tuesday Group's number, 1 text."
    [row] = replies_out(db)
    assert (row.from_number, row.to_number, row.body) == (
        FROM_NUMBER,
        member.phone,
        "Sam, I am calling you now",
    )
    deliver_item(runtime, row.id)
    sent = fake_twilio.wait_for(
        lambda: [m for m in fake_twilio.messages() if m["params"]["To"] == member.phone]
    )
    assert sent[0]["params"]["From"] == FROM_NUMBER
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "reply")) == 1


def test_r_command_to_an_opted_out_member_is_refused_with_the_reason(db, twilio, world, member):
    esc = world.escalation
    reply(twilio, FRANKIE, f"ACK {esc.id}")
    reply(twilio, member.phone, "STOP")
    [answer] = reply(twilio, FRANKIE, f"R {esc.id} are you ok?")
    assert (
        answer
        == "Not sent: Sam Rivera has opted out (texted STOP): nothing can be sent to them until they text START."
    )
    assert replies_out(db) == []


def test_r_without_a_number_is_not_a_command(db, twilio, world):
    from checkin.escalation import commands

    assert commands.parse("r u there") is None and commands.parse("R 12 hi") == ("R", 12, "hi")
    assert commands.parse("reply #7 - ok") == ("R", 7, "ok")


# --- canned replies -------------------------------------------------------------------------------


def test_coordinators_edit_canned_replies_per_language(app, client, db, twilio, world, spanish_member):
    casey = Console(client, "casey@example.org")
    page = casey.get("/console/inbox/replies").get_data(as_text=True)
    assert "Got it, will call |" in page and "Recibido, te llamo |" in page  # the file's defaults
    bad = casey.post("/console/inbox/replies", {"replies_en": "no bar here", "replies_es": ""})
    assert bad.status_code == 400 and "English line 1: write it as label | text" in bad.get_data(as_text=True)
    saved = casey.post(
        "/console/inbox/replies",
        {"replies_en": "Call soon | I will call you soon.", "replies_es": "Pronto | Te llamo pronto."},
    )
    assert saved.status_code == 302
    with db.session() as s:
        assert s.scalars(select(CannedReply.label).order_by(CannedReply.language)).all() == [
            "Call soon",
            "Pronto",
        ]
    frankie = Console(app.test_client(), "frankie@example.org")
    assert frankie.get("/console/inbox/replies").status_code == 403
    page = frankie.get(f"/console/members/{spanish_member.id}/conversation").get_data(as_text=True)
    assert "speaks Spanish" in page and "Te llamo pronto." in page and "I will call you soon." not in page


def test_a_coordinator_sets_the_answer_time_on_the_plan_page(client, db, twilio, world, member):
    casey = Console(client, "casey@example.org")
    form = PLAN_FORM | {"reminders": "24, 2"}
    bad = casey.post(f"/console/groups/{world.group.id}/plan", form | {"inbox_answer_hours": "200"})
    assert bad.status_code == 400
    # The mistake is said next to its box (and listed at the top of the form).
    assert 'id="inbox_answer_hours-error">A number from 0 to 168' in bad.get_data(as_text=True)
    assert (
        casey.post(f"/console/groups/{world.group.id}/plan", form | {"inbox_answer_hours": "2"}).status_code
        == 302
    )
    assert reply(twilio, member.phone, FREE_TEXT)[0].startswith(
        "Thanks, Sam. A facilitator will read your message within 2 hours."
    )
    # A form without the field (an older page) leaves the group's answer time as it was.
    assert casey.post(f"/console/groups/{world.group.id}/plan", form).status_code == 302
    with db.session() as s:  # closed: the next text opens a new conversation, with its own answer
        for c in s.scalars(select(Conversation)):
            c.state = "done"
    assert "within 2 hours" in reply(twilio, member.phone, "and one more thing")[0]


def test_a_coordinator_may_reply_by_sms_to_a_case_nobody_has_taken(db, twilio, world, member):
    from checkin.models import StaffUser

    with db.session() as s:
        s.get(StaffUser, world.coordinator.id).phone = "+12025550190"
    [answer] = reply(
        twilio, "+12025550190", f"R {world.escalation.id} Sam, a coordinator here. Calling you now."
    )
    assert answer.startswith(f"Sent to Sam (alert {world.escalation.id})")
    [row] = replies_out(db)
    assert (row.from_number, row.to_number, row.staff_id) == (FROM_NUMBER, member.phone, world.coordinator.id)


def test_the_automatic_reply_is_shown_once_with_its_delivery_state(
    client, db, twilio, world, member, runtime, fake_twilio
):
    """One text went out: the conversation and the member page show it once, as the automatic reply,
    with what the carrier said, and not a second time under the member's text."""
    promise = (
        "Thanks, Sam. A facilitator will read your message within 24 hours. In a crisis, call or text 988."
    )
    assert reply(twilio, member.phone, "sorry, I got the day wrong") == [promise]
    with db.session() as s:
        row = s.scalar(select(OutboxItem).where(OutboxItem.member_id == member.id))
    frankie = Console(client, "frankie@example.org")
    waiting = frankie.get(f"/console/members/{member.id}/conversation").get_data(as_text=True)
    assert waiting.count("A facilitator will read your message") == 1
    assert "automatic reply, waiting to be sent" in waiting
    assert deliver_item(runtime, row.id).state == "sent"
    for path in (f"/console/members/{member.id}/conversation", f"/console/members/{member.id}"):
        page = frankie.get(path).get_data(as_text=True)
        assert page.count("A facilitator will read your message") == 1, path
        assert "automatic reply, waiting at Twilio" in page, path  # as sent, until Twilio reports


@pytest.mark.parametrize("reads", [True, False], ids=["staffed", "nobody-reads"])
def test_the_automatic_answer_is_repeated_to_a_later_text_at_most_once_per_period(
    db, twilio, world, member, reads
):
    """A member writing again later is answered again (the answer used to be said once per conversation:
    days of silence while nobody closed it), but not a moment later (an auto-responder at the other end
    would ping-pong with "Nobody reads texts to this number" for as long as both run). A crisis is
    answered every time."""
    from sqlalchemy import update

    from checkin.auto_replies import REPEAT_AFTER
    from checkin.schedules.service import set_plan

    if not reads:
        with db.session() as s:
            set_plan(s, world.group.id, inbox_answer_hours=0)
    words = "A facilitator will read" if reads else "Nobody reads texts"
    [first] = reply(twilio, member.phone, "sorry, I got the day wrong")
    assert words in first
    assert reply(twilio, member.phone, "I'm driving, I'll text you back later") == []  # a loop stops here
    [crisis] = reply(twilio, member.phone, "I want to end it all tonight")
    assert "988" in crisis and words not in crisis
    with db.session() as s:  # the member was told longer ago than the period
        s.execute(update(Conversation).values(replied_at=utcnow() - REPEAT_AFTER))
    assert reply(twilio, member.phone, "me again about the tuesday meeting") == [first]
    assert reply(twilio, member.phone, "and about the room") == []
    [c] = conversations(db)
    assert c.messages == 4  # every text filed for a person all the same

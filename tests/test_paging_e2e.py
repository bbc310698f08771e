"""Paging never stops, and never starts, without someone knowing (issue 12, part 2).

End to end: signed SMS webhooks into the app on a real port, a real RQ worker, the real twilio
library against the loopback Twilio, and the real rules engine. The escalation timers are driven by
`service.advance` with a clock moved forward, as the cron duty would run them.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.request import urlopen

import pytest
from sqlalchemy import select

from checkin.db import utcnow
from checkin.escalation import service
from checkin.escalation.models import AssessmentRecord, Escalation, EscalationEvent
from checkin.models import OutboxItem
from tests.conftest import FROM_NUMBER
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401
from webhooks.simulate import post_sms
from workers.worker import Worker

DANA, FAY, CORY, OTTO = "+12025550201", "+12025550203", "+12025550204", "+12025550205"
STRANGER = "+12025550177"
CRISIS_TEXT = "I am going to kill myself tonight"


def work(rt):
    Worker(["alerts", "inbound", "outbox"], connection=rt.redis, runtime=rt).work(burst=True)


def escalations(db):
    with db.session() as s:
        return list(s.scalars(select(Escalation).order_by(Escalation.id)))


def events(db, esc_id):
    with db.session() as s:
        return list(
            s.scalars(
                select(EscalationEvent)
                .where(EscalationEvent.escalation_id == esc_id)
                .order_by(EscalationEvent.id)
            )
        )


def texted(fake_twilio, to=None):
    return [m["params"]["Body"] for m in fake_twilio.messages() if to is None or m["params"]["To"] == to]


def called(fake_twilio):
    return [c["params"]["To"] for c in fake_twilio.calls()]


def advance(rt, at):
    """The escalation timers' cron duty at `at` (workers/escalation_jobs.tick on a moved clock): advance
    what is due; the unit of work hands the alerts it wrote to the queues once committed."""
    with rt.db.session() as s:
        count = service.advance(s, at, rt.escalation)
    return count


def answer_call(settings, url, to):
    """The TwiML Twilio fetches when the person called picks up, signed as Twilio signs it."""
    from urllib.parse import urlencode
    from urllib.request import Request

    from webhooks.simulate import sign

    params = {"CallSid": "CA" + "e" * 32, "AccountSid": settings.twilio_account_sid, "From": FROM_NUMBER}
    params |= {"To": to, "CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
    headers = {"X-Twilio-Signature": sign(settings.twilio_auth_token, url, params)}
    with urlopen(
        Request(url, data=urlencode(params).encode(), headers=headers, method="POST"), timeout=15
    ) as r:
        return " ".join(el.text or "" for el in ET.fromstring(r.read().decode()).iter("Say"))


def healthz(rt):
    with urlopen(f"{rt.settings.public_base_url}/healthz", timeout=10) as response:
        return response.status, json.loads(response.read())


@pytest.fixture
def dana(db, group):
    """The group's on-call primary facilitator."""
    return make_staff(db, "Dana", "dana@example.org", "facilitator", [group.name], DANA)


@pytest.fixture
def cory(db):
    """A coordinator with a phone (in no group)."""
    return make_staff(db, "Cory", "cory@example.org", "coordinator", (), CORY)


# --- a crisis from a number we do not know --------------------------------------------------


def test_unknown_number_crisis_pages_the_coordinator_shows_in_the_console_and_stops_on_ack(
    live_app, fake_twilio, db, client, group, dana, cory
):
    rt = live_app
    [reply] = post_sms(rt.settings, STRANGER, FROM_NUMBER, CRISIS_TEXT)
    assert "988" in reply and "911" in reply and "facilitator is being told" in reply
    [esc] = escalations(db)
    assert esc.member_id is None and esc.level == "crisis" and esc.group_id == group.id
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    assert text["params"]["To"] == CORY
    assert STRANGER in text["params"]["Body"] and f"ACK {esc.id}" in text["params"]["Body"]
    assert fake_twilio.wait_for_calls(1)[0]["params"]["To"] == CORY
    # It is a case in the console like a member's (it used to be a text and nothing else).
    console = Console(client, "cory@example.org")
    page = console.get("/console/escalations").get_data(as_text=True)
    assert f"#{esc.id}" in page
    page = console.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    assert "an unknown number" in page and f'href="tel:{STRANGER}"' in page  # to call them back
    [ack] = post_sms(rt.settings, CORY, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")
    # Past every step of the policy (short of the 30-minute reminder to whoever took it): silence.
    advance(rt, utcnow() + timedelta(minutes=20))
    work(rt)
    assert len(fake_twilio.messages()) == 1 and len(fake_twilio.calls()) == 1  # nobody else, nothing again


def test_unknown_number_crisis_without_coordinator_phones_reaches_the_groups_facilitator(
    live_app, fake_twilio, db, group, dana, caplog
):
    rt = live_app
    make_staff(db, "Jordan", "jordan@example.org", "coordinator")  # no phone, as the demo once seeded
    with caplog.at_level(logging.WARNING):
        [reply] = post_sms(rt.settings, STRANGER, FROM_NUMBER, CRISIS_TEXT)
    assert "facilitator is being told" in reply and "988" in reply
    [esc] = escalations(db)
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    assert text["params"]["To"] == DANA and STRANGER in text["params"]["Body"]
    kinds = [e.kind for e in events(db, esc.id)]
    assert "unreachable" in kinds  # said in the case: the policy (coordinators) reached nobody
    assert any("POLICY REACHES NOBODY" in r.getMessage() for r in caplog.records)
    assert not any(STRANGER in r.getMessage() or "kill" in r.getMessage() for r in caplog.records)
    # Dana (not a coordinator) may take it: she was paged.
    [ack] = post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")


def test_unknown_number_crisis_with_nobody_to_page_promises_nobody(live_app, fake_twilio, db, group, caplog):
    rt = live_app
    make_staff(db, "Jordan", "jordan@example.org", "coordinator")  # no phone
    with caplog.at_level(logging.ERROR):
        [reply] = post_sms(rt.settings, STRANGER, FROM_NUMBER, CRISIS_TEXT)
    # 988 and 911 stay; the promise of a human goes, since nobody can be told.
    assert "988" in reply and "911" in reply and "facilitator" not in reply
    [esc] = escalations(db)
    assert "NOBODY CAN BE PAGED" in (events(db, esc.id)[2].detail or "")
    assert any("POLICY REACHES NOBODY" in r.getMessage() for r in caplog.records)
    status, body = healthz(rt)
    assert status == 200 and body["status"] == "degraded" and body["paging"].startswith("nobody reachable")


# --- a policy that reaches nobody -------------------------------------------------------------


def test_a_policy_that_reaches_nobody_pages_whoever_can_be_reached_and_says_so(
    live_app, fake_twilio, db, client, group, member, caplog
):
    rt = live_app
    # The member's group has no facilitator; the coordinator has no phone; Otto facilitates another group.
    from checkin.directory import add_group

    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
    make_staff(db, "Jordan", "jordan@example.org", "coordinator")
    make_staff(db, "Otto", "otto@example.org", "facilitator", ["Thursday Group"], OTTO)
    status, body = healthz(rt)
    assert body["status"] == "degraded" and str(group.id) in body["paging"]
    console = Console(client, "jordan@example.org")
    page = console.get("/console/").get_data(as_text=True)
    assert "Nobody can be paged" in page and group.name in page
    with caplog.at_level(logging.ERROR):
        [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    assert "facilitator is being told" in reply  # true: Otto is
    [esc] = escalations(db)
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    assert text["params"]["To"] == OTTO and f"ALERT {esc.id} (crisis)" in text["params"]["Body"]
    assert fake_twilio.wait_for_calls(1)[0]["params"]["To"] == OTTO
    unreachable = [e for e in events(db, esc.id) if e.kind == "unreachable"]
    assert unreachable and "paging 1 reachable staff instead" in unreachable[0].detail
    assert any(f"escalation {esc.id}: POLICY REACHES NOBODY" in r.getMessage() for r in caplog.records)
    # It keeps paging Otto, round after round, until he takes it.
    t0 = escalations(db)[0].next_action_at
    for minutes in (1, 6, 11, 16):
        advance(rt, t0 + timedelta(minutes=minutes))
    work(rt)
    assert len(texted(fake_twilio, OTTO)) >= 4
    [ack] = post_sms(rt.settings, OTTO, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")


# --- repeat until acknowledged ----------------------------------------------------------------


def test_the_policy_repeats_until_someone_acknowledges_with_a_banner_on_every_page(
    live_app, fake_twilio, db, client, group, member, dana, cory, caplog
):
    rt = live_app
    fay = make_staff(db, "Fay", "fay@example.org", "facilitator", (), FAY)
    with db.session() as s:
        from checkin.models import GroupStaff

        s.add(GroupStaff(group_id=group.id, staff_id=fay.id, tier="backup"))
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    [esc] = escalations(db)
    work(rt)
    fake_twilio.wait_for_messages(1)
    assert texted(fake_twilio, DANA) and not texted(fake_twilio, FAY) and not texted(fake_twilio, CORY)
    t0 = escalations(db)[0].next_action_at
    advance(rt, t0 + timedelta(seconds=1))  # backups
    advance(rt, t0 + timedelta(minutes=5, seconds=2))  # coordinators
    with caplog.at_level(logging.ERROR):
        advance(rt, t0 + timedelta(minutes=10, seconds=3))  # the last step timed out: final alert
    work(rt)
    finals = [b for b in texted(fake_twilio) if "UNACKNOWLEDGED" in b]
    assert len(finals) == 3  # Dana, Fay and Cory (it used to be the coordinators, or 0 people)
    [esc] = escalations(db)
    assert esc.state == "unacknowledged" and esc.next_action_at is not None
    assert any(f"escalation {esc.id} UNACKNOWLEDGED" in r.getMessage() for r in caplog.records)
    # Every console page says so (one banner, linking the case), until it is taken.
    console = Console(client, "cory@example.org")
    for path in ("/console/", "/console/members", "/console/staff"):
        page = console.get(path).get_data(as_text=True)
        assert "1 crisis case waits for someone:" in page, path
        assert f'href="/console/escalations/{esc.id}"' in page, path
    # A round later the policy starts again from its first step: Dana is paged again.
    before = len(texted(fake_twilio, DANA))
    advance(rt, t0 + timedelta(minutes=15, seconds=4))
    work(rt)
    assert len(texted(fake_twilio, DANA)) == before + 1
    assert [e.kind for e in events(db, esc.id)].count("repeated") == 1
    # And round again after that, until Dana takes it.
    advance(rt, t0 + timedelta(minutes=20, seconds=5))
    advance(rt, t0 + timedelta(minutes=25, seconds=6))
    advance(rt, t0 + timedelta(minutes=30, seconds=7))
    advance(rt, t0 + timedelta(minutes=35, seconds=8))
    work(rt)
    # Widened, coordinators, final, and the third round's first step: Dana is in each.
    assert len(texted(fake_twilio, DANA)) == before + 5
    assert [e.kind for e in events(db, esc.id)].count("repeated") == 2
    [ack] = post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")
    work(rt)
    sent = len(fake_twilio.messages()), len(fake_twilio.calls())
    assert escalations(db)[0].state == "acknowledged"
    page = console.get("/console/").get_data(as_text=True)
    assert "waits for someone" not in page
    # Past any timeout of the policy (short of the re-alert to whoever took it): silence.
    advance(rt, t0 + timedelta(minutes=60))
    work(rt)
    after = len(fake_twilio.messages()), len(fake_twilio.calls())
    assert after[1] == sent[1] and all(
        m["params"]["To"] == DANA for m in fake_twilio.messages()[sent[0] :]
    )  # at most the acknowledger's "still open" reminder


# --- first-round recipients by role -------------------------------------------------------------


def test_a_coordinator_linked_to_the_group_is_paged_at_the_coordinator_step_not_the_first(
    live_app, fake_twilio, db, group, member, dana
):
    rt = live_app
    # `checkin staff add --role coordinator --group G` links the coordinator to G as a primary.
    make_staff(db, "Cory", "cory@example.org", "coordinator", [group.name], CORY)
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    work(rt)
    fake_twilio.wait_for_messages(1)
    assert {m["params"]["To"] for m in fake_twilio.messages()} == {DANA}
    assert set(called(fake_twilio)) == {DANA}
    t0 = escalations(db)[0].next_action_at
    # No backups in this group: the next step that adds someone is the coordinators.
    advance(rt, t0 + timedelta(seconds=1))
    work(rt)
    fake_twilio.wait_for(lambda: any(m["params"]["To"] == CORY for m in fake_twilio.messages()))
    with db.session() as s:
        notified = s.scalars(
            select(EscalationEvent.detail).where(
                EscalationEvent.kind == "notified",
                EscalationEvent.staff_id != None,  # noqa: E711
            )
        ).all()
    assert any(d.startswith("coordinator tier") for d in notified)


# --- a bare digit, and a bare HELP ---------------------------------------------------------------


def test_a_bare_digit_with_nothing_asked_gets_a_question_not_an_alarm(
    live_app, fake_twilio, db, member, dana
):
    rt = live_app
    for body in ("1", "1", "3"):
        # A routine text: empty TwiML; a worker decides it and its answer comes by REST.
        assert post_sms(rt.settings, member.phone, FROM_NUMBER, body) == []
    work(rt)
    replies = texted(fake_twilio, member.phone)
    assert len(replies) == 3, replies
    assert all(
        r.startswith("Thanks. There is nothing to answer right now. When a meeting reminder comes")
        for r in replies
    )
    assert escalations(db) == []
    with db.session() as s:
        assert set(s.scalars(select(AssessmentRecord.level))) == {"none"}
        assert s.scalar(select(OutboxItem.id).where(OutboxItem.purpose == "alert")) is None
    # With words it is an unprompted check-in, as the question suggests.
    assert post_sms(rt.settings, member.phone, FROM_NUMBER, "4 good") == []
    work(rt)
    assert texted(fake_twilio, member.phone)[3:] == ["Thanks, Sam. We saved your check-in: 4 of 5."]
    assert len(fake_twilio.messages()) == 4  # the member's four answers, nothing to anyone else


def test_a_bare_1_after_a_reminder_is_an_rsvp_and_not_a_risk(live_app, fake_twilio, db, member, dana):
    from checkin import outbox

    with db.session() as s:
        item, _ = outbox.add(
            s,
            f"reminder:{member.id}:20261208T2300Z:1440",
            to=member.phone,
            member_id=member.id,
            purpose="reminder",
            body="Group tomorrow 6pm. Reply 1 if you're coming, 2 if not.",
        )
        s.flush()
        item.sent_at, item.state = utcnow() - timedelta(hours=1), "sent"
    assert post_sms(live_app.settings, member.phone, FROM_NUMBER, "1") == []  # answered by REST
    work(live_app)
    [reply] = texted(fake_twilio, member.phone)
    assert reply.startswith("Thanks, Sam. We have you down as coming")
    with db.session() as s:
        assert list(s.scalars(select(AssessmentRecord.level))) == ["none"]  # it used to be "watch"
    assert escalations(db) == []


def test_a_members_bare_help_pages_a_facilitator_and_keeps_the_carrier_help(
    live_app, fake_twilio, db, member, spanish_member, dana
):
    rt = live_app
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, "HELP")
    assert "Checkin" in reply and "STOP" in reply and "988" in reply and "facilitator" in reply
    [esc] = escalations(db)
    assert esc.level == "urgent" and esc.member_id == member.id
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    assert text["params"]["To"] == DANA and f"ALERT {esc.id} (urgent)" in text["params"]["Body"]
    [reply] = post_sms(rt.settings, spanish_member.phone, FROM_NUMBER, "AYUDA")
    assert "Checkin" in reply and "STOP" in reply and "llama al 988 y marca 2" in reply.lower()
    assert len(escalations(db)) == 2
    # INFO only asks what this is; an unknown number's HELP is the carrier's answer, no case.
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, "INFO")
    [reply] = post_sms(rt.settings, STRANGER, FROM_NUMBER, "HELP")
    assert reply.startswith(("This number sends reminders", "Checkin:"))
    assert len(escalations(db)) == 2


def test_a_members_help_when_nobody_can_be_paged_drops_the_promise(live_app, db, member):
    [reply] = post_sms(live_app.settings, member.phone, FROM_NUMBER, "HELP")
    assert "STOP" in reply and "988" in reply and "facilitator" not in reply
    [reply] = post_sms(live_app.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    assert "988" in reply and "911" in reply and "being told" not in reply


# --- every new message on a live case reaches someone ---------------------------------------------

ELI = "+12025550202"
BRIDGE = "i'm on the bridge now"
URGENT_TEXT = "please call me, I need to talk to someone"


def calls_to(fake_twilio, to):
    return [c for c in fake_twilio.calls() if c["params"]["To"] == to]


def test_after_ack_every_new_crisis_or_urgent_message_reaches_whoever_took_it(
    live_app, fake_twilio, db, group, member, dana, cory, caplog
):
    rt = live_app
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    [esc] = escalations(db)
    work(rt)
    fake_twilio.wait_for_messages(1)
    fake_twilio.wait_for_calls(1)
    [ack] = post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")
    work(rt)
    texts, calls = len(texted(fake_twilio, DANA)), len(calls_to(fake_twilio, DANA))
    # A crisis after the ACK: Dana is texted and called, as by the first page (it used to reach nobody).
    with caplog.at_level(logging.INFO):
        [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, BRIDGE)
    assert "facilitator is being told" in reply and "988" in reply
    work(rt)
    fake_twilio.wait_for(lambda: len(texted(fake_twilio, DANA)) == texts + 1)
    alert = texted(fake_twilio, DANA)[-1]
    link = f"{rt.settings.public_base_url}/console/escalations/{esc.id}"
    assert alert == (
        f"Checkin ALERT {esc.id} (crisis): new crisis message from Sam, Tuesday Group. "
        f"Reply RESOLVE {esc.id} <note> when done. {link}"
    )  # ids, first name, level and link: never the words
    fake_twilio.wait_for(lambda: len(calls_to(fake_twilio, DANA)) == calls + 1)
    call_url = calls_to(fake_twilio, DANA)[-1]["params"]["Url"]
    assert call_url.endswith(f"/twilio/voice/alert/{esc.id}")
    # What Dana hears when she picks up: that it is new, on her case; not the first page's "press 1".
    heard = answer_call(rt.settings, call_url, DANA)
    assert "a new message from Sam, Tuesday Group, on the case you took" in heard
    assert "Press 1" not in heard and f"RESOLVE {esc.id}" in heard
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert "bridge" not in logs and member.phone not in logs
    # An urgent one: a text to Dana, no call.
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, URGENT_TEXT)
    assert "facilitator is being told" in reply
    work(rt)
    fake_twilio.wait_for(lambda: len(texted(fake_twilio, DANA)) == texts + 2)
    assert "new urgent message from Sam" in texted(fake_twilio, DANA)[-1]
    assert len(calls_to(fake_twilio, DANA)) == calls + 1
    # Still Dana's; nobody else was paged (Cory is the policy's last step).
    [esc] = escalations(db)
    assert esc.state == "acknowledged" and not texted(fake_twilio, CORY)


def test_a_holder_who_cannot_be_reached_hands_the_new_message_back_to_the_circle(
    live_app, fake_twilio, db, group, member, dana
):
    rt = live_app
    make_staff(db, "Eli", "eli@example.org", "facilitator", [group.name], ELI)
    post_sms(rt.settings, member.phone, FROM_NUMBER, URGENT_TEXT)
    [esc] = escalations(db)
    post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    work(rt)
    fake_twilio.wait_for(lambda: any("taken by Dana" in b for b in texted(fake_twilio, ELI)))
    before = len(texted(fake_twilio, ELI))
    # The new message's text to Dana is undelivered: she is called; the call is not answered either.
    post_sms(rt.settings, member.phone, FROM_NUMBER, URGENT_TEXT)
    work(rt)
    fake_twilio.wait_for(lambda: any("new urgent message" in b for b in texted(fake_twilio, DANA)))
    sms = [m for m in fake_twilio.messages() if "new urgent message" in m["params"]["Body"]][-1]
    assert fake_twilio.send_status(sms["sid"], "undelivered", error_code=30005) == 204
    work(rt)
    [call] = fake_twilio.wait_for_calls(1)
    assert call["params"]["To"] == DANA
    assert escalations(db)[0].state == "acknowledged"  # the call may still reach her
    assert fake_twilio.send_status(call["sid"], "no-answer") == 204
    work(rt)
    # Back to the circle: nobody holds it, and Eli is paged to take it.
    fake_twilio.wait_for(lambda: len(texted(fake_twilio, ELI)) > before)
    assert f"Reply ACK {esc.id} to take it" in texted(fake_twilio, ELI)[-1]
    [esc] = escalations(db)
    assert esc.state == "open" and esc.acknowledged_by is None
    assert "reassigned" in [e.kind for e in events(db, esc.id)]
    [ack] = post_sms(rt.settings, ELI, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")


def test_a_holder_with_no_phone_now_means_the_circle_is_paged_at_once(
    live_app, fake_twilio, db, group, member, dana
):
    from checkin.models import StaffUser

    rt = live_app
    make_staff(db, "Eli", "eli@example.org", "facilitator", [group.name], ELI)
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    [esc] = escalations(db)
    post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    with db.session() as s:
        s.get(StaffUser, dana.id).phone = None  # a coordinator cleared it in the staff table
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, BRIDGE)
    assert "facilitator is being told" in reply  # true: Eli is
    [esc] = escalations(db)
    assert esc.state == "open" and esc.acknowledged_by is None
    work(rt)
    fake_twilio.wait_for(lambda: any(f"Reply ACK {esc.id}" in b for b in texted(fake_twilio, ELI)))
    assert "reassigned" in [e.kind for e in events(db, esc.id)]


# --- nobody can be paged: no promise, on every path ----------------------------------------------


def test_a_message_on_a_live_case_that_pages_nobody_promises_nobody_in_either_language(
    live_app, fake_twilio, db, group, member, spanish_member, dana, caplog
):
    from checkin.models import StaffUser

    rt = live_app
    # Two urgent cases while Dana could be paged; she takes Rosa's.
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, URGENT_TEXT)
    assert "facilitator is being told" in reply
    [reply] = post_sms(rt.settings, spanish_member.phone, FROM_NUMBER, "necesito hablar con alguien")
    assert "Estamos avisando a un facilitador" in reply
    sam_case, rosa_case = escalations(db)
    post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {rosa_case.id}")
    # Now nobody has a phone: every policy step and every fallback reaches nobody.
    with db.session() as s:
        s.get(StaffUser, dana.id).phone = None
    alerts_before = len(alert_rows(db))
    # Raise (urgent -> crisis): 988 and 911, no promise (it used to promise, paging 0).
    with caplog.at_level(logging.ERROR):
        [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    assert "988" in reply and "911" in reply and "facilitator" not in reply
    assert escalations(db)[0].level == "crisis"
    assert any("POLICY REACHES NOBODY" in r.getMessage() for r in caplog.records)
    # Attach to the same (now unacknowledged) case: still no promise.
    [reply] = post_sms(rt.settings, member.phone, FROM_NUMBER, URGENT_TEXT)
    assert "988" in reply and "facilitator" not in reply
    # Spanish, on a case whose holder has no phone now: the Spanish wording without the promise.
    [reply] = post_sms(rt.settings, spanish_member.phone, FROM_NUMBER, "voy a matarme esta noche")
    assert "911" in reply and "988 y marca 2" in reply and "facilitador" not in reply
    assert escalations(db)[1].state != "acknowledged"  # nobody holds it who can be reached
    assert len(alert_rows(db)) == alerts_before  # and indeed nobody was paged


def alert_rows(db):
    with db.session() as s:
        return s.scalars(select(OutboxItem.id).where(OutboxItem.purpose == "alert")).all()


# --- the fallback's facilitator can act on the case they were paged for ----------------------------


def test_a_facilitator_paged_for_another_groups_case_can_list_open_and_call_back(
    live_app, fake_twilio, db, client, group, member
):
    from checkin.accounts.models import AuditEvent
    from checkin.directory import add_group

    rt = live_app
    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", "+15005550009")
    make_staff(db, "Jordan", "jordan@example.org", "coordinator")  # no phone
    otto = make_staff(db, "Otto", "otto@example.org", "facilitator", ["Thursday Group"], OTTO)
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    [esc] = escalations(db)
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    assert text["params"]["To"] == OTTO
    [listed] = post_sms(rt.settings, OTTO, FROM_NUMBER, "LIST")
    assert listed.startswith(f"Open: {esc.id} crisis Sam (not taken)")
    [ack] = post_sms(rt.settings, OTTO, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")
    [listed] = post_sms(rt.settings, OTTO, FROM_NUMBER, "LIST")
    assert listed.startswith(f"Open: {esc.id} crisis Sam (taken by you)")  # it said "no open alerts"
    # The link in his alert opens the case, with the member's number to call (it said Not Found).
    console = Console(client, "otto@example.org")
    response = console.get(f"/console/escalations/{esc.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'href="tel:{member.phone}"' in page and "Sam" in page
    assert f'href="/console/members/{member.id}"' not in page  # that case only: not the member's pages
    assert console.get(f"/console/members/{member.id}").status_code == 404
    assert f"#{esc.id}" in console.get("/console/").get_data(as_text=True)
    with db.session() as s:
        audited = s.scalars(select(AuditEvent).where(AuditEvent.action == "view_paged_case")).all()
        assert [(a.staff_id, a.escalation_id) for a in audited] == [(otto.id, esc.id)]
    # A case of that group he was never paged for stays out of his reach.
    with db.session() as s:
        other = Escalation(member_id=None, group_id=group.id, level="urgent", state="open")
        s.add(other)
        s.flush()
        other_id = other.id
    assert console.get(f"/console/escalations/{other_id}").status_code == 404
    [listed] = post_sms(rt.settings, OTTO, FROM_NUMBER, "LIST")
    assert f"{other_id} urgent" not in listed
    [refused] = post_sms(rt.settings, OTTO, FROM_NUMBER, f"ACK {other_id}")
    assert refused.startswith(f"There is no alert {other_id} in your groups")


# --- LIST: what needs you first ---------------------------------------------------------------------


def test_list_puts_untaken_crisis_first_then_urgent_then_yours_and_says_how_many_more(
    live_app, db, group, dana
):
    from checkin.directory import add_member

    rt = live_app
    make_staff(db, "Eli", "eli@example.org", "facilitator", [group.name], ELI)
    with db.session() as s:
        people = [add_member(s, group.name, f"+120255503{n:02d}", f"M{n} Member") for n in range(8)]
    phones = [p.phone for p in people]

    def text(n, body):
        post_sms(rt.settings, phones[n], FROM_NUMBER, body)
        return max(e.id for e in escalations(db))

    taken = text(0, CRISIS_TEXT)
    post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {taken}")
    elis = text(1, CRISIS_TEXT)
    post_sms(rt.settings, ELI, FROM_NUMBER, f"ACK {elis}")
    urgent_c, crisis_d, urgent_e, crisis_f = (
        text(2, URGENT_TEXT),
        text(3, CRISIS_TEXT),
        text(4, URGENT_TEXT),
        text(5, CRISIS_TEXT),
    )
    [listed] = post_sms(rt.settings, DANA, FROM_NUMBER, "LIST")
    assert listed == (
        f"Open: {crisis_d} crisis M3 (not taken); {crisis_f} crisis M5 (not taken); "
        f"{urgent_c} urgent M2 (not taken); {urgent_e} urgent M4 (not taken); {taken} crisis M0 (taken by you); "
        "1 taken by others. Reply ACK <n> or RESOLVE <n> <note>."
    )
    crisis_g, crisis_h = text(6, CRISIS_TEXT), text(7, CRISIS_TEXT)
    [listed] = post_sms(rt.settings, DANA, FROM_NUMBER, "LIST")
    assert listed == (
        f"Open: {crisis_d} crisis M3 (not taken); {crisis_f} crisis M5 (not taken); "
        f"{crisis_g} crisis M6 (not taken); {crisis_h} crisis M7 (not taken); {urgent_c} urgent M2 (not taken); "
        "2 more; 1 taken by others. Reply ACK <n> or RESOLVE <n> <note>."
    )


# --- the console: one banner, the case's own actions first -------------------------------------------


def test_many_unacknowledged_cases_make_one_banner_and_the_case_page_starts_with_acknowledge(
    live_app, db, client, group, cory
):
    with db.session() as s:
        cases = [
            Escalation(member_id=None, group_id=group.id, level=level, state="unacknowledged")
            for level in ["crisis"] * 14 + ["urgent"] * 2
        ]
        s.add_all(cases)
        s.flush()
        ids = [c.id for c in cases]
    console = Console(client, "cory@example.org")
    for path in ("/console/", "/console/members"):
        page = console.get(path).get_data(as_text=True)
        assert page.count('class="flash error alarm"') == 1, path
        assert "14 crisis cases wait for someone:" in page and "2 urgent cases wait for someone:" in page
        for esc_id in ids[:12] + ids[14:]:
            assert f'href="/console/escalations/{esc_id}"' in page, (path, esc_id)
        assert "2 more</a>" in page  # the 13th and 14th crisis: in the list the link opens
    # On a case's page the banner is counts and a link per level; phone first, who and where come
    # first (after what the member wrote, when there is something), then Acknowledge before the other actions.
    page = console.get(f"/console/escalations/{ids[0]}").get_data(as_text=True)
    assert page.count('class="flash error alarm"') == 1
    assert "14 crisis cases wait for someone:" in page and "2 urgent cases wait for someone:" in page
    assert page.count(">see them</a>") == 2 and f'href="/console/escalations/{ids[1]}"' not in page
    assert (
        page.index('class="facts card"')
        < page.index("Acknowledge: I am on it")
        < page.index("Resolution note")
    )


def test_alerts_that_failed_before_the_ack_do_not_take_the_case_from_whoever_took_it(
    live_app, fake_twilio, db, group, member, dana
):
    rt = live_app
    post_sms(rt.settings, member.phone, FROM_NUMBER, CRISIS_TEXT)
    [esc] = escalations(db)
    work(rt)
    [text] = fake_twilio.wait_for_messages(1)
    [call] = fake_twilio.wait_for_calls(1)
    [ack] = post_sms(rt.settings, DANA, FROM_NUMBER, f"ACK {esc.id}")
    assert ack.startswith(f"You have escalation {esc.id}")
    # The first page's text and call come back failed only now: Dana took it meanwhile, it stays hers.
    assert fake_twilio.send_status(text["sid"], "undelivered", error_code=30005) == 204
    assert fake_twilio.send_status(call["sid"], "no-answer") == 204
    work(rt)
    [esc] = escalations(db)
    assert esc.state == "acknowledged" and esc.acknowledged_by == dana.id
    assert "reassigned" not in [e.kind for e in events(db, esc.id)]

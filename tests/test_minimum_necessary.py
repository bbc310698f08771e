"""Minimum necessary (issue 17): facilitators see a member's data from their own groups only, numbers are
masked in lists and revealed on purpose, every read and setting change is an audit row, assessments'
rule ids and scores are encrypted at rest, and the simulator names no real member anywhere."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select, text

from checkin.accounts import audit_chain
from checkin.accounts.models import AuditEvent
from checkin.escalation.models import AssessmentRecord, Escalation
from tests.console_helpers import (  # noqa: F401 - fixtures
    CRISIS_TEXT,
    Console,
    cheap_password_hashing,
    make_staff,
    plain_http,
)

B_NUMBER = "+15005550009"
B_TEXT = "the thursday circle is where I talk about my brother"
A_TEXT = "tuesday meeting was good for me thanks"
B_CRISIS = "I am going to end my life this weekend"


def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def rows(db, action=None):
    with db.session() as s:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(s.scalars(query))


@pytest.fixture
def two_groups(db, twilio, group, member):
    """Sam is in group A (Tuesday) and group B (Thursday, its own number); Frankie facilitates A only."""
    from checkin.directory import add_group
    from checkin.models import GroupMember

    with db.session() as s:
        b = add_group(s, "Thursday Group", "America/Chicago", B_NUMBER)
        s.add(GroupMember(group_id=b.id, member_id=member.id))
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    make_staff(db, "Otto", "otto@example.org", "facilitator", ["Thursday Group"], "+12025550178")
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    assert twilio.sms(member.phone, A_TEXT).status_code == 200
    assert twilio.sms(member.phone, B_TEXT, to=B_NUMBER).status_code == 200
    assert twilio.sms(member.phone, B_CRISIS, to=B_NUMBER).status_code == 200
    with db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == member.id))
    assert esc.group_id == b.id  # written to B's number: B's case
    return b, esc.id


def test_a_facilitator_of_group_a_sees_nothing_from_group_b(app, db, member, group, two_groups):
    b, esc_id = two_groups
    frankie = Console(app.test_client(), "frankie@example.org")
    page = page_text(frankie.get(f"/console/members/{member.id}"))
    assert A_TEXT in page
    assert B_TEXT not in page and B_CRISIS not in page and "Thursday Group" not in page
    assert f"/console/escalations/{esc_id}" not in page
    # Group B's facilitator sees B's messages and case, not A's.
    otto = Console(app.test_client(), "otto@example.org")
    page = page_text(otto.get(f"/console/members/{member.id}"))
    assert B_TEXT in page and B_CRISIS in page and A_TEXT not in page and "Tuesday Group" not in page
    # A coordinator sees everything, and each read is on record with the groups it showed.
    casey = Console(app.test_client(), "casey@example.org")
    page = page_text(casey.get(f"/console/members/{member.id}"))
    assert A_TEXT in page and B_TEXT in page
    details = [r.detail.rsplit(":", 1)[0] for r in rows(db, "view_messages")]
    assert details == [f"timeline (group:{group.id})", f"timeline (group:{b.id})", "timeline (all groups)"]


def test_a_number_shared_with_another_group_is_not_read_by_either_facilitator(app, db, member, group, twilio):
    """Two groups on the service's one number: a message cannot be told apart, so neither facilitator reads it."""
    from checkin.directory import add_group
    from checkin.models import Group, GroupMember

    with db.session() as s:
        s.get(Group, group.id).phone_number = None
        b = add_group(s, "Thursday Group", "America/Chicago", None)
        s.add(GroupMember(group_id=b.id, member_id=member.id))
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name])
    assert twilio.sms(member.phone, A_TEXT).status_code == 200
    frankie = Console(app.test_client(), "frankie@example.org")
    page = page_text(frankie.get(f"/console/members/{member.id}"))
    assert A_TEXT not in page


def test_the_escalation_page_shows_a_facilitator_the_cases_group_only(app, db, member, two_groups):
    b, esc_id = two_groups
    otto = Console(app.test_client(), "otto@example.org")
    page = page_text(otto.get(f"/console/escalations/{esc_id}"))
    assert B_CRISIS in page and A_TEXT not in page
    [read] = rows(db, "view_messages")
    assert (read.member_id, read.escalation_id) == (member.id, esc_id)


def test_numbers_are_masked_in_the_list_and_revealed_on_purpose(app, db, member, group, two_groups):
    frankie = Console(app.test_client(), "frankie@example.org")
    page = page_text(frankie.get("/console/members"))
    assert member.phone not in page and "555-0101" not in page
    assert "••• ••• 0101" in page and "Show number" in page
    revealed = frankie.post(f"/console/members/{member.id}/phone", data={"group": ""})
    assert revealed.status_code == 200
    assert f'href="tel:{member.phone}"' in revealed.get_data(as_text=True)
    [row] = rows(db, "reveal_phone")
    assert (row.member_id, row.detail) == (member.id, "members list")
    assert member.phone not in (row.detail or "")


def test_a_facilitator_cannot_reveal_a_number_outside_their_groups(app, db, group):
    from checkin.directory import add_group, add_member

    with db.session() as s:
        add_group(s, "Thursday Group", "America/Chicago", B_NUMBER)
        olive = add_member(s, "Thursday Group", "+12025550133", "Olive Other")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name])
    frankie = Console(app.test_client(), "frankie@example.org")
    assert frankie.post(f"/console/members/{olive.id}/phone").status_code == 404
    assert rows(db, "reveal_phone") == []


def test_setting_changes_are_audit_rows(app, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    casey = Console(app.test_client(), "casey@example.org")
    assert casey.post(f"/console/groups/{group.id}/plan/defaults").status_code == 302
    assert casey.post(f"/console/groups/{group.id}/calendar/rotate").status_code == 302
    assert [r.detail for r in rows(db, "setting_changed")] == [
        f"group:{group.id} reminder plan reset to the defaults",
        f"group:{group.id} calendar address renewed",
    ]
    with db.session() as s:
        assert audit_chain.verify(s).ok


def test_rule_ids_and_scores_are_encrypted_at_rest_and_shown_to_staff(app, db, member, twilio):
    assert twilio.sms(member.phone, CRISIS_TEXT).status_code == 200
    with db.session() as s:
        record = s.scalar(select(AssessmentRecord))
        assert record.level == "crisis" and record.rules
        raw = s.execute(text("SELECT rules, score FROM assessments")).one()
        assert not any(rule.encode() in bytes(raw.rules) for rule in record.rules)
        events = (
            s.execute(text("SELECT detail FROM escalation_events WHERE kind = 'assessed'")).scalars().all()
        )
        assert events == [None]
        esc_id = s.scalar(select(Escalation.id))
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    casey = Console(app.test_client(), "casey@example.org")
    from webhooks.console.words import rule_why

    why = rule_why(",".join(record.rules))  # decrypted for staff: the case's reason in words
    assert why and why in page_text(casey.get(f"/console/escalations/{esc_id}"))


def test_a_score_is_kept_encrypted_and_still_read_as_history(db, member, twilio):
    assert twilio.sms(member.phone, "2").status_code == 200
    with db.session() as s:
        scores = s.scalars(select(AssessmentRecord.score).where(AssessmentRecord.score.is_not(None))).all()
        raw = s.execute(text("SELECT score FROM assessments WHERE score IS NOT NULL")).scalars().all()
    assert all(bytes(r) != b"2" and len(bytes(r)) > 40 for r in raw)
    assert scores in ([], [2])  # an unasked bare digit is not a score; a scored one decrypts


def test_the_simulator_names_no_real_member_in_logs_or_tables_and_is_audited(app, db, member, group, caplog):
    from checkin.directory import add_staff

    with db.session() as s:
        add_staff(s, "Dana Ortiz", "dana@example.org", "facilitator", "+12025550201", [group.name])
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    casey = Console(app.test_client(), "casey@example.org")
    caplog.set_level(logging.INFO)
    response = casey.post("/console/simulator", data={"who": f"{group.id}:{member.id}", "text": CRISIS_TEXT})
    assert response.status_code == 200 and "Dana Ortiz" in page_text(response)  # the alert was shown
    logged = [r.getMessage() for r in caplog.records]
    assert any(re.search(r"member=\d+", line) for line in logged)  # the run logged as usual...
    mentions = {int(m) for line in logged for m in re.findall(r"member=(\d+)", line)}
    assert member.id not in mentions  # ...about the stand-in only
    with db.session() as s:
        from checkin.models import Member, Message

        assert s.scalars(select(Member.id)).all() == [member.id]
        assert s.scalars(select(Message.id)).all() == []
    [row] = rows(db, "simulate")
    assert (row.member_id, row.detail) == (member.id, f"group:{group.id} texts: 1")


def test_the_digest_names_first_names_only(db, group, member):
    from datetime import timedelta

    from checkin.db import utcnow
    from checkin.directory import add_member, add_staff
    from checkin.escalation import digest
    from checkin.models import Message, OutboxItem

    with db.session() as s:
        rosa = add_member(s, group.name, "+12025550102", "Rosa Medina")
        add_staff(s, "Dana Ortiz", "dana@example.org", "facilitator", "+12025550201", [group.name])
    now = utcnow()
    with db.session() as s:
        for who in (member, rosa):
            message = Message(
                direction="inbound", member_id=who.id, from_number="x", to_number="y", status="received"
            )
            s.add(message)
            s.flush()
            s.add(
                AssessmentRecord(
                    message_id=message.id, member_id=who.id, level="watch", rules=[], created_at=now
                )
            )

    class Ctx:
        base_url = "https://checkin.example.org"

        class policy:
            @staticmethod
            def for_group(_name):
                class P:
                    digest_hour = 0

                return P

    with db.session() as s:
        digest.send_due(s, now + timedelta(days=1), Ctx)
    with db.session() as s:
        bodies = s.scalars(select(OutboxItem.body).where(OutboxItem.purpose == "digest")).all()
    assert bodies and all("Sam" in b and "Rosa" in b for b in bodies)
    assert not any("Rivera" in b or "Medina" in b for b in bodies)


def test_the_call_simulator_names_no_real_member_in_logs_and_is_audited(app, db, member, group, caplog):
    make_staff(db, "Dana Ortiz", "dana@example.org", "facilitator", [group.name], "+12025550201")
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    casey = Console(app.test_client(), "casey@example.org")
    caplog.set_level(logging.INFO)
    who = f"{group.id}:{member.id}"
    assert casey.post("/console/simulator/call", data={"who": who, "call": "1"}).status_code == 200
    helped = casey.post("/console/simulator/call", data={"who": who, "history_for": who, "key": "9"})
    assert helped.status_code == 200 and "Dana Ortiz" in page_text(helped)  # the alert was shown
    mentions = {int(m) for r in caplog.records for m in re.findall(r"member=(\d+)", r.getMessage())}
    assert mentions and member.id not in mentions
    assert [(r.member_id, r.detail) for r in rows(db, "simulate")] == [
        (member.id, f"group:{group.id} call: 1 step(s)"),
        (member.id, f"group:{group.id} call: 2 step(s)"),
    ]

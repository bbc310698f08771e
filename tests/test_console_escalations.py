"""Escalations in the console: filters, the timeline, acknowledge, resolve with a note, reassign, notes."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from checkin.escalation.models import Escalation, EscalationEvent
from checkin.models import OutboxItem
from tests.console_helpers import Console, World, cheap_password_hashing, make_staff, plain_http  # noqa: F401


@pytest.fixture
def world(db, twilio, group, member):
    return World(db, twilio, group, member)


def state(db, esc_id):
    with db.session() as s:
        esc = s.get(Escalation, esc_id)
        events = s.execute(
            select(
                EscalationEvent.kind, EscalationEvent.staff_id, EscalationEvent.channel, EscalationEvent.note
            )
            .where(EscalationEvent.escalation_id == esc_id)
            .order_by(EscalationEvent.id)
        ).all()
        return esc, events


def outbox_rows(db, like):
    with db.session() as s:
        return s.scalars(
            select(OutboxItem).where(OutboxItem.idempotency_key.like(like)).order_by(OutboxItem.id)
        ).all()


def listed(page, esc):
    """In the list itself (every page's banner links the cases nobody has taken too)."""
    return f">#{esc.id}</a>" in page.split('id="live-escalations"', 1)[1]


def test_filters_by_state_level_and_group(client, db, world):
    console = Console(client, "casey@example.org")
    crisis, urgent = world.escalation, world.other_escalation
    cases = {
        "": (True, True),
        "?level=crisis": (True, False),
        "?level=urgent": (False, True),
        f"?group={world.other_group.id}": (False, True),
        "?state=resolved": (False, False),
        "?state=open": (True, True),
    }
    for query, (want_crisis, want_urgent) in cases.items():
        page = console.get("/console/escalations" + query).get_data(as_text=True)
        assert (listed(page, crisis), listed(page, urgent)) == (want_crisis, want_urgent), query
    assert console.get("/console/escalations?state=bogus").status_code == 400
    assert console.get("/console/escalations?level=meh").status_code == 400


def test_acknowledge_from_the_console_stops_alerts_and_tells_the_others(client, db, world):
    esc = world.escalation
    alerts = outbox_rows(db, f"alert:{esc.id}:%")
    assert {a.to_number for a in alerts} == {"+12025550177"}  # Frankie is on call
    console = Console(client, "casey@example.org")
    response = console.post(f"/console/escalations/{esc.id}/acknowledge", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert (
        f"You have escalation {esc.id} (crisis): Sam, Tuesday Group. Resolve it below with a note when it is over."
        in page
    )
    assert "Reply RESOLVE" not in page  # the texting instructions are for SMS; here the button is on the page
    after, events = state(db, esc.id)
    assert (after.state, after.acknowledged_by) == ("acknowledged", world.coordinator.id)
    assert events[-1][:3] == ("acknowledged", world.coordinator.id, "console")
    [info] = outbox_rows(db, f"ack:{esc.id}:%")
    assert info.to_number == "+12025550177" and "was taken by Casey" in info.body
    # Acknowledging twice is harmless and says so.
    again = console.post(f"/console/escalations/{esc.id}/acknowledge", follow_redirects=True).get_data(
        as_text=True
    )
    assert f"You already have escalation {esc.id}. Resolve it below with a note when it is over." in again


def test_resolve_needs_a_note_and_keeps_it_in_the_timeline(client, db, world):
    esc = world.escalation
    console = Console(client, "frankie@example.org")
    refused = console.post(f"/console/escalations/{esc.id}/resolve", {"note": "  "})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    # At the note's box, which is marked, as well as in the summary above the form.
    assert (
        '<p class="field-error" id="resolve-note-error">Write a short note saying how it was resolved.</p>'
        in page
    )
    assert re.search(
        r'<textarea id="resolve-note"[^>]*aria-invalid="true" aria-describedby="resolve-note-error"', page
    )
    assert state(db, esc.id)[0].state == "open"
    console.post(
        f"/console/escalations/{esc.id}/resolve", {"note": "Called Sam; safe with his sister tonight."}
    )
    after, events = state(db, esc.id)
    assert (after.state, after.resolved_by) == ("resolved", world.facilitator.id)
    assert events[-1] == (
        "resolved",
        world.facilitator.id,
        "console",
        "Called Sam; safe with his sister tonight.",
    )
    page = console.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    assert "Called Sam; safe with his sister tonight." in page and "Resolved by Frankie" in page
    assert "Acknowledge: I am on it" not in page  # no actions on a resolved case
    again = console.post(f"/console/escalations/{esc.id}/resolve", {"note": "again"}, follow_redirects=True)
    assert f"Escalation {esc.id} is already resolved." in again.get_data(as_text=True)


def test_taking_and_resolving_a_case_are_in_the_audit_log(app, client, db, world, twilio):
    esc = world.escalation
    twilio.sms("+12025550177", f"ACK {esc.id}")  # Frankie takes it by text...
    frankie = Console(client, "frankie@example.org")  # ...and closes it in the console
    frankie.post(f"/console/escalations/{esc.id}/resolve", {"note": "Called Sam; safe with his sister."})
    assert state(db, esc.id)[0].state == "resolved"
    log = Console(app.test_client(), "casey@example.org").get("/console/audit").get_data(as_text=True)
    assert f"Frankie took Sam Rivera&#39;s case (case #{esc.id}): by text" in log
    assert f"Frankie resolved Sam Rivera&#39;s case (case #{esc.id}): in the console" in log
    assert "safe with his sister" not in log  # the note may quote the member: not in the log


def test_notes_are_added_to_the_trail(client, db, world):
    esc = world.escalation
    console = Console(client, "frankie@example.org")
    console.post(f"/console/escalations/{esc.id}/note", {"note": "Left a voicemail"})
    assert state(db, esc.id)[1][-1] == ("note", world.facilitator.id, "console", "Left a voicemail")
    page = console.post(f"/console/escalations/{esc.id}/note", {"note": ""}, follow_redirects=True).get_data(
        as_text=True
    )
    assert "A note cannot be empty." in page


def test_reassign_hands_it_over_and_texts_the_new_person(client, db, world):
    esc = world.escalation
    backup = make_staff(db, "Bo", "bo@example.org", "facilitator", [world.group.name], "+12025550179")
    console = Console(client, "frankie@example.org")
    console.post(f"/console/escalations/{esc.id}/acknowledge")
    page = console.post(
        f"/console/escalations/{esc.id}/reassign", {"staff_id": backup.id}, follow_redirects=True
    )
    assert f"Escalation {esc.id} is now with Bo." in page.get_data(as_text=True)
    after, events = state(db, esc.id)
    assert (after.state, after.acknowledged_by) == ("acknowledged", backup.id)
    assert events[-1][:3] == ("reassigned", world.facilitator.id, "console")
    page = console.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    assert "Reassigned by Frankie" in page and "to Bo</small>" in page
    page = console.get(f"/console/members/{world.member.id}").get_data(
        as_text=True
    )  # the member's timeline says it alike
    assert "Reassigned by Frankie" in page and "to Bo</small>" in page and "staff:" not in page
    [text] = outbox_rows(db, f"reassign:{esc.id}:%")
    assert (
        text.to_number == "+12025550179"
        and f"ALERT {esc.id} (crisis) was handed to you by Frankie" in text.body
    )


@pytest.mark.parametrize("email", ["casey@example.org", "frankie@example.org"])
def test_reassign_to_someone_outside_the_group_is_refused_without_naming_them(client, db, world, email):
    esc = world.escalation
    console = Console(client, email)
    for staff_id in (world.other_facilitator.id, 999, ""):
        page = console.post(
            f"/console/escalations/{esc.id}/reassign", {"staff_id": staff_id}, follow_redirects=True
        )
        text = page.get_data(as_text=True)
        # The same words whoever the id names: a facilitator learns nothing about another group's staff.
        assert "Hand over to: choose someone from the list." in text and "Otto" not in text, staff_id
    after, events = state(db, esc.id)
    assert after.state == "open" and "reassigned" not in [e[0] for e in events]


def test_hand_over_asks_who_rather_than_defaulting_to_yourself(client, db, world):
    esc = world.escalation
    console = Console(client, "frankie@example.org")
    page = console.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    first = page.index('<option value="" selected disabled>Choose who takes it</option>')
    assert first < page.index("Frankie (facilitator, you)") and "Otto" not in page
    console.post(f"/console/escalations/{esc.id}/acknowledge")
    page = console.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    assert "Frankie (facilitator" not in page  # it is Frankie's already: not offered to Frankie again


def test_home_puts_open_escalations_first_with_level_age_and_who_is_on_it(client, db, world):
    console = Console(client, "casey@example.org")
    page = console.get("/console/").get_data(as_text=True)
    assert "Open escalations (2)" in page
    assert page.index("Open escalations") < page.index("Still to send today") < page.index("Yesterday")
    assert 'nobody yet <small class="muted">(alerted: Frankie)</small>' in page
    console.post(f"/console/escalations/{world.escalation.id}/acknowledge")
    page = console.get("/console/").get_data(as_text=True)
    row = page[page.index(f">#{world.escalation.id}</a>") :]
    row = row[: row.index("</tr>")]
    assert "crisis" in row and "acknowledged" in row and "Casey" in row
    # Its age: under a minute, unless a loaded machine took longer than that since the case opened.
    assert re.search(r"under a minute|\b\d+ min\b", row), row


def test_escalation_page_shows_the_members_latest_messages_for_context(client, db, twilio, world):
    twilio.sms(world.member.phone, "still here, just tired")
    page = (
        Console(client, "frankie@example.org")
        .get(f"/console/escalations/{world.escalation.id}")
        .get_data(as_text=True)
    )
    recent = page[page.index("Sam's latest messages") : page.index("<h2>Timeline</h2>")]
    assert recent.index("still here, just tired") < recent.index(
        "I want to kill myself tonight"
    )  # newest first
    assert "Our reply: We hear you." in recent
    # Why the text was escalated, in the rules' words rather than their ids, said once with what they wrote.
    said = page[page.index('id="said"') : page.index("Sam's latest messages")]
    assert "active suicidal ideation" in said and "ideation: killing oneself" not in said  # no examples
    assert "active suicidal ideation" not in page[page.index("<h2>Timeline</h2>") :]
    assert "si.kill_self" not in re.sub(r'<details class="ids">.*?</details>', "", page, flags=re.S)
    assert '<details class="ids"><summary>Rule ids</summary><code>si.kill_self</code>' in said  # on request


def test_escalation_page_lets_the_facilitator_call_the_member_with_one_tap(client, world):
    page = (
        Console(client, "frankie@example.org")
        .get(f"/console/escalations/{world.escalation.id}")
        .get_data(as_text=True)
    )
    facts = page[page.index('<dl class="facts card">') : page.index("</dl>")]
    assert f'<a href="tel:{world.member.phone}">{world.member.phone}</a>' in facts


def test_reasons_say_what_the_rules_recognised_never_their_example_wording(client, db, twilio, group, member):
    """A rule's reason ends with examples of wording it matches ("pills saved up on purpose: 60 saved up,
    been stashing my meds"): next to a member's case they read as the member's words, so they are not shown."""
    from checkin.rules import default_ruleset

    stash = "I have been saving up my pills for a while, I have 60 now"
    assert twilio.sms(member.phone, stash).status_code == 200
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    with db.session() as s:
        esc = s.scalar(select(Escalation).where(Escalation.member_id == member.id))
    rules = default_ruleset()
    examples = [
        r.reason.split(": ", 1)[1]
        for r in [*rules.rules, *rules.combines]
        if r.reason and r.id in ("fam11.stockpile", "fam7.stock") and ": " in r.reason
    ]
    assert examples  # the rules this text fires do carry examples
    console = Console(client, "casey@example.org")
    member_page = console.get(f"/console/members/{member.id}").get_data(as_text=True)
    case_page = console.get(f"/console/escalations/{esc.id}").get_data(as_text=True)
    assert "what the rules recognised: " in member_page
    for page in (member_page, case_page):
        assert not [e for e in examples if e in page]
        assert "stashing my meds" not in page
    assert stash in case_page  # the member's own words, shown as theirs

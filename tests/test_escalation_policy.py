"""A group's escalation policy set in the console: layered over config/escalation.toml, read by the
engine and the preview through one function, edited with specific errors and audited in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from checkin.accounts.models import AuditEvent
from checkin.escalation import effective, policy, preview
from checkin.escalation.models import PolicyOverride
from checkin.models import Group, GroupStaff
from tests import test_escalation as engine_tests
from tests.console_helpers import Console, cheap_password_hashing, make_staff, plain_http  # noqa: F401
from tests.test_escalation import PHONES, advance, alerts, escalations, sent_to

# The engine tests' fixtures: Dana and Eli (primaries), Fay (backup), Cory (coordinator); stub rules.
staff, rules, ctx = engine_tests.staff, engine_tests.rules, engine_tests.ctx

FILE = policy.parse(
    {
        "default": {
            "crisis": {
                "levels": ["primary", "backup", "coordinator"],
                "timeout_minutes": 5,
                "repeats": 0,
                "channels": ["sms", "voice"],
            },
            "urgent": {
                "levels": ["primary", "coordinator"],
                "timeout_minutes": 60,
                "repeats": 0,
                "channels": ["sms"],
            },
        },
        "groups": {"Tuesday Group": {"crisis": {"timeout_minutes": 3}}},
    }
)
SUNDAY_2AM = datetime(2026, 12, 13, 7, 0, tzinfo=UTC)  # 2:00 am in New York


def set_override(db, group, **crisis):
    settings = policy.to_settings(FILE.for_group(group.name))
    settings["crisis"].update(crisis)
    with db.session() as s:
        s.merge(PolicyOverride(group_id=group.id, settings=settings))
        s.commit()


def effective_of(db, group, policy_=FILE):
    with db.session() as s:
        return effective.group_policy(s, policy_, group.id)


# --- layering ----------------------------------------------------------------------------------


def test_a_group_follows_the_file_until_it_has_an_override_and_again_after_reset(db, group):
    assert effective_of(db, group).crisis.timeout_minutes == 3  # the file's section for this group
    set_override(db, group, timeout_minutes=7, levels=["coordinator"])
    got = effective_of(db, group)
    assert (got.crisis.timeout_minutes, got.crisis.levels) == (7, ("coordinator",))
    assert got.urgent == FILE.default.urgent  # the rest as the file says
    with db.session() as s:
        s.delete(s.get(PolicyOverride, group.id))
        s.commit()
    assert effective_of(db, group).crisis.timeout_minutes == 3


def test_an_override_that_is_not_valid_is_ignored_loudly_and_the_file_pages(db, group, caplog):
    with db.session() as s:
        s.add(PolicyOverride(group_id=group.id, settings={"crisis": {"timeout_minutes": -2}}))
        s.commit()
    assert effective_of(db, group).crisis.timeout_minutes == 3
    assert "override is not valid" in caplog.text


# --- the preview in words ----------------------------------------------------------------------


def describe(db, group, level="crisis", at=SUNDAY_2AM, policy_=FILE):
    with db.session() as s:
        return preview.describe(s, policy_, s.get(Group, group.id), level, at)


def test_the_preview_names_who_each_step_pages_and_when(db, group, staff):
    shown = describe(db, group)
    assert shown.sentences[0] == "A crisis at 2:00 am Sunday texts and calls Dana and Eli (on call)."
    assert shown.sentences[1] == "After 3 minutes, Fay (backup), with everyone before told again."
    assert shown.sentences[2] == "After 6 minutes, coordinator Cory, with everyone before told again."
    assert "After 9 minutes, if nobody has taken it" in shown.sentences[3]
    assert "starts again from the first step, until someone takes it" in shown.sentences[3]
    assert not shown.reaches_nobody
    urgent = describe(db, group, "urgent")
    assert urgent.sentences[0] == "An urgent at 2:00 am Sunday texts Dana and Eli (on call)."


def test_the_preview_uses_the_override_and_says_when_a_step_reaches_nobody(db, group, staff):
    set_override(db, group, timeout_minutes=10, repeats=1, channels=["sms"])
    with db.session() as s:
        s.get(GroupStaff, (group.id, staff["fay"].id)).on_call = False
        s.commit()
    shown = describe(db, group)
    assert shown.sentences[0].startswith("A crisis at 2:00 am Sunday texts Dana and Eli (on call).")
    assert "each step is sent again every 10 minutes, 1 more time" in shown.sentences[0]
    assert shown.sentences[1:3] == (
        "The backup facilitators step reaches nobody (no backup facilitator is on call at that time), so it is passed over.",
        "After 20 minutes, coordinator Cory, with everyone before told again.",
    )
    assert not shown.reaches_nobody  # a later step passed over is a sentence, not the headline warning

    with db.session() as s:
        for name in ("dana", "eli"):
            s.get(GroupStaff, (group.id, staff[name].id)).on_call = False
        s.get(GroupStaff, (group.id, staff["fay"].id)).on_call = True
        s.commit()
    first_empty = describe(db, group)
    assert first_empty.sentences[0].startswith("A crisis at 2:00 am Sunday texts Fay (backup).")
    assert "the facilitators on call step reaches nobody" in first_empty.sentences[0]
    assert first_empty.reaches_nobody  # the alert starts later than the policy says: the headline


def test_the_preview_says_plainly_when_nobody_at_all_can_be_reached(db, group):
    shown = describe(db, group)
    assert shown.reaches_nobody
    assert "reaches nobody through this policy" in shown.sentences[0]
    assert "the group has no facilitator" in shown.sentences[0]
    assert "Nobody at all can be reached" in shown.sentences[1]


# --- the engine pages by the override ------------------------------------------------------------


def test_an_override_changes_who_is_paged_and_when(twilio, db, ctx, rules, staff, member, group):
    set_override(db, group, levels=["backup", "coordinator"], timeout_minutes=3, channels=["sms"])
    twilio.sms(member.phone, "CRISIS words")
    assert sent_to(alerts(db), PHONES) == [("fay", "sms")]  # not Dana and Eli, and no call
    t0 = escalations(db)[0].next_action_at - timedelta(minutes=3)
    assert advance(db, t0 + timedelta(minutes=2), ctx) == (0, [])
    _, created = advance(db, t0 + timedelta(minutes=3, seconds=1), ctx)
    assert sent_to(created, PHONES) == [("cory", "sms"), ("fay", "sms")]


# --- the console: who may edit, errors, audit ----------------------------------------------------

FORM = {
    "crisis-step-1": "primary",
    "crisis-step-2": "backup",
    "crisis-step-3": "coordinator",
    "crisis-timeout": "5",
    "crisis-repeats": "0",
    "crisis-sms": "1",
    "crisis-voice": "1",
    "urgent-step-1": "primary",
    "urgent-step-2": "backup",
    "urgent-step-3": "coordinator",
    "urgent-timeout": "60",
    "urgent-repeats": "0",
    "urgent-sms": "1",
    "realert": "30",
    "digest_hour": "9",
}


def policy_rows(db, group):
    with db.session() as s:
        override = s.get(PolicyOverride, group.id)
        audits = s.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "escalation_policy").order_by(AuditEvent.id)
        ).all()
        return override, audits


def test_coordinators_edit_with_specific_errors_nothing_half_saved_and_every_change_audited(
    client, db, group
):
    make_staff(db, "Casey", "casey@example.org", "coordinator", phone="+12025550170")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    path = f"/console/groups/{group.id}/escalation-policy"
    console = Console(client, "casey@example.org")
    bad = dict(
        FORM, **{"crisis-timeout": "0", "urgent-repeats": "many", "crisis-sms": "", "crisis-voice": ""}
    )
    bad.update({"urgent-step-1": "", "urgent-step-2": "", "urgent-step-3": ""})
    response = console.post(path, bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Crisis: the wait before the next step must be a whole number of minutes from 1 to 1440" in page
    assert "Urgent: repeats must be a whole number from 0 to 10." in page
    assert "Crisis: choose text, call or both: a crisis must reach someone." in page
    assert "Urgent: choose at least one step (who is paged first)." in page
    assert 'name="crisis-timeout" min="1" max="1440" value="0"' in page  # what they typed is kept
    # Each mistake at its own field (marked and described), not only in a list at the top.
    import re

    at = dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">(.*?)</p>', page))
    assert at["crisis-timeout"].startswith("Crisis: the wait before the next step must be a whole number")
    assert at["crisis-channels"] == "Crisis: choose text, call or both: a crisis must reach someone."
    assert at["urgent-repeats"] == "Urgent: repeats must be a whole number from 0 to 10."
    assert at["urgent-step-1"] == "Urgent: choose at least one step (who is paged first)."
    assert re.search(
        r'id="crisis-timeout"[^>]*aria-invalid="true" aria-describedby="crisis-timeout-error"', page
    )
    assert "There are 4 problems to fix" in page
    # An empty first step before chosen later ones is named, not skipped; a negative reminder too.
    page = console.post(path, dict(FORM, **{"crisis-step-1": "", "realert": "-5"})).get_data(as_text=True)
    at = dict(re.findall(r'<p class="field-error" id="([\w-]+)-error">(.*?)</p>', page))
    assert at["crisis-step-1"] == "Crisis, first step: choose who is paged first."
    assert at["realert"].startswith("Reminder after someone takes it: a whole number of minutes")
    # A call needs someone on the step with a phone: the group has no backup facilitator.
    page = console.post(
        path, dict(FORM, **{"crisis-step-1": "backup", "crisis-step-2": "", "crisis-step-3": ""})
    )
    assert "Crisis: a call needs a phone number, and nobody on these steps has one." in page.get_data(
        as_text=True
    )
    duplicate = console.post(path, dict(FORM, **{"crisis-step-3": "backup"})).get_data(as_text=True)
    assert "Crisis, step 3: backup is already an earlier step; each can be a step once." in duplicate
    assert policy_rows(db, group) == (None, [])  # nothing saved, nothing audited

    changed = dict(FORM, **{"crisis-timeout": "3", "crisis-step-2": "coordinator", "crisis-step-3": ""})
    assert console.post(path, changed).status_code == 302
    override, audits = policy_rows(db, group)
    assert override.settings["crisis"]["levels"] == ["primary", "coordinator"]
    assert audits == [
        f"group:{group.id} escalation policy: crisis steps on call, backup, coordinators → on call, "
        "coordinators; crisis wait 5 → 3 min"
    ]
    page = console.get(path).get_data(as_text=True)
    assert "A crisis at 2:00 am Sunday texts and calls Frankie (on call)." in page
    assert "After 3 minutes, coordinator Casey, with everyone before told again." in page

    # A facilitator reads it but cannot change it.
    other = Console(client.application.test_client(), "frankie@example.org")
    page = other.get(path).get_data(as_text=True)
    assert "Only a coordinator can change it." in page and "After 3 minutes, coordinator Casey" in page
    assert other.post(path, FORM).status_code == 403
    assert other.post(path + "/default").status_code == 403

    assert console.post(path + "/default").status_code == 302
    override, audits = policy_rows(db, group)
    assert override is None
    assert audits[-1] == (
        f"group:{group.id} escalation policy back to the default: crisis steps on call, coordinators → on call, "
        "backup, coordinators; crisis wait 3 → 5 min"
    )
    assert "After 5 minutes, coordinator Casey" in console.get(path).get_data(as_text=True)


def test_the_preview_moment_is_chosen_and_bad_input_is_named(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator", phone="+12025550170")
    console = Console(client, "casey@example.org")
    path = f"/console/groups/{group.id}/escalation-policy"
    page = console.get(path + "?level=urgent&day=1&time=18:30").get_data(as_text=True)
    assert "An urgent at 6:30 pm Tuesday texts coordinator Casey." in page
    page = console.get(path + "?time=25:99").get_data(as_text=True)
    assert "Preview: the time must be like 02:00 or 18:30." in page
    assert "A crisis at 2:00 am Sunday" in page


def test_show_previews_the_unsaved_changes_keeps_them_typed_and_saves_nothing(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator", phone="+12025550170")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    path = f"/console/groups/{group.id}/escalation-policy"
    console = Console(client, "casey@example.org")
    page = console.get(path).get_data(as_text=True)
    assert "0 = once; 1 = one more time after the wait" in page
    assert "At this time the first step reaches nobody" not in page  # only the backup step is empty

    typed = dict(FORM, **{"crisis-timeout": "3", "crisis-step-2": "coordinator", "crisis-step-3": ""})
    typed.update({"level": "crisis", "day": "6", "time": "02:00"})
    response = console.post(path + "/preview", typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "This preview is of your changes below, not saved yet." in page
    assert "After 3 minutes, coordinator Casey, with everyone before told again." in page
    assert 'name="crisis-timeout" min="1" max="1440" value="3"' in page  # what they typed is kept
    assert '<option value="coordinator" selected>Coordinators</option>' in page
    assert policy_rows(db, group) == (None, [])  # nothing saved, nothing audited

    bad = console.post(path + "/preview", dict(typed, **{"crisis-timeout": "0"}))
    assert bad.status_code == 400 and "Crisis: the wait before the next step" in bad.get_data(as_text=True)
    other = Console(client.application.test_client(), "frankie@example.org")
    assert other.post(path + "/preview", typed).status_code == 403


def test_the_reach_warning_reads_the_override(db, group, staff):
    from checkin.escalation import reach

    with db.session() as s:
        for name in ("dana", "eli", "fay"):
            s.get(GroupStaff, (group.id, staff[name].id)).on_call = False
        s.commit()
        assert reach.unreachable_groups(s, SUNDAY_2AM, FILE) == []  # the file ends with the coordinators
    set_override(db, group, levels=["primary"])
    with db.session() as s:
        assert [g.id for g in reach.unreachable_groups(s, SUNDAY_2AM, FILE)] == [group.id]


def test_saving_the_defaults_own_values_follows_the_file_again(client, db, group):
    make_staff(db, "Casey", "casey@example.org", "coordinator", phone="+12025550170")
    make_staff(db, "Frankie", "frankie@example.org", "facilitator", [group.name], "+12025550177")
    set_override(db, group, timeout_minutes=9)
    console = Console(client, "casey@example.org")
    path = f"/console/groups/{group.id}/escalation-policy"
    # The running file's default for this group (config/escalation.toml): FORM's values.
    page = console.post(path, FORM, follow_redirects=True).get_data(as_text=True)
    assert "the same as the default, so the group follows the default again" in page
    override, audits = policy_rows(db, group)
    assert override is None
    assert audits == [  # the override was made from this module's FILE, whose urgent steps differ too
        f"group:{group.id} escalation policy: crisis wait 9 → 5 min; "
        "urgent steps on call, coordinators → on call, backup, coordinators"
    ]

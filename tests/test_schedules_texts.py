"""A group's own texts: validated in words, used by the preview and the tick for that group only, in
each member's language, and rewording what is planned but not yet sent, without sending twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from checkin.directory import ValidationError, add_group, add_member
from checkin.models import OutboxItem
from checkin.schedules import (
    get_plan,
    get_templates,
    load_config,
    preview,
    set_plan,
    set_schedule,
    set_templates,
    stored_text_problems,
)
from checkin.schedules.models import ReminderPlan
from checkin.schedules.plan import PlanError, TemplateTextError, parse_group_templates
from checkin.schedules.planning import GroupState, MemberState, plan_sends
from checkin.schedules.recurrence import ScheduleSpec
from tests.conftest import deliver_due
from workers import schedule_jobs

UTC = UTC
CONFIG = load_config()
OURS = "Hi from {group}: we meet {when}{date} at {time}{where}. Text 1 if you come. Reply STOP to stop."
# Short enough for two UCS-2 segments with an accented name and place (checkin.templates.samples_for).
NUESTRO = "Hola, {group}: nos vemos {when}{date}, {time}{where}. BAJA: parar"
# Tuesdays 18:00 New York; the tick at the day-before reminder, and delivery at the scenario's time,
# as in test_schedules_tick.
MEETING = datetime(2020, 1, 14, 23, 0, tzinfo=UTC)
DAY_BEFORE = MEETING - timedelta(hours=24)
EDITED = MEETING - timedelta(days=6)


# --- validation -----------------------------------------------------------------------------


def test_an_unknown_placeholder_is_named_in_words_with_what_is_allowed():
    with pytest.raises(TemplateTextError) as error:
        parse_group_templates(
            {"es": {"reminder": "Hola {nombre}, {group} se reune {date}"}}, CONFIG, "Tuesday Group"
        )
    assert str(error.value).startswith(
        "Spanish meeting reminder: unknown placeholder {nombre} (allowed: {date}, {group},"
    )
    assert (error.value.language, error.value.key) == ("es", "reminder")
    with pytest.raises(TemplateTextError, match=r"^English check-in prompt: unknown placeholder \{date\}"):
        parse_group_templates({"en": {"prompt": "How was {date}?"}}, CONFIG)
    with pytest.raises(TemplateTextError, match="^English nudge: Single '}' encountered"):
        parse_group_templates({"en": {"nudge": "Reply 1-5 }"}}, CONFIG)
    # A format spec would fail only when rendered (and take the group's every send with it).
    with pytest.raises(
        TemplateTextError, match=r"^English meeting reminder: write \{time\} alone, not \{time:d\}"
    ):
        parse_group_templates({"en": {"reminder": "{group} at {time:d}"}}, CONFIG)


def test_a_text_over_two_segments_with_realistic_values_is_refused():
    # 217 characters as typed (two segments); with a long group name and an address filled in, three.
    long = (
        "Reminder: {group} meets {when}{date} at {time}{where}. Please reply 1 if you are coming and 2 if you "
        "cannot make it this time. We look forward to seeing you there; you can always text HELP to us. Reply STOP to stop."
    )
    with pytest.raises(
        TemplateTextError,
        match=r"^English meeting reminder: 3 SMS segments \(\d+ GSM-7 characters with sample values\); at most 2",
    ):
        parse_group_templates({"en": {"reminder": long}}, CONFIG)
    # One emoji makes it UCS-2: 67 characters a segment.
    with pytest.raises(TemplateTextError, match=r"^Spanish nudge: 3 SMS segments \(\d+ UCS-2 characters"):
        parse_group_templates(
            {"es": {"nudge": "🙂 " + "Solo queremos saber de ti, {name}. " * 4 + "BAJA"}}, CONFIG
        )
    # The group's own name counts when it is longer than the sample's.
    fits = (
        "{group}: how are you this week? Reply 1-5 (1 = very hard, 5 = very good)."
        + " Words are welcome too." * 7
        + " Reply STOP to stop."
    )
    assert parse_group_templates({"en": {"prompt": fits}}, CONFIG, "Tuesday Group")
    with pytest.raises(TemplateTextError, match="^English check-in prompt: 3 SMS segments"):
        parse_group_templates(
            {"en": {"prompt": fits}},
            CONFIG,
            "The Greater Springfield Area Tuesday Evening Peer Support Circle",
        )


def test_a_long_place_line_is_refused_through_the_reminder_that_includes_it():
    # The line fits on its own (193 characters with an address), not inside the reminder.
    where = (
        ", at our usual place: {address}; ring the bell marked PEER SUPPORT, take the stairs to the second floor on "
        "the left and someone will let you in"
    )
    assert parse_group_templates({"en": {"where_address": ", at {address}, side door"}}, CONFIG)
    with pytest.raises(TemplateTextError, match="^English meeting reminder: 3 SMS segments"):
        parse_group_templates({"en": {"where_address": where}}, CONFIG)


def test_unknown_language_or_template_is_refused():
    with pytest.raises(PlanError, match=r"unknown language 'fr' \(expected en, es\)"):
        parse_group_templates({"fr": {"reminder": "Bonjour"}}, CONFIG)
    with pytest.raises(PlanError, match="English texts: unknown template 'greeting'"):
        parse_group_templates({"en": {"greeting": "Hi"}}, CONFIG)


# --- the planner ----------------------------------------------------------------------------


def _group(id, name, members, templates=None):
    spec = ScheduleSpec(
        id, "America/New_York", "FREQ=WEEKLY;BYDAY=TU", date(2026, 1, 1), time(18), 90, "12 Main St", None
    )
    return GroupState(
        id,
        name,
        "America/New_York",
        f"+1500555000{id}",
        spec,
        {},
        CONFIG.defaults,
        tuple(members),
        templates or {},
    )


def _member(id, language="en"):
    return MemberState(id, "Sam", f"+1202555{id:04d}", language, None, "sms", "active")


def test_the_planner_uses_a_groups_own_texts_for_that_group_only():
    ours = _group(1, "Tuesday Group", [_member(7), _member(8, "es")], {"en": {"reminder": OURS}})
    theirs = _group(2, "Other Group", [_member(9)])
    sends = plan_sends(
        [ours, theirs],
        datetime(2026, 12, 7, 12, tzinfo=UTC),
        datetime(2026, 12, 8, tzinfo=UTC),
        now=datetime(2026, 12, 7, 12, tzinfo=UTC),
        config=CONFIG,
    )
    bodies = {s.member_id: s.body for s in sends if s.kind == "reminder"}
    assert (
        bodies[7]
        == "Hi from Tuesday Group: we meet tomorrow, Tue, Dec 8 at 6:00 pm, at 12 Main St. Text 1 if you come. Reply STOP to stop."
    )
    assert bodies[8].startswith(
        "Tuesday Group: mañana, 8 de diciembre, 6:00 p. m."
    )  # no Spanish override: the file's
    assert bodies[9].startswith("Reminder: Other Group meets tomorrow")


# --- stored, previewed, ticked --------------------------------------------------------------


@pytest.fixture
def groups(db):
    with db.session() as s:
        ours = add_group(s, "Tuesday Group", "America/New_York", "+15005550006")
        theirs = add_group(s, "Thursday Group", "America/New_York", "+15005550009")
        people = [
            add_member(s, ours.name, "+12025550101", "Sam Rivera"),
            add_member(s, ours.name, "+12025550102", "Rosa Medina", "es"),
            add_member(s, theirs.name, "+12025550150", "Omar Other"),
        ]
        for g in (ours, theirs):
            set_schedule(
                s,
                g.id,
                rrule="FREQ=WEEKLY;BYDAY=TU",
                start_local=time(18),
                duration_minutes=90,
                location="12 Main St",
                starts_on=date(2020, 1, 7),
                now=EDITED,
            )
        return ours, theirs, people


def reminders(db, group_id, now=DAY_BEFORE - timedelta(hours=1)):
    with db.session() as s:
        return {
            p.member_name: p.body
            for p in preview(s, group_id, now, 2, now=now)
            if p.kind == "reminder" and ":1440" in p.key
        }


def test_group_texts_show_in_the_preview_and_blank_returns_to_the_file(db, groups):
    ours, theirs, _ = groups
    with db.session() as s:
        effective = set_templates(
            s, ours.id, {"en": {"reminder": OURS}, "es": {"reminder": NUESTRO}}, now=EDITED
        )
    assert (
        effective["en"]["reminder"] == OURS and effective["en"]["prompt"] == CONFIG.templates["en"]["prompt"]
    )
    assert reminders(db, ours.id) == {
        "Sam": "Hi from Tuesday Group: we meet tomorrow, Tue, Jan 14 at 6:00 pm, at 12 Main St. Text 1 if you come. Reply STOP to stop.",
        "Rosa": "Hola, Tuesday Group: nos vemos mañana, 14 de enero, 6:00 p. m., en 12 Main St. BAJA: parar",
    }
    assert reminders(db, theirs.id)["Omar"].startswith("Reminder: Thursday Group meets tomorrow")
    # Blank (as an emptied textarea) returns the English text to the file's; Spanish stays the group's.
    with db.session() as s:
        set_templates(s, ours.id, {"en": {"reminder": "  \r\n"}}, now=EDITED)
    assert reminders(db, ours.id)["Sam"].startswith("Reminder: Tuesday Group meets tomorrow")
    with db.session() as s:
        assert get_templates(s, ours.id)["es"]["reminder"] == NUESTRO
        set_templates(s, ours.id, {"es": {"reminder": None}}, now=EDITED)
        assert get_templates(s, ours.id) == CONFIG.templates
        assert s.get(ReminderPlan, ours.id).overrides == {}  # nothing left over: file edits apply again


def test_texts_and_plan_keys_are_kept_apart(db, groups):
    ours, _, _ = groups
    with db.session() as s:
        set_plan(s, ours.id, now=EDITED, reminder_offsets_minutes=[1440])
        set_templates(s, ours.id, {"en": {"nudge": "Still there, {name}? Reply 1-5 or STOP."}}, now=EDITED)
        set_plan(s, ours.id, now=EDITED, prompt_time="11:00")
    with db.session() as s:
        plan = get_plan(s, ours.id)
        assert plan.reminder_offsets_minutes == (1440,) and plan.prompt_time == time(11)
        assert get_templates(s, ours.id)["en"]["nudge"] == "Still there, {name}? Reply 1-5 or STOP."
        # The file's own text (after tidying) is not stored as an override.
        set_templates(s, ours.id, {"en": {"prompt": CONFIG.templates["en"]["prompt"] + "\r\n"}}, now=EDITED)
        assert s.get(ReminderPlan, ours.id).overrides["templates"] == {
            "en": {"nudge": "Still there, {name}? Reply 1-5 or STOP."}
        }


def test_a_refused_text_stores_nothing(db, groups):
    ours, _, _ = groups
    with db.session() as s:
        set_templates(s, ours.id, {"en": {"reminder": OURS}}, now=EDITED)
    with db.session() as s:
        with pytest.raises(
            ValidationError, match=r"^Spanish check-in prompt: 4 SMS segments \(264 UCS-2 characters"
        ):
            # The first change is fine, the second is not: neither is kept.
            set_templates(
                s,
                ours.id,
                {"en": {"reminder": None}, "es": {"prompt": "¿Cómo estás? " * 20 + "BAJA"}},
                now=EDITED,
            )
        with pytest.raises(
            ValidationError, match=r"^English meeting reminder: unknown placeholder \{place\}"
        ):
            set_templates(s, ours.id, {"en": {"reminder": "See you {place}"}}, now=EDITED)
        with pytest.raises(ValidationError, match="unknown language 'de'"):
            set_templates(s, ours.id, {"de": {"reminder": "Hallo"}}, now=EDITED)
    with db.session() as s:
        assert s.get(ReminderPlan, ours.id).overrides == {"templates": {"en": {"reminder": OURS}}}


def test_a_stored_text_that_cannot_be_rendered_falls_back_to_the_files(db, groups):
    ours, _, _ = groups
    with db.session() as s:
        # As if edited in the database by hand: the group keeps getting reminders, in the file's words.
        s.add(
            ReminderPlan(
                group_id=ours.id, overrides={"templates": {"en": {"reminder": "Hi {nobody}", "nudge": "Hey"}}}
            )
        )
    assert reminders(db, ours.id)["Sam"].startswith("Reminder: Tuesday Group meets tomorrow")
    with db.session() as s:
        # "Hey" says no way to stop: the file's nudge goes instead, and the page is told why.
        assert get_templates(s, ours.id)["en"]["nudge"] == CONFIG.templates["en"]["nudge"]
        refused, problems = stored_text_problems(s, ours.id)
    assert refused == {"en": {"reminder": "Hi {nobody}", "nudge": "Hey"}}
    assert [str(p) for p in problems] == [
        "English meeting reminder: unknown placeholder {nobody} (allowed: {date}, {group}, {time}, {weekday}, "
        "{when}, {where}); and it must say how to stop the texts: add “Reply STOP to stop.”",  # both at once
        "English nudge: must say how to stop the texts: add “Reply STOP to stop.”",
    ]


def texts_to(fake_twilio, phone):
    return [m["params"]["Body"] for m in fake_twilio.messages() if m["params"]["To"] == phone]


def test_the_tick_sends_the_groups_texts(runtime, fake_twilio, groups):
    ours, _, (sam, rosa, omar) = groups
    with runtime.db.session() as s:
        set_templates(s, ours.id, {"es": {"reminder": NUESTRO}}, now=EDITED)
    assert schedule_jobs.tick(DAY_BEFORE, runtime=runtime) == 3
    deliver_due(runtime, DAY_BEFORE)
    assert texts_to(fake_twilio, rosa.phone) == [
        "Hola, Tuesday Group: nos vemos mañana, 14 de enero, 6:00 p. m., en 12 Main St. BAJA: parar"
    ]
    assert texts_to(fake_twilio, sam.phone)[0].startswith("Reminder: Tuesday Group meets tomorrow")
    assert texts_to(fake_twilio, omar.phone)[0].startswith("Reminder: Thursday Group meets tomorrow")


def test_an_edit_rewords_what_is_planned_but_not_sent_and_sends_each_once(runtime, fake_twilio, groups):
    ours, _, (sam, rosa, omar) = groups
    assert schedule_jobs.tick(DAY_BEFORE, runtime=runtime) == 3  # written; no worker has sent them yet
    with runtime.db.session() as s:
        set_templates(s, ours.id, {"en": {"reminder": OURS}}, now=DAY_BEFORE + timedelta(minutes=1))
    with runtime.db.session() as s:
        states = {r.to_number: (r.state, r.body) for r in s.scalars(select(OutboxItem))}
    assert states[sam.phone] == (
        "pending",
        "Hi from Tuesday Group: we meet tomorrow, Tue, Jan 14 at 6:00 pm, at 12 Main St. Text 1 if you come. Reply STOP to stop.",
    )
    assert states[rosa.phone][1].startswith("Tuesday Group: mañana, 14 de enero") and states[omar.phone][
        1
    ].startswith("Reminder: Thursday")
    # The next tick writes nothing again; the worker sends each member one text, Sam's in the new words.
    assert schedule_jobs.tick(DAY_BEFORE + timedelta(minutes=2), runtime=runtime) == 0
    deliver_due(runtime, DAY_BEFORE + timedelta(minutes=2))
    assert texts_to(fake_twilio, sam.phone) == [
        "Hi from Tuesday Group: we meet tomorrow, Tue, Jan 14 at 6:00 pm, at 12 Main St. Text 1 if you come. Reply STOP to stop."
    ]
    assert len(fake_twilio.messages()) == 3
    # What is already sent stays sent: another edit neither rewrites nor resends it.
    with runtime.db.session() as s:
        set_templates(s, ours.id, {"en": {"reminder": None}}, now=DAY_BEFORE + timedelta(minutes=3))
    assert schedule_jobs.tick(DAY_BEFORE + timedelta(minutes=4), runtime=runtime) == 0
    deliver_due(runtime, DAY_BEFORE + timedelta(minutes=4))
    assert len(fake_twilio.messages()) == 3
    with runtime.db.session() as s:
        assert {r.state for r in s.scalars(select(OutboxItem))} == {"sent"}


def test_when_answers_with_the_groups_own_place_line(db, groups):
    from checkin.answers import when
    from checkin.models import Member

    ours, _, (sam, _, omar) = groups
    with db.session() as s:
        set_templates(s, ours.id, {"en": {"where_address": ", at {address} (side door)"}}, now=EDITED)
    with db.session() as s:
        assert when.reply(s, s.get(Member, sam.id), ours.phone_number, EDITED).endswith(
            ", at 12 Main St (side door)."
        )
        assert when.reply(s, s.get(Member, omar.id), None, EDITED).endswith(", at 12 Main St.")


def test_a_day_before_reminder_held_overnight_says_today_when_it_goes_out(runtime, fake_twilio, groups):
    # Written at 18:00 the day before ("tomorrow"), but no worker sent it before the members' night
    # began: it waits until 08:00 on the meeting day, and then "tomorrow" would be a day wrong.
    _, _, (sam, rosa, _) = groups
    assert schedule_jobs.tick(DAY_BEFORE, runtime=runtime) == 3
    late_evening = DAY_BEFORE + timedelta(hours=3, minutes=30)  # 21:30 New York
    deliver_due(runtime, late_evening)
    assert fake_twilio.messages() == []  # held for the night
    morning = datetime(2020, 1, 14, 13, 0, tzinfo=UTC)  # 08:00 New York, the meeting day
    deliver_due(runtime, morning)
    assert texts_to(fake_twilio, sam.phone) == [
        "Reminder: Tuesday Group meets today, Tue, Jan 14 at 6:00 pm, at 12 Main St. Reply 1 if you're coming, 2 if not. Reply STOP to stop."
    ]
    # The Spanish one says "hoy" where the English says "today", reworded for the day it goes out too.
    assert texts_to(fake_twilio, rosa.phone) == [
        "Tuesday Group: hoy, 14 de enero, 6:00 p. m., en 12 Main St. 1 voy, 2 no voy. BAJA: parar"
    ]


PROMPT_TIME = datetime(2020, 1, 16, 15, 0, tzinfo=UTC)  # Thu 10:00 New York: the prompt after the 14th


def test_a_groups_prompt_and_nudge_greet_each_member_by_name_when_sent(runtime, fake_twilio, groups):
    """{name} is offered by the prompt and nudge forms: it is each member's first name in what they get."""
    ours, _, (sam, rosa, omar) = groups
    with runtime.db.session() as s:
        set_plan(s, ours.id, now=EDITED, reminder_offsets_minutes=[])
        set_templates(
            s,
            ours.id,
            {
                "en": {
                    "prompt": "Hi {name}, how was {group}? Reply 1-5 or STOP",
                    "nudge": "Still there, {name}? STOP to stop",
                },
                "es": {"prompt": "Hola {name}, ¿como te fue en {group}? Responde 1-5 o BAJA"},
            },
            now=EDITED,
        )
    assert schedule_jobs.tick(PROMPT_TIME, runtime=runtime) == 3
    deliver_due(runtime, PROMPT_TIME)
    assert texts_to(fake_twilio, sam.phone) == ["Hi Sam, how was Tuesday Group? Reply 1-5 or STOP"]
    assert texts_to(fake_twilio, rosa.phone) == [
        "Hola Rosa, ¿como te fue en Tuesday Group? Responde 1-5 o BAJA"
    ]
    assert texts_to(fake_twilio, omar.phone)[0].startswith("How are you doing this week?")  # the file's
    nudge_time = PROMPT_TIME + timedelta(hours=24)
    schedule_jobs.tick(nudge_time, runtime=runtime)
    deliver_due(runtime, nudge_time)
    assert texts_to(fake_twilio, sam.phone)[1] == "Still there, Sam? STOP to stop"


# --- the dial-in number -------------------------------------------------------------------------


def _meets_at(db, group, **place):
    with db.session() as s:
        set_schedule(
            s,
            group.id,
            rrule="FREQ=WEEKLY;BYDAY=TU",
            start_local=time(18),
            duration_minutes=90,
            starts_on=date(2020, 1, 7),
            now=EDITED,
            **place,
        )


def test_a_reminder_gives_the_address_and_the_dial_in_number(db, groups):
    ours, _, _ = groups
    _meets_at(db, ours, location="12 Main St", dial_in="(202) 555-0123")
    sent = reminders(db, ours.id)
    assert sent["Sam"] == (
        "Reminder: Tuesday Group meets tomorrow, Tue, Jan 14 at 6:00 pm, at 12 Main St, dial-in +12025550123. "
        "Reply 1 if you're coming, 2 if not. Reply STOP to stop."
    )
    assert sent["Rosa"] == (
        "Tuesday Group: mañana, 14 de enero, 6:00 p. m., en 12 Main St, por teléfono: +12025550123. "
        "1 voy, 2 no voy. BAJA: parar"
    )


def test_a_moved_meeting_and_when_give_the_dial_in_number_too(db, groups):
    from checkin.answers import when
    from checkin.models import Member
    from checkin.schedules import move_occurrence

    ours, _, (sam, rosa, _) = groups
    _meets_at(db, ours, location="12 Main St", dial_in="202 555 0123")
    with db.session() as s:
        move_occurrence(s, ours.id, "20200114T2300Z", datetime(2020, 1, 15, 19, 0), now=EDITED)
    with db.session() as s:
        moved = {
            p.member_name: p.body for p in preview(s, ours.id, EDITED, 14, now=EDITED) if p.kind == "change"
        }
        assert moved["Sam"].endswith(
            "moved to Wed, Jan 15 at 7:00 pm, at 12 Main St, dial-in +12025550123. Reply STOP to stop."
        )
        assert ", en 12 Main St, por teléfono: +12025550123." in moved["Rosa"]
        assert when.reply(s, s.get(Member, sam.id), ours.phone_number, EDITED).endswith(
            ", at 12 Main St, dial-in +12025550123."
        )


def test_with_no_room_for_both_a_spanish_reminder_keeps_the_address_in_two_texts(db, groups):
    from checkin.templates import segments

    ours, _, _ = groups
    with db.session() as s:
        from checkin.models import Group

        s.get(Group, ours.id).name = "Apoyo Mutuo de los Miércoles"
    _meets_at(db, ours, location="Iglesia San José, Salón 3", dial_in="202 555 0123")
    rosa = reminders(db, ours.id)["Rosa"]
    assert ", en Iglesia San José, Salón 3. 1 voy" in rosa and "teléfono" not in rosa
    assert segments(rosa)[2] == 2


@pytest.mark.parametrize("typed", ["call me", "555", "+1 202 555 0123 x 44"])
def test_a_dial_in_that_is_not_a_phone_number_is_refused(db, groups, typed):
    ours, _, _ = groups
    with db.session() as s, pytest.raises(ValidationError, match="^dial-in: "):
        set_schedule(
            s, ours.id, rrule="FREQ=WEEKLY;BYDAY=TU", start_local=time(18), duration_minutes=90, dial_in=typed
        )

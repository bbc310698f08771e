"""Plain words without a database: schedules, clocks and dates, rule reasons, time zones by city,
languages by name, audit rows as sentences (the console pages that use them: tests/browser/test_plain_words.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import pytest

from checkin import languages, timezones
from checkin.errors import ValidationError
from webhooks.console import words


@pytest.mark.parametrize(
    ("rule", "said"),
    [
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "every other Tuesday at 6:30 pm, Chicago time"),
        ("FREQ=WEEKLY;BYDAY=TU", "every Tuesday at 6:30 pm, Chicago time"),
        ("RRULE:FREQ=MONTHLY;BYDAY=2TH", "the second Thursday of each month at 6:30 pm, Chicago time"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "the last Friday of each month at 6:30 pm, Chicago time"),
        # Shapes only the command line writes: as much as can be said, and saying when it is not all.
        (
            "FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=10",
            "every Monday, Wednesday and Friday at 6:30 pm, 10 times, Chicago time",
        ),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "the 15th of each month at 6:30 pm, Chicago time"),
        ("FREQ=DAILY", "every day at 6:30 pm, Chicago time"),
        (
            "FREQ=WEEKLY;BYDAY=SU;UNTIL=20270101T000000Z",
            "every Sunday at 6:30 pm, until Fri, Jan 1, 2027, Chicago time",
        ),
        ("FREQ=WEEKLY;BYDAY=TU;BYSETPOS=1", "every Tuesday at 6:30 pm (and more conditions), Chicago time"),
        ("FREQ=HOURLY", "on a custom schedule at 6:30 pm, Chicago time"),
    ],
)
def test_schedules_in_words(rule, said):
    assert words.schedule_words(rule, time(18, 30), "America/Chicago") == said


def test_every_builder_shape_reads_in_words():
    from webhooks.console import recurrence

    for pattern in recurrence.PATTERNS:
        for weekday in recurrence.WEEKDAYS:
            for nth in recurrence.NTHS if pattern == "monthly" else (None,):
                said = words.rule_words(recurrence.Recurrence(pattern, weekday, nth).rrule())
                assert "custom" not in said and "more conditions" not in said and "=" not in said, said


def test_one_clock_and_one_date_for_english():
    assert [words.clock(time(h, m)) for h, m in ((0, 5), (9, 0), (12, 0), (18, 30), (23, 59))] == [
        "12:05 am",
        "9:00 am",
        "12:00 pm",
        "6:30 pm",
        "11:59 pm",
    ]
    assert words.day(date(2026, 12, 8)) == "Tue, Dec 8"
    assert words.day(date(2026, 12, 8), year=True) == "Tue, Dec 8, 2026"
    at = datetime(2026, 12, 3, 20, 14, tzinfo=UTC)
    assert words.when(at, "America/Chicago") == "Thu, Dec 3, 2:14 pm CST"
    assert words.zone_name("America/Argentina/Buenos_Aires") == "Buenos Aires time"


def test_rule_ids_become_reasons_and_stay_available_in_a_toggle():
    said = words.rule_reasons(
        "history.two_lowest,history.drop,voice.no_facilitator_answered,si.kill_self,gone.rule"
    )
    assert "scored 1 of 5 twice in a row" in said and "nobody answered" in said
    assert "active suicidal ideation" in said and "a rule that is no longer in use" in said
    assert "killing oneself" not in said  # the rule's example wording, never shown as the member's
    assert "." not in said.replace("etc.", "")  # no id
    toggle = str(words.rule_details("si.kill_self,<b>"))
    assert toggle.startswith('<details class="ids"><summary>Rule ids</summary>') and "&lt;b&gt;" in toggle


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Chicago", "America/Chicago"),
        ("chicago", "America/Chicago"),
        ("america/chicago", "America/Chicago"),
        (" New York ", "America/New_York"),
        ("sao paulo", "America/Sao_Paulo"),
        ("UTC", "UTC"),
        # the US cities coordinators type: an IANA zone's city, or a large city that names no zone
        ("puerto rico", "America/Puerto_Rico"),
        ("Phoenix", "America/Phoenix"),
        ("Los Angeles", "America/Los_Angeles"),
        ("Chicago, IL", "America/Chicago"),
        ("Denver CO", "America/Denver"),
        ("Seattle", "America/Los_Angeles"),
        ("St. Louis, Missouri", "America/Chicago"),
        ("Tucson", "America/Phoenix"),  # Arizona keeps no summer time
        ("El Paso", "America/Denver"),  # Texas, but Mountain time
        ("San Juan", "America/Puerto_Rico"),
        ("Portland, OR", "America/Los_Angeles"),
    ],
)
def test_a_time_zone_is_found_by_its_city(typed, zone):
    assert timezones.resolve(typed) == zone


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("EST", "did you mean New York (America/New_York)?"),
        ("cst", "did you mean Chicago (America/Chicago)?"),
        # Australia/ACT is an IANA alias, but "ACT" names no place (and is also Acre or Australian Central
        # time): the zone IANA's alias stands for is suggested, as a question.
        ("ACT", "'ACT' is an abbreviation or an old alias, not a place, and may mean another zone"),
        ("ACT", "if you meant Sydney, type the IANA name Australia/Sydney"),
        # A fixed offset names no place, and Etc/GMT+5 is five hours BEHIND Greenwich: never taken.
        ("GMT+5", "'GMT+5' is a fixed offset from UTC, which names no place"),
        ("UTC-03:00", "is a fixed offset from UTC"),
        ("+05:00", "type the nearest large city"),
        ("x" * 500, "'" + "x" * 59 + "…' is not a time zone we know"),
        ("NZ", "type the IANA name Pacific/Auckland"),
        ("CET", "is an abbreviation or an old alias"),
        ("Japan", "type the IANA name Asia/Tokyo"),
        (
            "AEST",
            "'AEST' is an abbreviation, not a place, and may not follow summer time: type an IANA name such as America/New_York",
        ),
        ("Chicgo", "did you mean Chicago?"),
        ("America/Chicgo", "did you mean Chicago?"),
        ("San Fransisco", "did you mean San Francisco?"),
        ("Portland", "Portland, Oregon keeps Los Angeles time and Portland, Maine New York time"),
        ("Pacific", "a band of time zones, not a place"),
        ("Narnia", "type the nearest large city"),
        ("", "type a city such as Chicago"),
    ],
)
def test_an_abbreviation_or_a_typo_is_refused_with_the_city_form(typed, said):
    with pytest.raises(ValidationError, match="time zone") as refused:
        timezones.resolve(typed)
    assert said in str(refused.value)


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Australia/ACT", "Australia/Sydney"),  # an alias typed in full is stored as the zone it stands for
        ("US/Eastern", "America/New_York"),
        # An alias that is a place's name stays it: Oslo is not "Berlin time" to people in Oslo.
        ("Europe/Oslo", "Europe/Oslo"),
        ("Oslo", "Europe/Oslo"),
        ("Canberra", "Australia/Canberra"),
        ("Singapore", "Asia/Singapore"),  # a city, though IANA also has a regionless alias of that name
        ("UTC", "UTC"),
    ],
)
def test_an_iana_alias_is_stored_as_the_zone_it_stands_for(typed, zone):
    assert timezones.resolve(typed) == zone


def test_the_picker_offers_no_alias():
    offered = {zone for zone, _city in timezones.choices()}
    assert "Australia/Sydney" in offered and "America/New_York" in offered
    assert "Europe/Oslo" in offered
    assert not offered & {"Australia/ACT", "Australia/NSW", "Australia/North", "US/Eastern"}


def test_a_zone_is_written_as_its_city_where_the_city_names_it():
    assert timezones.as_typed("America/New_York") == "New York"
    assert (
        timezones.resolve(timezones.as_typed("America/Argentina/Buenos_Aires"))
        == "America/Argentina/Buenos_Aires"
    )
    assert timezones.as_typed("UTC") == "UTC" and timezones.as_typed("Narnia/Town") == "Narnia/Town"
    # every city the picker offers resolves back to its zone
    assert all(timezones.resolve(timezones.as_typed(zone)) == zone for zone, _ in timezones.choices())


def test_the_picker_lists_places_by_city():
    choices = dict(timezones.choices())
    assert (
        choices["America/Chicago"] == "Chicago" and "EST5EDT" not in choices and "US/Eastern" not in choices
    )


@pytest.mark.parametrize(
    "typed", ["Spanish", "spanish", "Español", "espanol", "ES", "es", "Spanish / Español"]
)
def test_spanish_by_any_of_its_names(typed):
    assert languages.code(typed) == "es"


def test_an_unknown_language_names_the_choices():
    assert languages.code("", default="en") == "en" and languages.code("English") == "en"
    with pytest.raises(ValidationError, match="choose English or Spanish / Español"):
        languages.code("fr")


def test_import_takes_languages_and_zones_by_name(db, group):
    from checkin import member_import

    csv = (
        "group,phone,name,language,timezone\n"
        f"{group.name},202-555-0161,Ana Diaz,Español,chicago\n"
        f"{group.name},202-555-0162,Ben Ode,English,\n"
    )
    with db.session() as s:
        plan = member_import.plan(s, member_import.parse(csv.encode()), today=date(2026, 12, 7))
        assert plan.counts["add"] == 2 and plan.counts["error"] == 0
        ana, ben = plan.of("add")
        assert (ana.values["language"], ana.values["timezone"]) == ("es", "America/Chicago")
        assert (ben.values["language"], ben.values["timezone"]) == ("en", "")


def test_audit_rows_read_as_sentences():
    groups, staff = {2: "Tuesday Group"}, {1: "Casey Coordinator", 3: "Frankie Facilitator"}
    row = SimpleNamespace(
        action="on_call",
        detail="group:2 staff:3 window:2 added: Tue 6:00 pm–9:00 pm",
        member_id=None,
        escalation_id=None,
    )
    assert words.audit_sentence(row, "Casey Coordinator", None, groups, staff) == (
        "Casey Coordinator changed Frankie's on-call times for Tuesday Group: added: Tue 6:00 pm–9:00 pm"
    )
    viewed = SimpleNamespace(
        action="view_messages", detail="timeline (all): 3 message(s)", member_id=7, escalation_id=None
    )
    assert words.audit_sentence(viewed, "Frankie Facilitator", "Sam Rivera", groups, staff).startswith(
        "Frankie Facilitator read Sam Rivera's messages"
    )
    assert words.audit_sentence(viewed, "Frankie Facilitator", "Sam Rivera", groups, staff).endswith(
        ": 3 messages"
    )  # not "3 message(s)"
    assert words.plurals("1 message(s), 0 check-in(s)") == "1 message, 0 check-ins"
    assert words.event_detail("cancelled 0 pending alert(s)") == ""  # a zero is not news
    assert (
        words.event_detail("cancelled 2 pending alert(s)") == "2 alerts still waiting to go out were stopped"
    )
    assert words.channel_words("console") == "on the website"
    saved = SimpleNamespace(
        action="setting_changed", detail="group:2 reminder plan saved", member_id=None, escalation_id=None
    )
    assert words.audit_sentence(saved, None, None, groups, staff) == (
        "Someone changed a setting for Tuesday Group: reminder plan saved"
    )


def test_staff_account_audit_rows_read_as_sentences_and_a_reset_says_reset():
    staff = {1: "Casey Coordinator", 4: "Alex Chen"}

    def said(action, detail=None):
        row = SimpleNamespace(action=action, detail=detail, member_id=None, escalation_id=None)
        return words.audit_sentence(row, "Casey Coordinator", None, {}, staff)

    assert said("invite_sent", "staff:4 reset link:2 for 72 h") == (
        "Casey Coordinator sent Alex Chen a link to choose a new password (works 72 hours)"
    )
    assert "invited Alex Chen" in said("invite_sent", "staff:4 invite link:1 for 72 h")
    assert said("2fa_on", "staff:1") == "Casey Coordinator turned on the authenticator app"
    assert said("signin_password", "code asked next") == (
        "Casey Coordinator signed in with a password; asked for the app's code"
    )
    assert said("signin_code_failed") == "Casey Coordinator typed a wrong app code"
    assert said("signin", "with recovery code (9 left)") == (
        "Casey Coordinator signed in with a recovery code (9 left)"
    )
    assert (
        said("2fa_reset", "staff:4")
        == "Casey Coordinator reset Alex Chen's authenticator app (they set it up again)"
    )


def test_the_rosters_audit_rows_read_as_sentences():
    # The walk-through read "report export for ...: weeks:2026-10-19..2026-12-07", "imported members: CSV
    # roster file:fa6e… applied: …" and "changed Rosa's details: import:name".
    groups = {2: "Tuesday Group"}

    def said(action, detail, member=None):
        row = SimpleNamespace(
            action=action, detail=detail, member_id=7 if member else None, escalation_id=None
        )
        return words.audit_sentence(row, "Casey Coordinator", member, groups, {})

    assert said("report_export", "group:2 weeks:2026-10-19..2026-12-07") == (
        "Casey Coordinator downloaded the weekly report for Tuesday Group, weeks of Oct 19 – Dec 7"
    )
    assert said(
        "import", "CSV roster file:fa6e01234567 applied: 3 added, 1 updated, 0 unchanged, 1 row(s) skipped"
    ) == ("Casey Coordinator imported a roster: 3 added, 1 updated, 1 skipped")
    assert said("member_edited", "import:name", "Rosa") == "Casey Coordinator changed Rosa's name (import)"
    assert said("member_edited", "import:language,group+2", "Rosa") == (
        "Casey Coordinator changed Rosa's language and added them to Tuesday Group (import)"
    )
    assert said("member_added", "import:added", "Rosa") == "Casey Coordinator added Rosa (import)"
    assert said("export", "check-ins CSV group:2: 0 row(s), last 90 days") == (
        "Casey Coordinator downloaded the check-ins of Tuesday Group (0 rows, last 90 days)"
    )
    assert said("export", "members CSV: 1 row(s); group:2, status active") == (
        "Casey Coordinator downloaded the members list (1 row; filter: Tuesday Group, status active)"
    )


def test_a_length_refusal_reads_in_words():
    said = words.plain_error(
        "Spanish nudge: 3 SMS segments (259 UCS-2 characters with sample values); at most 2 allowed"
    )
    assert said == (
        "Spanish nudge: 3 text messages long with sample values (at most 2); it uses an accent or symbol that "
        "makes each text hold 67 characters instead of 153"
    )


def test_a_fixed_offset_zone_typed_in_full_is_shown_with_the_sign_people_mean():
    # tz's Etc/GMT+5 is five hours BEHIND Greenwich: a page that called it "GMT+5 time" said the opposite.
    assert timezones.resolve("Etc/GMT+5") == "Etc/GMT+5"
    assert (timezones.city("Etc/GMT+5"), timezones.city("Etc/GMT-14")) == ("UTC-5", "UTC+14")

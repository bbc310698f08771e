"""The log scan itself: a rule id next to a member id is a leak (issue 17), as a phone number or a body is."""

from __future__ import annotations

import logging

from tests import logscan


def test_a_rule_id_beside_a_member_id_is_found():
    line = "assessed message=12 member=3 level=crisis rules=si.kill_self,combo.si_soon"
    assert logscan.rule_id_beside_member("first line\n" + line) == line
    assert logscan.rule_id_beside_member("escalation 4 for member_id: 9 raised by voice.phq9_item9")


def test_ids_and_levels_alone_are_not():
    for text in (
        "assessed message=12 level=crisis",
        "opt-out member=3 source=keyword:STOP cancelled_outbox=2",
        "loaded rules from config/rules/en.toml member=3",  # a file name is not a rule id
        "rules si.kill_self reloaded",  # a rule id with no member
    ):
        assert logscan.rule_id_beside_member(text) is None, text


def test_the_scanner_reports_it_like_a_phone_number():
    scanner = logscan._Scanner()
    scanner.begin()
    record = logging.LogRecord(
        "checkin.x", logging.INFO, __file__, 1, "member=%s rules=%s", (5, "psychosis.command"), None
    )
    scanner.emit(record)
    [leak] = scanner.leaks()
    assert leak.startswith("checkin.x: a rule id next to a member id in: member=5 rules=psychosis.command")


def test_the_assessment_log_line_carries_message_and_level_only(twilio, member, caplog):
    caplog.set_level(logging.INFO, logger="checkin")
    assert twilio.sms(member.phone, "I want to kill myself tonight").status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("assessed ")]
    assert lines and all(line.startswith("assessed message=") for line in lines)
    assert not any("member" in line or "rules" in line for line in lines)

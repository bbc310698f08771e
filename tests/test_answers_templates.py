"""Template length: GSM-7 vs UCS-2 segment counting, and the start-up check over config/ templates."""

from __future__ import annotations

import pytest

from checkin import keywords, templates
from checkin.templates import TemplateError, check_lengths, check_table, segments
from tests.fake_twilio import segments_for


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ("GSM-7", 0, 1)),
        ("a" * 160, ("GSM-7", 160, 1)),
        ("a" * 161, ("GSM-7", 161, 2)),
        ("a" * 306, ("GSM-7", 306, 2)),
        ("a" * 307, ("GSM-7", 307, 3)),
        ("€" * 80, ("GSM-7", 160, 1)),  # extended characters count twice
        ("[]" * 40 + "a", ("GSM-7", 161, 2)),  # 80 extended characters = 160, one more tips it over
        ("Ñandú", ("UCS-2", 5, 1)),  # ú is not in GSM-7: the whole message becomes UCS-2
        ("á" * 70, ("UCS-2", 70, 1)),
        ("á" * 71, ("UCS-2", 71, 2)),
        ("á" * 134, ("UCS-2", 134, 2)),
        ("á" * 135, ("UCS-2", 135, 3)),
        ("🙂" * 35, ("UCS-2", 70, 1)),  # outside the BMP: two UTF-16 units each
    ],
)
def test_segments(text, expected):
    assert segments(text) == expected
    if text:  # the loopback Twilio server bills the same way
        assert segments_for(text) == expected[2]


def test_shipped_templates_fit_two_segments_with_realistic_values():
    check_lengths()  # raises on any template too long or with an unknown placeholder


def test_a_reply_that_must_be_short_fits_one_segment():
    for language in ("en", "es"):
        for key in (
            "crisis",
            "urgent",
            "rsvp_yes",
            "rsvp_no",
            "checkin_thanks",
            "checkin_clarify",
            "when_next",
        ):
            # With the language's own plain values (an accented name may take a second UCS-2 segment).
            text = templates.render(key, language, **templates.samples_for(language)[0])
            assert segments(text)[2] == 1, (language, key, segments(text))


def test_app_does_not_start_with_a_template_too_long(runtime, monkeypatch):
    import dataclasses

    import checkin.schedules
    from webhooks import create_app

    config = checkin.schedules.load_config()
    long_reminder = {
        **config.templates,
        "es": {**config.templates["es"], "reminder": "Recordatorio: " + "ó" * 140},
    }
    monkeypatch.setattr(
        checkin.schedules, "load_config", lambda: dataclasses.replace(config, templates=long_reminder)
    )
    with pytest.raises(TemplateError) as error:
        create_app(runtime=runtime)
    assert "plan.toml [es] reminder: 3 SMS segments (154 UCS-2 characters" in str(error.value)


def test_too_long_template_is_named_with_its_language(tmp_path):
    table = {"en": {"ok": "Hi {name}"}, "es": {"reminder": "Recordatorio, {name}: " + "ñ" * 40 + "ó" * 100}}
    problems = check_table(table, source="plan.toml")
    assert len(problems) == 1
    assert problems[0].startswith("plan.toml [es] reminder: 3 SMS segments (")
    assert "UCS-2" in problems[0]
    path = tmp_path / "messages.toml"
    path.write_text('[en]\nwhen = "{unheard_of} ' + "x" * 10 + '"\nlong = "' + "word " * 70 + '"\n')
    with pytest.raises(TemplateError) as error:
        check_lengths(path)
    assert "messages.toml [en] when: no sample value for {unheard_of}" in str(error.value)
    assert "messages.toml [en] long: 3 SMS segments" in str(error.value)


def test_one_segment_limit_for_reminders_where_they_can():
    table = {
        "en": {
            "reminder": "Reminder, {name}: {group} meets {day} at {time}{place}. Reply 1 if you're coming, 2 if not."
        }
    }
    assert check_table(table) == []
    assert "2 SMS segments" in check_table(table, max_segments=1)[0]


def test_planner_texts_fit_two_segments_with_realistic_values():
    from checkin.schedules import load_config

    assert check_table(load_config().templates, source="plan.toml") == []


@pytest.mark.parametrize(
    "body",
    [
        "WHEN",
        "when?",
        "Cuándo",
        "CUANDO",
        "When is the meeting?",
        "when's group",
        "whens the next meeting",
        "¿Cuándo es?",
        "cuando es la reunión",
        "when do we meet",
    ],
)
def test_when_keywords_and_phrases(body):
    assert keywords.classify(body)[0] == "when"


@pytest.mark.parametrize(
    "body", ["when will I feel better", "when I wake up I feel awful", "cuando me siento solo"]
)
def test_sentences_with_when_are_not_the_keyword(body):
    assert keywords.classify(body) == (None, None)

"""Risk rules engine: corpus targets, normalisation, context, escalators, history, fail-safe."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

import checkin.rules as rules
from checkin.rules import (
    LEVELS,
    Assessment,
    AssessmentContext,
    assess,
    default_ruleset,
    level_rank,
    normalize,
)
from checkin.rules.evaluate import evaluate, format_report

CORPUS = Path(__file__).parent / "corpus" / "risk_corpus.tsv"
HOLDOUT = Path(__file__).parent / "corpus" / "risk_holdout.tsv"


def level(text: str, **kw) -> str:
    return assess(text, **kw).level


def at_least(text: str, minimum: str, **kw) -> bool:
    return level_rank(level(text, **kw)) >= level_rank(minimum)


# --------------------------------------------------------------------------- API


def test_api_shapes():
    assert LEVELS == ("none", "watch", "urgent", "crisis")
    assert [level_rank(l) for l in LEVELS] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        level_rank("panic")
    a = assess("im gonna kill myself tonight")
    assert isinstance(a, Assessment)
    assert a.level == "crisis"
    assert a.rules and all(isinstance(r, str) for r in a.rules)
    assert any("kill myself" in m for m in a.matches)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.level = "none"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        AssessmentContext().score = 3  # type: ignore[misc]


def test_routine_message_has_no_rules():
    a = assess("ok see you thursday")
    assert a == Assessment("none", (), ())


def test_default_ruleset_is_loaded_once():
    # The rule files are parsed once per process, not per message (speed is measured in `make bench rules`).
    assert default_ruleset() is default_ruleset()


def test_language_selects_rule_set():
    assert level("voy a suicidarme", language="es") == "crisis"
    assert level("voy a suicidarme", language="en") != "crisis"
    assert level("i am going to kill myself", language="en") == "crisis"
    assert level("voy a suicidarme") == "crisis"  # None = both


# --------------------------------------------------------------------------- corpus targets


def test_corpus_targets():
    report = evaluate(CORPUS)
    assert report.total >= 450
    text = format_report(report, show_errors=True)
    assert report.crisis_recall_at_urgent == 1.0, text
    assert report.crisis_exact_recall >= 0.95, text
    assert report.none_false_alarm_rate <= 0.02, text


def test_corpus_composition():
    rows = [l.split("\t", 1) for l in CORPUS.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(rows) >= 450
    none = sum(1 for lvl, _ in rows if lvl == "none")
    assert none >= len(rows) / 3
    spanish_words = (
        "quiero",
        "estoy",
        "me ",
        "mi ",
        "no tengo",
        "voy",
        "muy",
        "adios",
        "gracias",
        "todo",
        "nos vemos",
    )
    spanish = sum(
        1
        for _, t in rows
        if any(w in t.lower() for w in spanish_words)
        and not any(w in t.lower() for w in (" i ", "i'm", "im ", "my "))
    )
    assert spanish >= 0.25 * len(rows) * 0.9
    dev = Path("/work/shared/corpus/risk_levels_dev.tsv")
    if dev.exists():
        ours = {tuple(r) for r in rows}
        for line in dev.read_text(encoding="utf-8").splitlines()[1:]:
            assert tuple(line.split("\t", 1)) in ours, line


def test_holdout_looser_targets():
    report = evaluate(HOLDOUT)
    text = format_report(report, show_errors=True)
    assert report.crisis_recall_at_urgent == 1.0, text
    assert report.none_false_alarm_rate <= 0.05, text


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("I'm gonna", "i am going to"),
        ("im gonna", "i am going to"),
        ("dont wanna", "do not want to"),
        ("i cant", "i can not"),
        ("u ok? ur the best", "you ok , your the best"),
        ("rn", "right now"),
        ("sooo tired", "so tired"),
        ("i wanna diieee", "i want to die"),
        ("k1ll", "kill"),
        ("d1e", "die"),
        ("$uicide", "suicide"),
        ("su1c1de", "suicide"),
        ("kms", "kill myself"),
        ("kys", "kill yourself"),
        ("unalive myself", "kill myself"),
        ("sewer slide", "suicide"),
        ("suicídarme", "suicidarme"),
        ("ya no quiero vivir", "ya no quiero vivir"),
        ("\U0001f48a\U0001f52b\U0001f52a\U0001faa2\u26b0\ufe0f", "pills gun knife rope coffin"),
        ("took 30 pills", "took 30 pills"),
        ("5am 30mg 2nd", "5am 30mg 2nd"),
        ("ran 5 kms", "ran 5 kms"),
        ("ill kill myself", "i will kill myself"),
        ("i feel ill", "i feel ill"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw", ["i feel abbbandoned tonight", "quiero tomar pastiiiillas", "sewer slide, un alive my self", ""]
)
def test_one_normalisation_serves_the_rules_and_the_classifier(raw):
    # The live path normalises once for both; a letter run read against the rules' vocabulary
    # ("abbbandoned" -> "abandoned") may read otherwise with the base vocabulary the classifier uses.
    from checkin.rules.normalize import normalize_pair

    vocab = default_ruleset().vocabulary
    assert normalize_pair(raw, vocab) == (normalize(raw, vocab), normalize(raw))


@pytest.mark.parametrize(
    "text",
    [
        "im gonna k1ll myself",
        "gonna kms tonight",
        "wanna unalive myself",
        "thinking about $uicide tonight",
        "su1c1de tonight",
        "ready to ctb",
        "i want to game end",
        "sewer slide tonight fr",
        "im gonna kiiiilllll myself",
        "I'M GOING TO KILL MYSELF!!!",
        "💊💊💊 tonight im done",
        "i want to die 🔫",
        "Me voy a suicidar",
        "me voy a suicídar hoy",
    ],
)
def test_normalised_variants_are_crisis(text):
    assert level(text) == "crisis", assess(text)


# --------------------------------------------------------------------------- negation scope


@pytest.mark.parametrize(
    "text",
    [
        "I'm not suicidal, just tired",
        "I would never hurt myself",
        "no suicidal thoughts this week",
        "im not going to kill myself, dont worry",
        "no tengo pensamientos de suicidarme",
        "nunca me haria dano",
    ],
)
def test_negation_lowers_to_at_most_watch(text):
    assert level_rank(level(text)) <= level_rank("watch"), assess(text)


@pytest.mark.parametrize(
    "text",
    [
        "not sure I want to live",
        "I don't want to live anymore",
        "I don't want to be here",
        "i dont want to wake up tomorrow",
        "no i want to die",
        "im not ok, i want to die",
        "i cant stop thinking about killing myself",
        "no one would care if i killed myself",
        "ya no quiero vivir",
        "no tengo ganas de vivir",
    ],
)
def test_negation_words_that_are_the_risk(text):
    assert at_least(text, "urgent"), assess(text)


def test_negation_scope_ends_at_clause():
    assert level("I'm not suicidal, but I'm going to kill myself tonight") == "crisis"
    assert level("im not ok i am going to kill myself") == "crisis"
    assert level("not suicidal") == "none"
    assert "context.negation" in assess("not suicidal").rules


# --------------------------------------------------------------------------- figurative


@pytest.mark.parametrize(
    "text",
    [
        "this heat is killing me",
        "dying to see you",
        "killed it at my interview",
        "I could kill for a coffee",
        "my feet are killing me",
        "me muero de risa",
        "me mata el calor",
        "my phone died",
        "i'm dead 😂",
        "cut my hair today",
        "shot some hoops",
        "the suspense is killing me",
    ],
)
def test_figurative_is_none(text):
    assert level(text) == "none", assess(text)


def test_figurative_does_not_hide_real_risk_in_same_message():
    assert level("this heat is killing me and honestly i want to kill myself") == "crisis"
    assert level("my feet are killing me, i cut my wrists") == "crisis"


# --------------------------------------------------------------------------- third party / past / hypothetical


@pytest.mark.parametrize(
    "text",
    [
        "my friend's brother died by suicide",
        "my cousin tried to kill himself",
        "I used to cut, 2 years clean",
        "i tried to kill myself when i was 16",
        "the movie was about suicide",
        "if i ever felt suicidal i would call you",
        "mi primo intento suicidarse",
    ],
)
def test_third_party_past_hypothetical_at_most_watch(text):
    assert level_rank(level(text)) <= level_rank("watch"), assess(text)


def test_third_party_with_own_risk_still_escalates():
    assert at_least("my friend died by suicide and i want to join him", "urgent")
    assert level("my brother killed himself and now i'm going to kill myself") == "crisis"


def test_past_marker_overridden_by_recent_marker():
    assert level("i used to cut, 2 years clean") == "watch"
    assert at_least("2 years clean but i cut myself again last night", "urgent")


# --------------------------------------------------------------------------- escalators


@pytest.mark.parametrize(
    "text",
    [
        "took 30 pills",
        "swallowed the whole bottle",
        "took a handful of my sleeping pills",
        "just took like 40 of my moms pills",
        "me tome todas mis pastillas",
        "this is my last text",
        "goodbye everyone",
        "giving my things away",
        "wrote my note",
        "won't be at the next meeting, or any meeting",
        "i want to die and i have a gun",
        "i want to die tonight",
        "quiero morir hoy",
        "standing at the train tracks",
    ],
)
def test_escalators_are_crisis(text):
    assert level(text) == "crisis", assess(text)


@pytest.mark.parametrize(
    "text", ["took 2 advil for my back", "took my meds this morning", "took 100 mg of zoloft"]
)
def test_normal_doses_are_not_overdoses(text):
    assert level(text) == "none", assess(text)


def test_goodbye_with_see_you_is_logistics():
    assert level("bye everyone see you next week") == "none"
    assert level("goodbye everyone, see you on the other side") == "crisis"


# --------------------------------------------------------------------------- history and help


def ctx(**kw) -> AssessmentContext:
    return AssessmentContext(**kw)


def test_score_1_is_watch():
    a = assess("1", context=ctx(score=1))
    assert a.level == "watch"
    assert "history.score_1" in a.rules


def test_two_lowest_in_a_row_is_urgent():
    a = assess("", context=ctx(score=1, recent_scores=(3, 1)))
    assert a.level == "urgent"
    assert "history.two_lowest" in a.rules
    assert assess("", context=ctx(score=1, recent_scores=(1, 2))).level == "watch"


def test_drop_from_recent_average_is_urgent():
    a = assess("meh", context=ctx(score=2, recent_scores=(1, 4, 4, 4, 4)))
    assert a.level == "urgent" and "history.drop" in a.rules  # average of the last 4 is 4
    assert assess("meh", context=ctx(score=3, recent_scores=(4, 4, 5))).level == "none"


def test_three_missed_checkins_is_watch():
    a = assess("", context=ctx(missed_checkins_in_a_row=3))
    assert a.level == "watch" and "history.missed_3" in a.rules
    assert assess("", context=ctx(missed_checkins_in_a_row=2)).level == "none"


def test_history_never_lowers_text_level():
    assert assess("im going to kill myself", context=ctx(score=5, recent_scores=(5, 5))).level == "crisis"


@pytest.mark.parametrize(
    "text",
    [
        "call me",
        "can someone call me",
        "need to talk to someone",
        "llámame",
        "necesito hablar con alguien",
        "please help",
    ],
)
def test_help_requests_are_urgent(text):
    a = assess(text)
    assert a.level == "urgent", a
    assert "help.request" in a.rules


def test_keypad_help_is_urgent():
    a = assess("", context=ctx(source="voice_keypad_help"))
    assert a.level == "urgent" and "help.request" in a.rules


def test_logistics_call_is_not_help():
    assert level("call me back about the schedule") == "none"


# --------------------------------------------------------------------------- fail safe


def test_fail_safe_returns_urgent_and_logs_without_text(monkeypatch, caplog):
    def boom(*a, **k):
        raise RuntimeError("secret text should not be logged")

    monkeypatch.setattr("checkin.rules.engine.normalize", boom)
    with caplog.at_level(logging.ERROR, logger="checkin.rules"):
        a = assess("my private message")
    assert a == Assessment("urgent", ("engine.error",), ())
    assert caplog.records, "the error must be logged"
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert "private" not in logged and "secret" not in logged


def test_fail_safe_on_bad_input_type():
    assert assess(None).level in LEVELS  # type: ignore[arg-type]
    assert assess(12345).level == "urgent"  # type: ignore[arg-type]


def test_package_exports():
    for name in (
        "assess",
        "Assessment",
        "AssessmentContext",
        "LEVELS",
        "level_rank",
        "RuleFileError",
        "load_ruleset",
        "default_ruleset",
    ):
        assert hasattr(rules, name)

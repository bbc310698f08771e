"""An outside tester's findings in the risk rules: a negated or doubted safety statement read as a
denial, and constructs (some pills + a symptom, a plan, wanting to cut, wanting to go away forever)
left at none. Each is checked by meaning, in English and Spanish with typos and no accents, beside
the everyday (negated, past, third-party, figurative) wording that must stay lower. The phrases are
written for these tests, not lines of any blind set."""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank, load_ruleset
from webhooks.console.templating import rule_reasons


def live(text: str):
    """What a member's text gets: every language, and the statistical second opinion."""
    return assess(text, language=ALL_LANGUAGES, second_opinion=True)


def rules_alone(text: str):
    return assess(text, language=ALL_LANGUAGES)


# --------------------------------------------------------------------------- 1. not safe

NOT_SAFE = [
    "im not safe right now",
    "I don't think I'm safe right now",
    "i am not safe",
    "not safe",
    "not safe tonight",
    "honestly not safe tonight",
    "im really not safe rn",
    "i don't feel safe",
    "i dont feel safe tonight",
    "i do not feel safe with myself",
    "i can't promise i'll be safe",
    "cant promise ill be safe tonight",
    "i can't keep myself safe",
    "i won't be safe tonight",
    "i'm not sure i can stay safe",
    "not sure i can stay safe tonight",
    "i feel unsafe right now",
    "no estoy a salvo",
    "ya no estoy a salvo ahora",
    "no me siento segura",
    "no me siento seguro esta noche",
    "no puedo mantenerme a salvo",
    "no sé si pueda estar a salvo",
    "no se si voy a poder estar a salvo esta noche",
    "no puedo prometer que voy a estar a salvo",
    "no creo estar a salvo",
]


@pytest.mark.parametrize("text", NOT_SAFE)
def test_a_negated_or_doubted_safety_statement_is_crisis_and_never_a_denial(text):
    result = rules_alone(text)
    assert result.level == "crisis", result
    assert not {"safety.denial", "es.safety_denial"} & set(result.rules)
    # What a facilitator reads in the console for it: never that the member says they are safe.
    reasons = rule_reasons(",".join(result.rules))
    assert "says they are safe" not in reasons and "dice estar a salvo" not in reasons
    assert "NOT safe" in reasons or "NO esta a salvo" in reasons


@pytest.mark.parametrize(
    "text",
    ["i am safe right now", "im safe, thanks for checking", "estoy a salvo ahora", "me siento segura hoy"],
)
def test_a_plain_safety_statement_is_still_a_denial(text):
    result = rules_alone(text)
    assert result.level == "none"
    assert {"safety.denial", "es.safety_denial"} & set(result.rules)


@pytest.mark.parametrize(
    "text",
    [
        "my sister is not safe right now",  # someone else
        "if i am not safe tonight i will call 988",  # safety-plan talk
        "if i do not feel safe i call my sponsor",
        "i did not feel safe as a kid",  # the past
        "no estoy segura",  # "I'm not sure", not "not safe"
        "no estoy segura de ir el jueves",
        "si no me siento segura llamo al 988",
        "mi hermana no esta a salvo",
    ],
)
def test_not_safe_about_someone_else_a_hypothesis_or_the_past_is_not_crisis(text):
    result = rules_alone(text)
    assert level_rank(result.level) < 3, result
    assert not {"safety.denial", "es.safety_denial"} & set(result.rules)


def test_not_safe_about_a_place_stays_urgent_without_a_denial():
    for text in ("the roads are not safe tonight", "i am not safe at home"):
        result = rules_alone(text)
        assert result.level == "urgent", result
        assert "safety.denial" not in result.rules


# --------------------------------------------------------------------------- 2. constructs

CRISIS = [
    # pills taken + a symptom: an act under way
    "I took some pills and feel dizzy",
    "i took pills and now i feel dizzy",
    "took a few pills, so dizzy",
    "i took some pils and im really dizy",
    "took some of the pills and i cant stay awake",
    "ya me tomé unas pastillas, me siento mareada",
    "ya me tome unas pastiyas y estoy mariada",
    "me tome unas pastillas y veo borroso",
    # a plan
    "i have a plan",
    "I have a plan.",
    "i already have a plan",
    "ive got a plan, tonight",
    "tengo un plan",
    "ya tengo un plan",
    # a goodbye / intent
    "me quiero ir para siempre",
    "me kiero ir pa siempre",
    "quiero irme para siempre de este mundo",
    "i want to go away forever",
    "i just want to disappear forever",
    # means in hand
    "tengo las pastillas en la mano otra vez",
    "tengo las pastiyas en mi mano",
    "i have the pills in my hand again",
    # wanting to cut, now
    "me quiero cortar ahorita",
    "i want to cut tonight",
]

URGENT = [
    "me quiero cortar",
    "me kiero cortar otra vez",
    "me voy a cortar",
    "quiero cortarme",
    "i want to cut myself",
]

LOWER = [
    "i took my pills and feel great",
    "i took some pills for my headache and feel dizzy",
    "me tome unas pastillas para el dolor y me siento mareada",
    "i took some pills last year and felt dizzy",
    "hace años me tome unas pastillas y me senti mareada",
    "my brother took some pills and feels dizzy",
    "i have a plan for the weekend",
    "tengo un plan para el fin de semana",
    "my therapist and i have a plan",
    "if i have a plan i tell my therapist",
    "me quiero ir para siempre de este trabajo",
    "me quiero ir de vacaciones para siempre",
    "i want to go away forever to a beach",
    "i want to leave this job forever",
    "me quiero cortar el pelo",
    "i want to cut my hair",
]


@pytest.mark.parametrize("text", CRISIS)
def test_constructs_the_tester_found_are_crisis(text):
    assert rules_alone(text).level == "crisis"
    assert live(text).level == "crisis"


@pytest.mark.parametrize("text", URGENT)
def test_wanting_to_cut_is_at_least_urgent(text):
    assert level_rank(rules_alone(text).level) >= 2


@pytest.mark.parametrize("text", LOWER)
def test_their_everyday_twins_stay_below_urgent(text):
    assert level_rank(rules_alone(text).level) < 2, rules_alone(text)


# --------------------------------------------------------------------------- the engine: masks with a context


def test_a_mask_that_names_a_context_is_lowered_like_a_rule_and_still_blanks(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        """language = "any"
[context]
hypothetical_cues = ["if"]
hypothetical_fillers = ["i", "am"]
third_person = ["she"]
first_person = ["i"]
[[rule]]
id = "t.unsafe"
level = "crisis"
mask = true
context = ["third_party", "hypothetical"]
patterns = ['not safe']
[[rule]]
id = "t.safe"
level = "none"
mask = true
tags = ["denial"]
patterns = ['safe']
[[rule]]
id = "t.plain_mask"
level = "urgent"
mask = true
patterns = ['stuck']
""",
        encoding="utf-8",
    )
    rs = load_ruleset([path])
    assert assess("i am not safe", ruleset=rs).rules == ("t.unsafe",)
    hypothetical = assess("if i am not safe", ruleset=rs)
    assert hypothetical.level == "watch" and hypothetical.rules == ("t.unsafe", "context.hypothetical")
    assert assess("she is not safe", ruleset=rs).level == "watch"
    # a mask without a context is read as before, context words or not
    assert assess("if i am stuck", ruleset=rs).level == "urgent"

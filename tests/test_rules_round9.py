"""Round 9 of issue 12: the parts the outsiders' training sets showed missing, checked on other wordings.

The outsiders' sets (tests/corpus/classifier_train_outsiders_*.tsv) told self-harm under way with its
wound, an overdose by the whole supply and the body's signs, and gas from an unlit stove in a shut
room; intent denied with the thoughts of death still there (urgent); the rules missed many. The families in config/rules/families.toml ("round 9") add parts to the
existing compositions; here they are said in words that are not lines of the corpus, beside everyday
messages that share their words.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank

# (family, text): crisis on both readings (all rules at once, and the live path's every language)
CRISIS = [
    ("selfharm x wound", "cut my arm with a razor and it will not stop bleeding"),
    ("selfharm x wound", "me corte el brazo con la navaja y no para de sangrar"),
    ("selfharm x wound", "burned my arm w the lighter again, its oozing now"),
    ("selfharm under way", "estoy cortandome con el cuchillo de la cocina"),
    ("selfharm under way", "estoy en mi cuarto quemandome con el cigarro"),
    ("intake x symptom", "took a whole week of my lithium, heart doing flips"),
    ("intake x symptom", "advil the whole new bottle, stomach hurts so bad"),
    ("intake x symptom", "puse el veneno en un vaso de refresco y me lo tome, me falta el aire"),
    ("intake x symptom", "eche todas las pastillas al cafe y me lo tome, ya no veo bien"),
    ("gas x closed room", "opened the knobs on the stove without lighting them, closed the bathroom door"),
]

URGENT = [
    ("selfharm act", "held the hot iron against my thigh"),
    ("selfharm act", "me raje el muslo con la navaja"),
    ("thoughts denied but present", "i promise i wont do anything, i just think about dying all the time"),
    ("thoughts denied but present", "no me voy a hacer nada pero la idea de no despertar sigue ahi"),
    ("thoughts denied but present", "estoy bien, solo que sigo pensando en morirme"),
    ("thoughts denied but present", "i'm ok, the thoughts are still there but i'm ok"),
]

HARMLESS = [
    "cut my finger slicing onions, bleeding a bit",
    "took a whole week off work, feeling sleepy and happy",
    "mixed the protein powder in a cup and drank it, stomach hurts lol",
    "the stove burner would not light so we ordered pizza",
    "shut the bathroom door and took a long bath",
    "no veo bien sin mis lentes",
    "getting very drowsy after my night shift, heart doing flips from the coffee",
    "bought a whole month of my meds at once because the pharmacy was closing",
    "me rasguñe los brazos con el rosal del jardin, nada grave",
    "blood test came back fine, the nurse said my iron is good",
    "my sister burned her arm with a lighter and its oozing",
    "ya no tengo la idea de morirme, gracias a ustedes",
    "the thoughts are there for my essay, just need to write them",
]


def levels(text: str) -> tuple[int, int]:
    return level_rank(assess(text).level), level_rank(assess(text, language=ALL_LANGUAGES).level)


@pytest.mark.parametrize(("family", "text"), CRISIS)
def test_round9_crisis_families(family, text):
    assert levels(text) == (3, 3), family


@pytest.mark.parametrize(("family", "text"), URGENT)
def test_round9_urgent_families_page_someone(family, text):
    assert min(levels(text)) >= 2, family


@pytest.mark.parametrize("text", HARMLESS)
def test_round9_look_alikes_stay_below_urgent(text):
    assert max(levels(text)) < 2


def test_a_round9_family_names_its_reason_for_facilitators():
    a = assess("used the blade on my leg, soaked through two towels already", language=ALL_LANGUAGES)
    assert a.level == "crisis" and "fam9.selfharm_wound" in a.rules


def test_bleeding_until_it_bled_stays_urgent():
    # Every blind set labels self-harm "until it bled" or with bruises as recent self-harm (urgent);
    # only a serious wound (will not stop, soaked towels, gaping, oozing) makes the act a crisis.
    a = assess("me rasguñe las piernas hasta sangrar otra vez", language=ALL_LANGUAGES)
    assert a.level == "urgent" and "fam9.selfharm_wound" not in a.rules


GUARDED = [
    ("i did not cut myself, the towels are soaked from the shower", "context.negation"),
    ("i used to think about dying a lot but therapy helped", "context.past"),
]


@pytest.mark.parametrize(("text", "guard"), GUARDED)
def test_the_guards_lower_a_round9_part(text, guard):
    a = assess(text, language=ALL_LANGUAGES)
    assert level_rank(a.level) < 3 and guard in a.rules

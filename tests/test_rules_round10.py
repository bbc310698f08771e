"""Round 10 of issue 12: precision guards and recall parts, checked on sentences that are not in the corpus.

The outsiders' training sets (tests/corpus/classifier_train_outsiders_*.tsv) showed harmless messages that
the rules alone put at crisis or urgent (a joke about a trivial thing, a pharmacy errand, a leisure place
in company, everyday uses of a means, a letter in the mail, a terminal illness, an absence with a return
date, idioms, a wish to die told as long past), and crisis or urgent messages the live path missed
(implicit finality, preparation with an ending, a message left for the family, a last message, passive
wishes).  The section "round 10" of config/rules/families.toml adds guards and parts; here each is said
in new words, beside the real crisis that shares its words and must keep its level.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


# -------------------------------------------------------------- guards: harmless, never urgent or more
HARMLESS = [
    # a joke marker together with a trivial object
    ("joke x trivial", "kms if the lakers lose tonight's game lmao"),
    ("joke x trivial", "the wifi dropped during my quiz, kms jajaja"),
    ("joke x trivial", "kms jaja se me olvido la tarea en el bus"),
    # pharmacy errand, a filled organizer
    ("errand", "grabbed my meds at walgreens on the way home, all set for the month"),
    ("errand", "recogi mis pastillas en la farmacia del centro, all set"),
    ("errand", "filled my pill organizer sunday night, all set for the week"),
    # leisure place in company or for the view
    ("leisure place", "sitting at the edge of the bed tying my shoes, then off to the park"),
    ("leisure place", "biked over the golden gate bridge this morning with my cousins, great view"),
    ("leisure place", "sentado en la orilla del lago con mis nietas, que lindo dia"),
    ("leisure place", "heading to the beach this weekend with the kids, can't wait"),
    # everyday uses of a means
    ("everyday means", "setting out mouse bait in the garage this week"),
    ("everyday means", "afilando el machete pal sancocho de manana"),
    ("everyday means", "compre una soga nueva para colgar la hamaca en el patio"),
    # a letter in the mail, a terminal illness, an absence with a return date
    ("mail", "wrote a letter to my grandson who is in the navy, it will arrive next week"),
    ("terminal", "hospice nurse came today. my affairs are in order and I'm at peace"),
    ("absence", "no voy a estar el martes, tengo cita con el dentista, regreso el jueves"),
    # idioms
    ("idiom", "me mato la clase de spinning hoy, no siento las piernas"),
    ("idiom", "my teacher is gonna kill me, forgot my homework again"),
    ("idiom", "taxes can go jump off a cliff"),
    ("idiom", "me voy a matar de la risa con este video"),
    ("idiom", "mi abuela dice que la voy a matar de un susto con la moto"),
    ("picking someone up", "parked outside waiting for my daughter to get out of school"),
    # a wish to die told as long past, with recovery
    ("long past", "twenty years ago i wanted to die, now i run the sunday group"),
]


@pytest.mark.parametrize(("guard", "text"), HARMLESS)
def test_round10_guards_keep_everyday_messages_below_urgent(guard, text):
    assert level_rank(live_rules(text)) < 2, guard


# ------------------------------------------- the same words in a real crisis keep their level
STILL_CRISIS = [
    ("joke marker without a trivial object", "kms tonight lol i cant take it anymore"),
    ("joke marker, but serious", "lol the wifi is down but for real i want to kill myself"),
    ("errand, then intent", "picked up my pills from the pharmacy and im going to take all of them tonight"),
    ("a leisure word at a real edge", "standing on the edge of the bridge, can't do this anymore"),
    ("a rope with no everyday use", "tied the rope to the beam in the garage, tonight"),
    (
        "waiting for someone to leave, with a means",
        "going to wait until my wife leaves for work and take the pills",
    ),
]


@pytest.mark.parametrize(("why", "text"), STILL_CRISIS)
def test_round10_guards_never_hide_a_real_crisis(why, text):
    assert live_rules(text) == "crisis", why


def test_a_joke_guard_lowers_only_to_watch():
    # A joke about a trivial thing is still worth a look from a facilitator, never an alarm.
    assert live_rules("if my team loses again i will kms lol") == "watch"


# -------------------------------------------------------------- recall: crisis
CRISIS = [
    ("finality x time", "after friday nobody will have to worry about me anymore"),
    ("finality x time", "tonight is the night, i made up my mind"),
    ("finality", "me voy a dormir y no voy a despertar, ya lo decidi"),
    ("preparation x ending", "cancelled my gym membership and my phone plan, won't need them anymore"),
    ("preparation x ending", "hice mi testamento y le regale mis herramientas a mi hermano. ya estoy en paz"),
    ("preparation x ending", "paid off all my debts yesterday. nothing left to do"),
    ("relay x ending", "tell my boys i love them. it was not their fault, it's not on them"),
    ("relay x ending", "diganle a mi hija que la quise mucho, cuando yo no este que no llore"),
    ("last message", "this is my last message. love you all, bye"),
]


@pytest.mark.parametrize(("family", "text"), CRISIS)
def test_round10_crisis_families(family, text):
    assert live_rules(text) == "crisis", family


# -------------------------------------------------------------- recall: urgent (a passive wish)
URGENT = [
    ("wish x not waking up", "some nights i hope i just don't wake up"),
    ("not minding x not waking up", "wouldn't mind if i never woke up tbh"),
    ("ojala x not waking up", "ojala no despertara manana"),
    ("not caring x a car", "me da igual si me atropella un carro"),
    ("praying x God taking me", "i keep praying god takes me in my sleep"),
    ("said plainly", "ya no tengo ganas de vivir, pero no voy a hacer nada"),
    ("said plainly", "kind of wish i wasn't here anymore"),
]


@pytest.mark.parametrize(("family", "text"), URGENT)
def test_round10_passive_wishes_page_someone(family, text):
    assert level_rank(live_rules(text)) >= 2, family


# -------------------------------------------------------------- the context checks still apply
BELOW_URGENT = [
    ("third party", "my grandma always says she hopes she doesn't wake up some days"),
    ("negation", "i don't wish i wasn't here, i'm glad i am"),
    ("past, with recovery", "two years ago i prayed god would take me in my sleep. not anymore"),
    ("third party relay", "my neighbor told me to tell my kids she loves them"),
]


@pytest.mark.parametrize(("guard", "text"), BELOW_URGENT)
def test_round10_parts_respect_context(guard, text):
    assert level_rank(live_rules(text)) < 2, guard

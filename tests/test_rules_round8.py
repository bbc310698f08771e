"""Round 8 of issue 12: construct families that compose parts, checked on wordings nobody folded in.

Each family here is said in English, Spanish and both mixed, in words that are not lines of any blind
set nor of tests/corpus/risk_round8_probes.tsv (the probes written before the round, whose floors are
in test_rules_families.FINALS), beside everyday messages that share the family's words.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank

# (family, text): crisis on both readings (all rules at once, and the live path's every language)
CRISIS = [
    # a setting told with what the person is doing there
    ("setting", "parked on the train tracks right now"),
    ("setting", "estoy en el puente viendo el agua, ya no aguanto"),
    ("setting", "sitting on the rails por la estacion, i can hear the horn"),
    ("setting", "standing at the edge of the overpass, about to let go"),
    ("setting", "out on the pier, the water is black tonight. im sorry"),
    ("setting", "estoy arriba del edificio, ya no quiero nada"),
    ("setting", "at the river again. this time im going in"),
    # an engine or charcoal in a closed space
    ("co", "the engine is on and the garage door is down"),
    ("co", "prendi el anafre en el cuarto con todo cerrado"),
    ("co", "lit charcoal in my room and shut the door"),
    # a chosen day or place
    ("plan", "i know the day. saturday. the old railroad bridge"),
    ("plan", "voy a hacerlo el viernes en el rio"),
    ("plan", "ya escogi el dia, next sunday at the quarry"),
    # giving away or handing over care, with an ending
    ("goodbye", "gave away my guitar and my tv, wont need them where im going"),
    ("goodbye", "le deje mis perros a mi hermana, ya no los voy a necesitar"),
    ("goodbye", "gave my cat to my neighbor, i wont be around to feed her"),
    # soft finality with a time
    ("finality", "soon none of it will matter"),
    ("finality", "nobody will miss me after tomorrow"),
    ("finality", "ya no me van a ver despues del domingo"),
    # command voices toward another person, harm to a person or place with a time
    ("voices", "i hear them telling me to hurt the kids"),
    ("voices", "las voces quieren que lastime a mi vecino"),
    ("voices", "the voices tell me to stab my mother"),
    ("harm", "voy a quemar la casa de mi suegra"),
    ("harm", "gonna torch his car tonight, i have the gas"),
    # means gathered on purpose, with a day
    ("stock", "got all my refills at once on purpose, enough for friday"),
]

URGENT = [
    ("selfharm", "me estoy jalando el pelo hasta sacarme sangre"),
    ("selfharm", "been clawing at my arms till they bleed again"),
    ("selfharm", "the urge to burn myself is back, havent done it"),
    ("window", "me soltaron del psiquiatrico ayer y no he comido"),
    ("window", "my brother died friday and i cant eat or sleep"),
    ("relapse", "me emborrache otra vez despues de 9 meses sobrio"),
    ("relapse", "called my old dealer, using again tonight"),
    ("control", "he reads all my texts and wont let me see my mom"),
    ("control", "ella me quita el dinero y no me deja trabajar"),
    ("eviction", "nos estan sacando del depa el lunes"),
    ("eviction", "my landlord gave us 3 days to get out, 2 kids and nowhere to go"),
    ("meds", "havent taken my abilify in 10 days, up all night with racing thoughts"),
    ("meds", "ya no tomo mi litio, no duermo nada"),
    ("finality", "i just want it all to stop forever"),
    ("fail_up", "keep thinking about the gun in my dads closet"),
]

HARMLESS = [
    "meet me at the bridge after group",
    "el trafico en el bridge is crazy, llego tarde",
    "im dead tired lol",
    "muerto de sueño, me voy a dormir",
    "dead tired from the move, gonna crash early",
    "going to the river with my kids to fish",
    "standing on the bridge taking pictures of the sunset",
    "we walked by the river after dinner, so peaceful",
    "waiting for the train to go to work, running late",
    "on the bridge now, be there in 5",
    "gave away my old bike to a kid on the block",
    "regale ropa vieja a la iglesia, ya tenia el closet lleno",
    "left the car running in the garage to warm it up",
    "prendi el carbon para la carne asada",
    "picked the date for the baby shower, the 14th at my mom's",
    "my son is going to kill it at the game friday",
    "stopped taking advil since my back is better",
    "ran out of coffee and didn't sleep much, rough morning",
    "my brother wrote his will, good for him",
    "we're moving out sunday, new place is bigger",
    "the voices in that podcast are so calming",
]


def levels(text: str) -> tuple[int, int]:
    return level_rank(assess(text).level), level_rank(assess(text, language=ALL_LANGUAGES).level)


@pytest.mark.parametrize(("family", "text"), CRISIS)
def test_round8_crisis_families(family, text):
    assert levels(text) == (3, 3), family


@pytest.mark.parametrize(("family", "text"), URGENT)
def test_round8_urgent_families_page_someone(family, text):
    assert min(levels(text)) >= 2, family


@pytest.mark.parametrize("text", HARMLESS)
def test_round8_look_alikes_stay_below_urgent(text):
    assert max(levels(text)) < 2


def test_a_round8_family_names_its_reason_for_facilitators():
    a = assess("sitting on the railroad tracks, waiting for the 9:40", language=ALL_LANGUAGES)
    assert a.level == "crisis" and "fam8.setting_act" in a.rules


GUARDED = [
    ("my neighbor is standing on the bridge waiting for the train to pass", "context.third_party"),
    ("i am not on the tracks, i am home and safe", "context.negation"),
    ("years ago i found a home for my dogs when i was in the hospital", "context.past"),
]


@pytest.mark.parametrize(("text", "guard"), GUARDED)
def test_the_guards_lower_a_round8_part(text, guard):
    a = assess(text, language=ALL_LANGUAGES)
    assert level_rank(a.level) < 3 and guard in a.rules

"""Round 14 of issue 12: harmless lines the rules still put at crisis after round 13, and their crisis twins.

Each harmless line names an ordinary reason for the very thing a rule saw: an accident told as such and as over
("cut my arm on the fence fixing it, lots of blood but ok now"), a chore on a roof with its end ("not coming down
till it's done"), someone else's gun kept for hunting, a plan that is a stay or a visit ("me voy a quedar con mi
mama hoy, ya lo tengo todo planeado"), a last cigarette when quitting.  The reasons are tags read on the whole
message (config/rules/families.toml, section "round 14"), each voided by a danger sign anywhere in it, so every
crisis twin below (the same setting with an intent, a jump, a goodbye, a threat, a means) stays crisis.  "No es
para cazar" now denies the everyday purpose as "not for hunting" does.  The texts were written for this test,
in English, Spanish and both mixed, before the rules were changed (the harmless ones failed then).
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


HARMLESS = [
    "cut my arm on the fence fixing it, lots of blood but ok now",
    "sitting on the roof fixing the gutters, not coming down till it's done",
    "grandpa... he has a rifle for hunting",
    "me voy a quedar con mi mama hoy, ya lo tengo todo planeado",
    "my last cigarette",
    "sliced my hand open on the sheet metal at work, bled a lot but im fine now, got stitches",
    "me corte la mano con el vidrio limpiando la ventana, mucha sangre pero ya estoy bien",
    "cut my finger bad chopping onions, blood everywhere lol but all good",
    "scraped my leg on the barbed wire fixing the fence, bled a ton but it's fine now",
    "me corte con la cerca arreglandola, salio mucha sangre but im ok now",
    "up on the roof cleaning the gutters, not coming down until it's finished",
    "estoy en el techo arreglando las tejas, no me bajo hasta terminar",
    "on the roof patching the leak, not getting down till it's done",
    "sitting on the ladder on the roof painting, not coming down til im done",
    "my uncle has a shotgun for hunting ducks",
    "mi abuelo tiene un rifle para cazar venado",
    "my dad keeps a rifle for deer hunting in the closet",
    "mi tio tiene una escopeta pa cazar, he goes every november",
    "me voy a quedar con mi tia hoy, ya lo tengo planeado",
    "I am going to stay at my mom's tonight, I have it all planned out",
    "tonight im staying over at my sister's, already planned everything",
    "voy a pasar la noche con mi abuela, ya tengo todo listo",
    "smoking my last cigarette tonight, quitting tomorrow",
    "este es mi ultimo cigarro, manana lo dejo",
    "last cigarette ever, day one of quitting tomorrow",
    "the ups guy keeps banging on the door with a package",
    "scraped my knee on the concrete skateboarding, bleeding but fine now",
    "burned my hand on the stove cooking dinner, blistered but it's ok now",
    "me queme la mano con el comal haciendo tortillas, ya estoy bien",
    "me corte el dedo con la lata abriendola, sangro mucho pero ya estoy bien",
    "me subi al techo a arreglar la antena, no me bajo hasta terminar",
    "up the ladder cleaning the gutters, not coming down till they're clear",
    "mi primo tiene una escopeta para cazar patos",
    "my brother keeps his hunting rifle at my place",
    "vamos a quedarnos con mis suegros el fin, ya tengo todo planeado",
    "i'll sleep over at my best friend's tonight, got it all planned",
    "me voy a ir con mi hermana hoy, ya tengo todo listo",
    "my last cigarette, then i'm done for good with smoking",
    "ultimo cigarro, manana empiezo a dejarlo",
    "el ultimo cigarro de mi vida, lo dejo hoy",
    "the ups guy is outside banging on the door",
]

CRISIS = [
    # danger signs the look-aheads must see: never coming down, being found, liking it
    "sitting on the roof fixing the gutters, not coming down ever",
    "staying with my sister tonight, i have it all planned, she will find me in the morning",
    "cut my arm on the fence fixing it, lots of blood but ok now. i think i liked it",
    "cut my arm on purpose, lots of blood and i want to do it again",
    "me corte el brazo a proposito, mucha sangre y no quiero parar",
    "sitting on the roof, not coming down, i want to jump",
    "en el techo, no me voy a bajar, ya no quiero vivir",
    "grandpa has a rifle for hunting and tonight im using it on myself",
    "tengo el rifle de mi abuelo y no es para cazar",
    "got my dad's rifle and it's not for hunting",
    "mi rifle no es para cazar esta vez",
    "me voy a quedar sola hoy, ya lo tengo todo planeado, adios",
    "tonight i have it all planned out, the pills are ready",
    "my last cigarette before i end it tonight",
    "ultimo cigarro antes de matarme",
    "cut deep on purpose, so much blood, cant stop it",
    "cut my arm on the fence fixing it, lots of blood, honestly wish it went deeper",
    "cut my arm on the fence, lots of blood but ok now, gonna do it again tonight",
    "on the roof fixing the gutters, thinking about just letting go",
    "on the roof fixing the gutters, might just jump",
    "my husband has a rifle for hunting and he said he'd shoot me",
    "me voy a quedar con mi mama hoy, ya lo tengo todo planeado, le deje una carta a mis hijos",
    "staying with my sister tonight, have it all planned, the pills are in my bag",
    "me voy a quedar con mi tia hoy, ya lo tengo todo planeado, no me busquen",
    "mi abuelo tiene un rifle para cazar y lo voy a usar conmigo mismo esta noche",
    "compre una escopeta hoy y no es para cazar",
]


@pytest.mark.parametrize("text", HARMLESS)
def test_an_ordinary_reason_keeps_the_line_below_urgent(text):
    assert level_rank(live_rules(text)) <= level_rank("watch"), text


@pytest.mark.parametrize("text", CRISIS)
def test_a_danger_sign_beside_the_reason_keeps_it_crisis(text):
    assert live_rules(text) == "crisis", text


def test_spanish_not_for_hunting_is_a_denied_purpose_like_the_english():
    assert live_rules("compre una escopeta hoy y no es para cazar") == "crisis"
    assert live_rules("got a shotgun today and it's not for hunting") == "crisis"
    assert level_rank(live_rules("compre una escopeta hoy para cazar venado")) <= level_rank("watch")

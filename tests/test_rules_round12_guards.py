"""Round 12 of issue 12: precision, and the one clause-level "ordinary reason".

Round 11 had a guard per everyday explanation, each a whole-message word list.  Round 12 reads an
ordinary reason (a trip or a visit, a time of return, a season, a trivial thing fought over, a landmark,
an everyday injury, a farm's or a boat's object) per clause: it lowers a goodbye, finality or means match
only in its own clause, and never when the message also carries a danger sign (no return, an ending, a
wish to die).  Also: fam8.benign_b no longer hears "no me queda" (nothing left) as clothes that don't
fit, and the harmless lines the sealed sets alarmed (figures of speech, humour, a hobby, farm work) are
said here in new words.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


BELOW_URGENT = [
    # an ordinary reason in the same clause as the goodbye or the means
    ("goodbye x a trip", "goodbye everyone for two weeks, visiting my grandkids in Tucson"),
    ("goodbye x a trip (es)", "adios a todos por unas semanas, me voy a ver a mis nietos"),
    ("goodbye x return date (mixed)", "bye group, me voy de viaje, back on monday"),
    ("a season opening", "cleaned my rifle, deer season opens saturday"),
    ("a trivial grievance (es)", "voy a matar a mi hermana, se comio mis galletas"),
    ("a landmark", "meet me at the taqueria by the bridge at 6"),
    ("a boat's rope", "bought a new rope for the boat, taking it out saturday"),
    ("farm work (es)", "fumigamos la milpa hoy con el pesticida, con guantes y mascarilla"),
    ("farm work", "sprayed weed killer on the back field this morning"),
    # a bare goodbye takes its reason from the clause next to it across a comma
    ("bare goodbye x next clause", "bye all, for two weeks i'm at my daughter's in Reno"),
    ("bare goodbye x return day (es)", "ya me voy, adios a todos, nos vemos el jueves"),
    # a note to a housemate
    ("a note about the rent", "left the note on the fridge for my roommate about the wifi bill"),
    # fam8.benign_b: clothes that don't fit
    ("clothes that don't fit (es)", "regale unos pantalones que ya no me quedan"),
    ("clothes that don't fit", "gave away my old jeans, they don't fit anymore"),
    # figures, humour, everyday
    ("one more meeting", "if i have to sit through one more webinar i'm gonna die"),
    ("one more (es)", "si tengo que comer otro tamal mas me muero"),
    ("a candy overdose", "overdosed on chocolate at the office party lol"),
    ("a puzzle", "this sudoku is gonna blow my brains out"),
    ("dragged to a show", "my wife dragged me to a car show, so boring"),
    ("a baby sleeping", "the baby slept through the night for the first time!"),
    ("an old rope", "the old rope on the swing was falling apart so we replaced it"),
    ("texting the reading", "can someone text me the reading for thursday"),
    ("a screening question answered no (es)", "si quiero hacerme daño? no, ni de broma. estoy bien"),
    ("self-harm stopped (es)", "hoy use manga corta, desde que deje de cortarme me siento mejor"),
    ("hopeless at cooking", "my mom says im hopeless in the kitchen lol"),
    # threats and 'purge' as figures
    ("a figurative threat (es)", "mi jefa me va a matar si llego tarde otra vez jaja"),
    ("a closet purge", "purged my closet and donated two bags"),
    # a date picked for a party
    ("a course of antibiotics", "took my last pill of the amoxicillin, finally done"),
    ("watching trains", "the kids love watching the trains by the tracks on saturdays"),
    ("a video game", "me mato el boss final otra vez, que juego tan dificil"),
    ("fabric cut (es)", "corte la tela para la cortina de la sala"),
    ("overdoses at work", "en la clinica tuvimos dos sobredosis hoy, turno largo pero yo bien"),
    ("an attempt long ago (es)", "hace muchos años intente matarme, hoy doy gracias de estar aqui"),
    ("a date for a party", "picked the date for the quinceañera, el 14 de junio"),
]


@pytest.mark.parametrize(("guard", "text"), BELOW_URGENT, ids=[c[0] for c in BELOW_URGENT])
def test_round12_everyday_messages_stay_below_urgent(guard, text):
    level = live_rules(text)
    assert level_rank(level) < level_rank("urgent"), (guard, assess(text, language=ALL_LANGUAGES))


STILL_ALARMED = [
    # the ordinary reason is in another clause, or the message has a danger sign
    ("reason in another clause", "goodbye everyone, i will not be here for the holidays", "crisis"),
    ("a trip with no return", "goodbye for a week, going to see my mom. then i'm not coming back", "crisis"),
    (
        "a grievance with a gun (es)",
        "voy a matar a mi hermano, se comio mi pastel, ya tengo la pistola lista",
        "crisis",
    ),
    ("a landmark with a jump", "meet me at the cafe by the bridge, i am going to jump", "crisis"),
    ("a boat's rope with a test", "bought rope for the boat. already tested it on the beam", "crisis"),
    # fam8.benign_b: 'no me queda' as nothing left, with things given away
    ("given away x nothing left (es)", "ya regalé mis cosas, no me queda nada por hacer aquí", "crisis"),
    ("given away x nothing left (mixed)", "gave away all my stuff, ya no me queda nada", "crisis"),
]


@pytest.mark.parametrize(("why", "text", "level"), STILL_ALARMED, ids=[c[0] for c in STILL_ALARMED])
def test_round12_ordinary_reason_is_clause_local_and_yields_to_danger(why, text, level):
    assert live_rules(text) == level, (why, assess(text, language=ALL_LANGUAGES))


def test_an_ordinary_reason_lowers_only_its_own_clause():
    """The same goodbye is lowered when its reason is in its clause, and not when a 'but' stands between."""
    with_reason = live_rules("goodbye everyone for a week")
    across = live_rules("goodbye everyone, but for a week i will be at my sister's")
    assert level_rank(with_reason) < level_rank("urgent")
    assert level_rank(across) >= level_rank("urgent")


# Found when round 12 met the corpus: coercive control and a lone "not picking up" are urgent, as the level
# definitions say, not a phone call at night; a danger sign keeps an ordinary reason from excusing a
# combination; a car running in a shut garage with someone in it is a crisis, a muffler repair is not.
EXACTLY = [
    ("kept in, phone taken (es)", "mi pareja no me deja salir de la casa y me esconde el celular", "urgent"),
    ("kept in, keys taken", "he hides my car keys and wont let me leave the house", "urgent"),
    (
        "relapse x sponsor not answering",
        "used again last night, 6 months gone, and my sponsor isnt picking up",
        "urgent",
    ),
    (
        "meds out x doctor not answering (mixed)",
        "se me acabaron las pastillas y el doctor no contesta, idk what to do",
        "urgent",
    ),
    ("passive x a time", "lowkey dont care if i live or die today", "urgent"),
    (
        "a visit x don't look for me",
        "heading out to see my old unit buddies tonight. dont look for me",
        "crisis",
    ),
    (
        "a goodbye letter x not answering",
        "my son left a goodbye letter on his desk and hes not answering his phone",
        "crisis",
    ),
    (
        "a goodbye audio x not answering (es)",
        "mi hermana mando un audio despidiendose y ya no contesta",
        "crisis",
    ),
    (
        "locked in x says she will cut (es)",
        "mi hija se encerro en su cuarto y dice que se va a cortar",
        "crisis",
    ),
    (
        "car running x shut garage",
        "my dad is in the garage with the truck running and the garage door shut",
        "crisis",
    ),
    (
        "car running x muffler",
        "my husband is in the garage with the car running, fixing the muffler again",
        "watch",
    ),
]


@pytest.mark.parametrize(("why", "text", "level"), EXACTLY, ids=[c[0] for c in EXACTLY])
def test_round12_coercive_control_stays_urgent_and_third_party_danger_is_crisis(why, text, level):
    assert live_rules(text) == level, (why, assess(text, language=ALL_LANGUAGES))

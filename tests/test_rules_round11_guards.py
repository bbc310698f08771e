"""Round 11 of issue 12: precision guards, each harmless look-alike beside the dangerous sentence it resembles.

The outsiders' sets j..n (written by people who never saw the rules) showed harmless messages that the rules
alone assessed as crisis or urgent: a goodbye with an ordinary reason or a return, "todo en orden" as
all-is-well, an attempt or an overdose anchored years back, figurative effort ("killing myself at the gym"),
a harm-to-others phrase about a trivial grievance, the cause of someone else's death, reassurance about an
earlier message, "how we're gonna do it" about money, a bridge named as a landmark, an old means thrown
away, media that depicts a suicide, everyday injuries, a pet's medicine, routine medication, a resolved
eviction, a hunting season, an outing with the kids.  The section "round 11" of config/rules/families.toml
adds a guard for each (a mask over its own words, or a tag the [unless] table gives the rule family).

Every sentence here was written for this test (none is in the corpus or the outsiders' sets).  Each row is a
harmless message that the guard keeps below urgent, and the real crisis or urgent message that shares its
words and must keep its level.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


# (construct, harmless look-alike, the dangerous sentence it resembles, that sentence's level)
PAIRS = [
    # a goodbye with an ordinary reason or a return
    (
        "goodbye x a trip to family",
        "bye group for a few days, flying out to see my grandkids in ohio",
        "bye everyone, im going to see my mom in heaven tonight",
        "crisis",
    ),
    (
        "goodbye x moving in with family",
        "me despido, me voy a vivir con mi hermana a Tijuana. fue un placer",
        "me despido de todos, me voy con mi mama al cielo",
        "crisis",
    ),
    (
        "goodbye x a new job (mixed)",
        "adios grupo, empiezo un trabajo nuevo en Houston el lunes",
        "adios a todos para siempre, ya no voy a volver",
        "crisis",
    ),
    (
        "going with a relative to a place",
        "el domingo me voy con mi tio al rancho",
        "me voy con mi papa, ya no aguanto mas. adios a todos",
        "crisis",
    ),
    # all is well
    (
        "todo en orden after a checkup",
        "me sacaron sangre en la clinica, todo en orden",
        "le di mi perro a mi vecina. todo en orden.",
        "crisis",
    ),
    # an attempt or an overdose anchored years back
    (
        "an anniversary of an attempt",
        "today marks 3 years since my attempt, proud of myself",
        "3 days since my attempt and im going to try again tonight",
        "crisis",
    ),
    (
        "an anniversary of an attempt (es)",
        "hoy se cumplen cuatro años de mi intento, sigo aqui y agradecida",
        "hoy hace un año de mi intento y quiero volver a intentarlo",
        "urgent",
    ),
    (
        "an overdose anchored by a year",
        "my nurse from when i overdosed in 2019 said hi to me today",
        "i overdosed an hour ago and i feel weird",
        "crisis",
    ),
    # figurative effort
    (
        "killing myself at the gym",
        "been killing myself at the gym this week, legs are jelly",
        "im killing myself at work tonight, i have the rope in my car",
        "crisis",
    ),
    # harm-to-others wording about a trivial grievance
    (
        "a trivial grievance and a laugh (es)",
        "voy a matar a mi hermana, se acabo mi helado jaja",
        "voy a matar a mi primo, ya tengo la pistola lista",
        "crisis",
    ),
    (
        "a trivial grievance (en)",
        "i swear im going to kill my roommate, she ate my cake",
        "gonna kill my brother, he ate my food and he keeps hitting me",
        "crisis",
    ),
    (
        "a partner's joke about chores",
        "my husband says if i leave the dishes again hes gonna kill me",
        "my husband says if i leave him hes going to kill me",
        "urgent",
    ),
    # someone else's death
    (
        "the cause of a relative's death",
        "my brother's wake is tomorrow. overdose. i don't know what to say to my mom",
        "my cousin's funeral is tomorrow. i want to overdose after",
        "crisis",
    ),
    (
        "the cause of a relative's death (es)",
        "el velorio de mi tio es hoy. sobredosis. no lo puedo creer",
        "despues del velorio de mi tio me voy a tomar todas las pastillas",
        "crisis",
    ),
    # reassurance about an earlier message
    (
        "my last message, then reassurance",
        "i know my last text sounded bad, im ok, just venting",
        "this is my last text. love you all",
        "crisis",
    ),
    (
        "my last message, then reassurance (es)",
        "se que mi ultimo mensaje sono feo, estoy bien, solo estaba triste",
        "este es mi ultimo mensaje, los quiero",
        "crisis",
    ),
    # everyday strain and figures of speech
    (
        "how we'll pay",
        "the car broke down and i dont know how we're gonna pay for it",
        "i know how im going to do it. tonight",
        "crisis",
    ),
    (
        "tired of the week (mixed)",
        "apenas es martes y ya me canse de esta semana, i'm so done",
        "im so done. tonight is the night",
        "crisis",
    ),
    (
        "a bridge as a landmark",
        "lets meet at the cafe by the bridge tomorrow",
        "im at the bridge. tonight i jump",
        "crisis",
    ),
    (
        "an old means thrown away",
        "found my old razors while cleaning today, threw them out. weird feeling",
        "got my razor blades out. tonight",
        "crisis",
    ),
    (
        "media that depicts a suicide",
        "la serie que estoy viendo tiene una escena de suicidio, fuerte pero bien",
        "watched a movie about suicide and now i want to do it",
        "crisis",
    ),
    (
        "nobody got hurt",
        "choque el carro pero nadie salio lastimado",
        "me lastime otra vez, me corte los brazos",
        "urgent",
    ),
    (
        "a sunburn",
        "me queme con el sol, parezco tomate",
        "me queme el brazo con un cigarro a proposito",
        "urgent",
    ),
    (
        "all eyes on a performer",
        "everyone was watching me at the recital, so nervous but i did it",
        "everyone is watching me through the walls, they want to hurt me",
        "urgent",
    ),
    (
        "a pet's pills",
        "gave the dog his pills in peanut butter",
        "gave my dog to my sister, wont need him anymore",
        "crisis",
    ),
    (
        "routine medication with breakfast",
        "ya me tome las pastillas de la manana y desayune",
        "ya me tome todas las pastillas, adios",
        "crisis",
    ),
    (
        "an eviction worked out",
        "got an eviction notice but we worked out a payment plan",
        "got an eviction notice, we have nowhere to sleep tonight",
        "urgent",
    ),
    (
        "a hunting season",
        "cleaned the rifle today, season opens tomorrow, taking my son",
        "cleaned my rifle. season starts tomorrow but i wont be here to see it",
        "crisis",
    ),
    (
        "an outing with the kids",
        "took the kids to the splash pad, they ran til they dropped",
        "she took the kids and i cant go on without them",
        "urgent",
    ),
    (
        "back after a quiet week",
        "i was gone all week, sorry for not answering, back now",
        "havent eaten or slept in 4 days, cant get up",
        "urgent",
    ),
]


@pytest.mark.parametrize(("construct", "harmless", "danger", "level"), PAIRS, ids=[p[0] for p in PAIRS])
def test_round11_guard_lowers_the_look_alike_and_keeps_the_danger(construct, harmless, danger, level):
    assert level_rank(live_rules(harmless)) < 2, f"{construct}: harmless look-alike alarmed"
    assert live_rules(danger) == level, f"{construct}: the dangerous sentence changed level"


# ------------------------------------------------ a guard never explains away what comes after it
STILL_DANGEROUS = [
    ("an anniversary, then a new attempt", "5 years since my attempt and tonight i finish it", "crisis"),
    (
        "an old means thrown away by someone else",
        "my mom found my razors and tossed them out. im furious and kind of relieved",
        "urgent",
    ),
    (
        "medication flushed, not a means thrown away",
        "flushed all my meds down the toilet, done with them",
        "crisis",
    ),
    ("a goodbye for a week, then for ever", "goodbye everyone for a week. then forever", "crisis"),
    ("a last message, not a reassurance", "this is my last message. i am fine with it. goodbye", "crisis"),
    ("all in order, with preparation", "ya deje todo en orden, adios", "crisis"),
    (
        "effort words with a means and a time",
        "im killing myself at work tonight, i have the rope in my car",
        "crisis",
    ),
]


@pytest.mark.parametrize(("why", "text", "level"), STILL_DANGEROUS, ids=[s[0] for s in STILL_DANGEROUS])
def test_round11_guards_never_hide_a_real_crisis(why, text, level):
    assert live_rules(text) == level, why

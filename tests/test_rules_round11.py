"""Round 11 of issue 12: rule families that compose parts, checked on sentences that are not in the corpus.

The last sealed blind sets (now tests/corpus/risk_blind_final9.tsv and final10.tsv) and the outsiders'
training sets j..n showed crisis messages the rules put at urgent or lower (self-harm under way, an
overdose told by quantity or after the fact, a ligature tied, preparations with "I'm ready", a child at
risk with a call for someone to come, a place chosen where nobody will stop it, command voices, a weapon
while waiting for someone), urgent ones at none (psychiatric medication stopped or not obtainable, wanting
to go be with someone who died), and harmless ones at crisis (a bridge game, "voy a matar a mi hermano, se
comió mi pastel", a goodbye before a trip).  The section "round 11" of config/rules/families.toml adds the
parts and guards; here each construct is said in new words, beside a look-alike that must not alarm.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


CRISIS = [
    # self-harm act x now / still going / a serious wound
    ("self-harm x still going", "burned my leg with the lighter three times and i'm still going"),
    ("self-harm x now", "me estoy cortando el brazo ahorita, no me puedo parar"),
    ("self-harm x wound", "carved into my thigh with a razor, it's deep and won't close"),
    ("self-harm x now (mixed)", "burning mi pierna con el encendedor right now"),
    # intake x body / alcohol / told after
    ("intake x body", "took way too many of my sleeping pills, can't keep my eyes open"),
    ("intake x alcohol", "swallowed a handful of xanax with tequila"),
    ("intake by quantity", "ya me tomé todo lo que había en el botiquín"),
    ("intake x told after", "took them all about an hour ago, don't tell my sister"),
    # ligature x vigil, rehearsal x next time
    ("ligature x vigil", "tied the belt to the closet rod. sitting here staring at it"),
    ("rehearsal x next time", "practiced with the rope on saturday, next time i won't stop"),
    # stockpile x use; discharge x means
    ("stockpile x use", "I have 40 of my seroquel saved up and I'm going to use them"),
    ("discharge x decided", "got discharged today, went and got enough, i have decided"),
    # preparation x ready / ending
    ("prep x ready", "gave my records and my guitar away. i'm ready"),
    ("prep x ending (mixed)", "cancelé mi plan de teléfono y regalé mi perro. nothing left to take care of"),
    # implicit finality
    ("join the dead x ending", "made my peace. going to go be with my mom now, she passed last year"),
    ("won't be a problem x time", "after this weekend i won't be anyone's problem anymore"),
    # place chosen x nobody there; into traffic; jumping said plainly
    ("place chosen x nobody there", "already picked which overpass. nobody walks there at night"),
    ("walking into traffic", "walking out into the freeway now"),
    ("jump intent (mixed)", "ya no puedo, voy a brincar del puente de la 5"),
    # a child: fear x a call for someone to come, at the end of one's rope
    ("child fear x call", "scared of what i'll do to my son. somebody please come get him"),
    ("child fear x limit", "el bebé no para de llorar y tengo miedo de lo que le voy a hacer"),
    # command voices x a harmful command
    ("command voices", "the voices keep saying push my brother down the stairs"),
    ("command voices (es)", "la voz me dice que tengo que matarlo, no se calla"),
    # a weapon while waiting for someone
    ("weapon x lying in wait", "sitting outside his work with my knife"),
    # last words x apology; gas x windows shut
    ("last words x apology", "estos son mis últimos mensajes. perdón por todo"),
    ("gas x windows shut", "left the burners on without lighting them and closed all the windows"),
]


@pytest.mark.parametrize(("family", "text"), CRISIS)
def test_round11_crisis_families(family, text):
    assert live_rules(text) == "crisis", (family, assess(text, language=ALL_LANGUAGES))


URGENT = [
    # medication stopped, thrown out or not obtainable
    ("meds thrown out", "flushed my lithium down the toilet, i don't need it"),
    ("meds stopped (es)", "ya no me tomo mis pastillas desde el lunes"),
    ("meds not obtainable", "the clinic has no risperidone this month and i can't pay for it"),
    ("discharge without meds (es)", "me dieron de alta pero sin receta ni cita"),
    # wanting to go be with someone who died
    ("join the dead", "my dad died in march and i just want to go be with him"),
    # the act alone stays urgent (recent self-harm), not crisis
    ("self-harm act", "burned myself with a cigarette last night"),
]


@pytest.mark.parametrize(("family", "text"), URGENT)
def test_round11_urgent_constructs(family, text):
    assert live_rules(text) == "urgent", (family, assess(text, language=ALL_LANGUAGES))


HARMLESS = [
    # the everyday bridge
    ("bridge game", "bridge night at my aunt's, we play every thursday"),
    ("bridge landmark", "pick me up at the gas station by the bridge"),
    # a kin "kill" over something trivial
    ("kin joke", "voy a matar a mi hermana, se acabó mi helado otra vez"),
    ("kin joke (en)", "i am going to kill my roommate, he ate my leftovers again"),
    # a goodbye before a trip or a move
    ("trip goodbye", "bye everyone, for a week i'm going to see my grandkids"),
    ("move goodbye", "me despido, me voy a vivir con mi hijo a Tijuana, fue un gusto"),
    # cooking and grooming accidents
    ("cooking accident", "burned my hand on the pan making breakfast, ice helped"),
    ("shaving accident", "me corté afeitándome, nada grave"),
    # a routine dose
    ("routine dose", "ya me tomé las pastillas de la mañana y desayuné"),
    # a season opening, a show, karaoke
    ("hunting season", "cleaned the rifle, season opens saturday with my uncle"),
    ("a show", "watched an episode with a suicide in it, turned it off, i'm fine"),
    # affairs in order for a terminal illness, everything fine after a checkup
    ("terminal", "hospice says it's time, my affairs are in order and i'm calm"),
    ("checkup", "fui a mi chequeo, todo en orden"),
    # a grief anniversary, a past overdose
    ("anniversary", "today is 3 years since my attempt and i'm grateful to be here"),
    # a dog with a relative while away
    ("pet sitter", "dejé al perro con mi hermana mientras voy al trabajo"),
]


@pytest.mark.parametrize(("guard", "text"), HARMLESS)
def test_round11_guards_keep_everyday_messages_below_urgent(guard, text):
    level = live_rules(text)
    assert level_rank(level) < level_rank("urgent"), (guard, assess(text, language=ALL_LANGUAGES))


NEGATED_OR_OTHERS = [
    # the same parts, negated, someone else's, or long past, stay below crisis
    ("negated", "i'm not going to walk into traffic, i'm just tired"),
    ("third party", "my sister said she took too many of her pills, she's at the er with mom"),
    ("past", "years ago i tied a rope in the closet, today i lead the group"),
    ("hypothetical", "if the voices told me to hurt someone i would call my doctor"),
]


@pytest.mark.parametrize(("why", "text"), NEGATED_OR_OTHERS)
def test_round11_parts_keep_the_context_guards(why, text):
    assert live_rules(text) != "crisis", (why, assess(text, language=ALL_LANGUAGES))

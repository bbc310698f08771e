"""An outside tester's findings: emptying, finishing off or swallowing a whole pill bottle, pack,
medicine cabinet or stash (Spanish vaciar / acabarse / tragarse el frasco, las pastillas, el
botiquin), and not expecting to wake up and accepting it, were read below crisis. Each is checked
by meaning in English and Spanish, with typos and no accents, beside the everyday wording (a third
party, tidying, a finished course of antibiotics, running out, food, oversleeping) that must stay
below crisis. The phrases are written for these tests, not lines of any blind set."""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess


def rules_alone(text: str):
    return assess(text, language=ALL_LANGUAGES)


CRISIS = [
    # the tester's lines
    "emptied the pill bottle an hour ago",
    "vacié el frasco de pastillas hace una hora",
    "swallowed everything in the medicine cabinet",
    "i finished off all my sleeping pills",
    "i dont think i will wake up tomorrow and thats ok",
    # already crisis before, kept
    "i swallowed all my pills",
    "took the whole bottle of my meds",
    "i overdosed",
    "me tomé todas mis pastillas",
    # English, own wordings
    "just emptied out the pill bottle",
    "i emtied the pill botle",
    "finished off the bottle of ambien",
    "polished off all my painkillers",
    "downed the whole pill bottle",
    "took everything in my moms medicine cabinet",
    "i finished off my entire supply of meds",
    "i dont think ill wake up tomorow and thats okay",
    "i won't wake up tomorrow and i'm fine with that",
    "i probably wont wake up in the morning and honestly its ok",
    # Spanish, own wordings
    "vacie el frasco de pastillas",
    "me vacie todo el bote de pastillas",
    "me acabé todas las pastillas",
    "me acabe todo el frasco de clonazepam",
    "me termine todas mis pastillas de golpe",
    "me tragué todo el botiquín",
    "me trage todas las pastillas del botiquin",
    "me trague el botiquin entero",
    "no creo que despierte mañana y está bien",
    "no creo despertar manana y la verdad me da igual",
    "ya no voy a despertar y estoy en paz",
]


@pytest.mark.parametrize("text", CRISIS)
def test_a_whole_supply_taken_or_a_goodbye_that_accepts_not_waking_is_crisis(text):
    assert rules_alone(text).level == "crisis", rules_alone(text)


BELOW_CRISIS = [
    # the tester's look-alikes
    "i dont think i will wake up early tomorrow, so tired",
    "my dad emptied the pill bottle into the trash",
    "finished my antibiotics course",
    "finished off the pizza",
    "vacié el frasco de vitaminas en el pastillero",
    "se acabaron mis pastillas, mañana voy a la farmacia",
    # English, own wordings
    "finished all my antibiotics",
    "i emptied the pill bottle into my weekly organizer",
    "finished off all my meds, need a refill tomorrow",
    "finished my pill pack, period should start soon",
    "emptied a bottle of wine last night",
    "she swallowed everything in the medicine cabinet years ago",
    "i dont think i will wake up in time for class tomorrow and thats ok",
    "took everything in the medicine cabinet to clean it",
    "finished the whole pack of cigarettes",
    # Spanish, own wordings
    "vacie el frasco de pastillas en la basura",
    "me acabe todas mis pastillas, mañana voy a la farmacia",
    "me acabe la pizza",
    "me acabe toda la caja de galletas",
    "mi papa vacio el frasco de pastillas en la basura",
    "mi abuela se trago todas sus pastillas",
    "me termine el antibiotico",
    "vacie el botiquin para limpiarlo",
    "no creo que despierte temprano mañana, estoy cansadisima",
    "no creo despertarme mañana temprano y esta bien, es sabado",
]


@pytest.mark.parametrize("text", BELOW_CRISIS)
def test_everyday_emptying_finishing_or_oversleeping_stays_below_crisis(text):
    assert rules_alone(text).level != "crisis", rules_alone(text)


@pytest.mark.parametrize(
    "text",
    [
        "i dont think i will wake up early tomorrow, so tired",
        "finished my antibiotics course",
        "finished off the pizza",
        "vacié el frasco de vitaminas en el pastillero",
        "me acabe la pizza",
        "vacie el frasco de pastillas en la basura",
    ],
)
def test_plain_everyday_lines_stay_at_none(text):
    assert rules_alone(text).level == "none", rules_alone(text)


def test_running_out_of_pills_keeps_what_the_existing_rules_say():
    # Running out is not an overdose; the existing rules' levels stand.
    assert rules_alone("se acabaron mis pastillas, mañana voy a la farmacia").level == "watch"
    assert rules_alone("ya se me acabaron las pastillas").level == "urgent"

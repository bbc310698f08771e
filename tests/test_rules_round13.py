"""Round 13 of issue 12: the constructs the sealed sets final13/final14 and the outsiders' sets s..u missed.

Each construct is composed from parts in config/rules/families.toml (section "round 13"): what a person sees
in someone else now (not breathing, not waking up after something was taken, a goodbye and no answer, locked
in with a means), violence under way (an aggressor x an act x now; armed x outside or forcing the door),
something taken x an ending or its effects, finality x a time, preparation x an ending, a means in hand x an
ending, a height x the edge; and urgent situations (withdrawal alone, relapse said plainly, reckless
indifference, sleeping rough now, medication stopped x mania or voices, a parent finding self-harm, family
reporting death talk x a gun at home, money taken from an elder, an attempt's anniversary x thoughts
returning, a suicide nearby x rumination, passive wishes).  Beside them, the everyday messages that share
their words (a dose as the doctor said, a reminder note, a climbing rope, a past story).  The texts are
written anew for this test, not copied from any corpus file, in English, Spanish and both mixed.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


CRISIS = [
    # reporter x emergency now
    ("not breathing", "my roommate is not breathing right and her lips look blue"),
    ("taken x not waking", "mi hermano se tomo todas las pastillas y no despierta"),
    ("taken x drowsy (mixed)", "my dad took a bunch of his pills y esta muy dormido"),
    ("overdose x narcan", "a guy in the stairwell overdosed, we gave him narcan and hes not moving"),
    ("goodbye x unreachable", "my sister sent me a text saying goodbye and now she wont pick up"),
    ("note found x unreachable (es)", "encontre una carta de mi hijo despidiendose y no contesta"),
    ("locked in x means", "my son locked himself in his room with my pills and wont answer"),
    ("locked in x says he will (es)", "mi tio dice que se va a colgar y esta encerrado en el garaje"),
    ("tp act x now", "my cousin just shot himself in the yard, he is still breathing, what do i do"),
    # violence under way
    ("attack x now", "her boyfriend is choking my friend right now please help"),
    ("attack now (es)", "mi papa esta golpeando a mi mama y no la suelta, ayuda"),
    ("strangled now (es)", "me esta estrangulando mi pareja, ayuda"),
    ("armed x outside x threat", "my ex is outside my window with a knife saying he will kill me"),
    ("forcing the door x armed (es)", "mi ex esta pateando la puerta y trae una pistola"),
    ("strangled x threat", "he choked me last night and says he will kill me tonight"),
    ("harm to child intent", "i am going to smother this baby if she does not stop crying"),
    # something taken x an ending or its effects
    ("taken x on purpose", "used a whole bag of fent on purpose, hope its enough"),
    ("taken x effects", "i took something an hour ago, cant feel my legs and my heart is racing"),
    ("effects x wanted", "everything is spinning and my lips are numb. its what i wanted"),
    ("big dose (es)", "me tome como 50 pastillas de paracetamol"),
    # finality x time; preparation x ending
    ("burden x time", "by sunday i will not be anyones problem anymore"),
    ("decided x letter (mixed)", "ya decidi. wrote the letter for my kids, friday"),
    ("do it x time", "paid for my cremation already. saturday night i do it"),
    ("letters x placed", "wrote letters to each of my grandkids and left them in the nightstand"),
    ("gave away x will not need", "gave my guitar and my cat to my neighbor. wont need them where im going"),
    ("last mission x care", "final patrol. take care of my dog for me"),
    ("euphemism x time", "going to see jesus tonight. thank you for everything group"),
    ("farewell x time x affairs", "said my goodbyes and deleted my insta. tonight"),
    ("planned x end", "i made up my mind. do not send anyone"),
    # a means in hand x an ending; a height x the edge; self-harm under way
    ("hand x end", "in my car with my rifle. done fighting"),
    ("means assembled x staring", "poured all my pills into a bowl. just staring at them"),
    ("height x edge", "sitting on top of the parking structure, not coming down"),
    ("height named x rail", "drove out to the dam. standing on the railing now"),
    ("cut x bath", "cut my wrist too deep in the tub, so much blood"),
    ("burn x now", "pressing a hot iron on my leg right now cant stop"),
    ("unalive x time (mixed)", "me voy a unalive esta noche fr"),
    ("crash x time", "tonight im driving off into the river, make it look like an accident"),
]

URGENT = [
    ("withdrawal alone", "coming off xanax cold turkey alone, shaking and cant sleep"),
    ("withdrawal alone (es)", "estoy dejando de tomar yo solo en mi casa, sudando y temblando"),
    ("relapse back on", "back on the crystal since last week"),
    ("relapse after days", "drank last night after 90 days sober"),
    ("reckless indifference", "driving drunk every night lately, dont care if i crash"),
    ("homeless now", "sleeping at the train station since monday, nowhere to stay"),
    ("off meds x mania", "my husband stopped his lithium and has been up three nights talking fast"),
    ("off meds x voices (es)", "deje mis pastillas hace una semana y oigo cosas otra vez"),
    ("parent finds self-harm", "found blood in my daughters sheets and cuts on her arms"),
    (
        "family death talk x gun",
        "my grandpa keeps saying he is ready to die and he has a revolver in the closet",
    ),
    ("family death talk x minor", "my son keeps saying he wants to die. hes 12"),
    ("money taken x needs", "my nephew took my debit card and there is no money for my medicine"),
    ("anniversary x thoughts", "two years since my attempt and the urges are coming back"),
    ("suicide nearby x rumination", "a guy at work hanged himself and i keep thinking about how he did it"),
    ("passive wish", "sometimes i wish id never been born"),
    ("intrusive harm thoughts", "keep having thoughts about drowning my baby, i would never, it scares me"),
    ("threat if I leave", "he says if i leave he will kill me"),
    ("voices back", "the voices are coming back at night"),
]

HARMLESS = [
    ("dose as the doctor said", "took all my pills this morning like the doctor said, sugar is better"),
    ("dose as prescribed (es)", "me tome todas mis pastillas como me dijo el doctor"),
    ("reminder note", "left a note on the counter so my son remembers to walk the dog"),
    ("reminder note (es)", "le deje una nota en el refri a mi esposo para que no se le olvide la cita"),
    ("climbing rope", "got a new climbing rope, gym tonight with my sister"),
    ("tie-down rope", "bought rope to tie down the tarp on the truck"),
    ("cried in the car", "rough day at work, cried in my car at lunch"),
    ("past third-party act", "my grandpa shot himself in 1989, we still talk about him"),
    ("catching the bus", "glad i woke up in time to catch the bus"),
    ("a game beat me", "my sister is beating me at cards right now lol"),
    ("a letter to the late", "wrote a letter to my late wife like my counselor said"),
    (
        "report of getting help",
        "my son told me hes been cutting. we saw his therapist today and he has a plan",
    ),
    ("goodbye before a flight", "my aunt said goodbye at the airport and wont answer until she lands"),
    ("a game's last mission", "last mission of the campaign tonight, gonna finally beat it"),
    ("a game's valhalla", "going to valhalla in the new game tonight with my cousins"),
    ("last day at a job", "hoy es mi ultimo dia en la fabrica, gracias por todo companeros"),
    ("a dose in milligrams", "took 150 mg of my sertraline this morning"),
    ("affairs in order in hospice", "hospice started this week. my affairs are in order and i am at peace"),
]


@pytest.mark.parametrize("name,text", CRISIS, ids=[c[0] for c in CRISIS])
def test_round13_crisis_constructs(name, text):
    assert live_rules(text) == "crisis", assess(text, language=ALL_LANGUAGES)


@pytest.mark.parametrize("name,text", URGENT, ids=[c[0] for c in URGENT])
def test_round13_urgent_constructs(name, text):
    assert level_rank(live_rules(text)) >= 2, assess(text, language=ALL_LANGUAGES)


@pytest.mark.parametrize("name,text", HARMLESS, ids=[c[0] for c in HARMLESS])
def test_round13_everyday_messages_are_not_alarmed(name, text):
    assert level_rank(live_rules(text)) < 2, assess(text, language=ALL_LANGUAGES)


def test_a_danger_sign_still_voids_the_reminder_note():
    # the reminder is an ordinary reason only while nothing in the message says it is an ending
    text = "left a note on the fridge so my husband knows where the will is. goodbye forever"
    assert live_rules(text) == "crisis"


def test_the_doctor_reason_does_not_cover_a_large_dose():
    assert live_rules("took 40 of my pills like the doctor said not to") == "crisis"

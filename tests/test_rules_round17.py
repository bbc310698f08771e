"""Round 17: the misses of two outsiders' training sets (x and y), fixed by construct.

Harmless lines the rules alarmed, each a means or a death word in an ordinary frame (other people's
overdoses, a carbon monoxide detector put in, a roof job, free gun locks, a late father's guns going to a
dealer, cravings met with a sponsor, a doctor's taper, fired from a packing plant, killing time, a movie's
title, going home for good with a ticket, furniture given away before a move, knives for a tamalada).  Crisis
lines told by construct rather than by a word: at a height or by deep water x alone, wind, deciding or
belongings left; an engine in a closed garage; gas burners left unlit; swallowed a bunch and feels weird; not
trusting oneself beside a means; a lethal dose asked (kills, to not wake up) x one's own weight; gasoline or a
rope bought "not for the mower"; a gun loaded and set out; a pet or things handed over x for good, affairs
settled or thanks that end; a third person's report of a goodbye x phone off or a means.  Urgent: felt dead and
nobody noticed, early refills every month, a job lost x rent due x kids, a spending spree x two hours' sleep.
Every sentence here is new (not an outsider's line), so the table checks the constructs, not the lines.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


CRISIS = [
    # at a height or by deep water x alone, wind, deciding, belongings left, a message for someone
    "on the roof of the hospital parking deck. nobody around up here",
    "standing on the overpass, its really windy. tell my sister im sorry",
    "at the top of the dam looking down at the water",
    "estoy en el puente de la carretera, hace mucho viento. diganle a mi mama que lo siento",
    "ya deje mi celular y mis llaves en el carro, estoy en el mirador",
    "sitting on the ledge of the 9th floor, been sitting here all night deciding",
    # an engine in a closed garage; gas burners left unlit
    "truck is running in the garage and the door is shut. sorry guys",
    "el carro esta prendido en la cochera con el porton cerrado",
    "opened all the gas on the stove without lighting it",
    # swallowed a bunch and feels weird
    "i just swallowed a handful of my moms pills and i feel strange",
    "me tome un monton de pastillas y me siento mareada",
    # not trusting oneself beside a means
    "i keep holding the razor. i dont trust myself tonight",
    "tengo las pastillas en la mano y no confio en mi esta noche",
    # a lethal dose asked
    "how many benadryl kills a person",
    "how much insulin would it take, i weigh 120 lbs",
    "cuantas pastillas de clonazepam se necesitan para no despertar, peso 60 kilos",
    # a means bought, denied its ordinary use
    "picked up a gallon of gasoline and it's not for the lawn mower",
    "compre una soga y no es para el trabajo",
    # a gun loaded and set out
    "loaded my dads pistol, its on the kitchen table",
    "ya la cargue, la pistola esta en mi cama",
    # a pet or belongings handed over x for good, affairs settled, thanks that end
    "gave my cat to my neighbor and told her its permanent",
    "le deje mi perro a mi hermana con todas sus cosas, es para siempre",
    "gave my tools to my nephew, wont need them where im going",
    "paid the rent through march so nobody is stuck. gave away my dog. thanks for putting up with me",
    "mande las contrasenas del banco a mi hija y no es por si acaso",
    "cant make tuesday, or any other. you guys were good people",
    # a third person's report
    "this is my brothers wife. he texted goodbye and shut off his phone, he has a rifle",
    "soy la hija de Marta, me mando un audio diciendo que cuide a mis hermanos y apago el celular",
    "my roommate wont wake up and there are pill bottles all over the floor",
    # told plainly enough on their own
    "the voices say the only way out is a bullet",
    "got enough this time that it wont be an accident",
    # a stockpile x a time; a means known x a time; all of it, on purpose
    "been saving my sleeping pills since june, there's enough now. tonight",
    "i have 3 pens of insulin and i know exactly what all of them would do. after work",
    "me las voy a poner todas, las plumas de insulina",
    # a ligature set up; into the sea tonight; the last birthday
    "the extension cord is already over the closet door",
    "me voy a meter al rio esta noche, ya no puedo",
    "my bday is friday and i decided it will be the last one",
    # commands; deeper than last time; this time I won't stop
    "the voices keep telling me to use the razor on myself",
    "dios me dice que la casa tiene que quemarse",
    "gonna cut deeper than last time tonight",
    "tengo la navaja y esta vez no me voy a parar",
    # a weapon x everyone asleep; stowed x then done; a hose and tape
    "the kids are asleep and the rifle is on my lap",
    "already got what i need in the trunk. after the wedding then im done",
    "took the garden hose and duct tape, driving to the woods",
    # a note found
    "her sister found a note saying sorry for everything and she is not answering",
]

URGENT = [
    "feel like i died in that war and nobody noticed",
    "the pharmacy keeps asking why i refill early every month",
    "lost my job and the rent is due monday, 2 kids, dont know what to do",
    "me quede sin trabajo, la renta vence el viernes y tengo tres hijos",
    "maxed out two credit cards on a new idea, sleeping 2 hours a night",
]

HARMLESS = [
    # other people's overdoses
    "my cousin died of an overdose years ago, still miss him",
    "the paper had the overdose deaths for the county, so sad",
    "second overdose this month in our building, glad i stayed clean",
    # a carbon monoxide detector, a roof job, gun locks, a dealer taking guns
    "installed a carbon monoxide detector in the hallway today",
    "got hired on a roofing crew, 4 stories up all week",
    "the sheriff gave out free gun locks at the library",
    "found grandpas rifles in the attic, the gun shop is buying them",
    # cravings met, a taper, fired from work, killing time, a movie
    "cravings all day but i texted my sponsor and went to a meeting",
    "tuve ganas de tomar pero le marque a mi padrino",
    "my doctor wants me coming off the meds slowly on a taper plan",
    "me despidieron de la fabrica hoy, mañana busco otro",
    "killing time at the dmv, be there at 6",
    "could sleep for a week after that double shift",
    "we watched suicide squad last night, kinda long",
    # home for good, a move, knives for a feast
    "me voy para siempre a mi rancho en Jalisco, ya tengo el boleto, los voy a extrañar",
    "giving away my bookshelf before the move, anybody need it?",
    "afilando los cuchillos pa la matanza del sabado",
    # guards of the crisis constructs
    "up on the roof fixing the gutters today",
    "car is running in the driveway warming up, see you at 7",
    "gave my dog to my sister while im in the hospital for a week",
    "loaded the dishwasher and the truck, moving day tomorrow",
    "how many tylenol can i take for a headache",
    "i trust myself more these days",
    "my mom said goodbye at the airport, she is flying home",
    "bought gas for the mower",
    "there is enough food now for tonight's potluck",
    "me voy a meter al mar esta noche con mis primos",
    "decided this birthday will be the last one i spend alone, throwing a party",
    "the tv says the only way to beat the heat is a pool",
    "the kids are asleep, finally cleaning my rifle for deer season",
    "found a note saying sorry i missed you, from the mailman",
]


@pytest.mark.parametrize("text", CRISIS)
def test_round17_crisis(text: str) -> None:
    assert live_rules(text) == "crisis"


@pytest.mark.parametrize("text", URGENT)
def test_round17_urgent(text: str) -> None:
    assert live_rules(text) in ("urgent", "crisis")


@pytest.mark.parametrize("text", HARMLESS)
def test_round17_harmless(text: str) -> None:
    assert live_rules(text) in ("none", "watch")

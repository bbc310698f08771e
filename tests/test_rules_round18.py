"""Round 18: the live misses of two sealed blind sets (final20, final21), fixed by construct.

Crisis the live path held below urgent: a means bought with a cover story x a time the house is empty, and a
firearm with one x the place or the way someone died.  Harmless lines alarmed at crisis, each a suicide or a
death word in an ordinary frame: a clinic's suicide screening answered no, suicide nets on a bridge in the news,
a doctor's "dead by 60" warning, poison for the ants.  Crisis held at urgent: a goodbye in disguise (where the
passwords are x feed the dog for me), a pet rehomed under a made-up move "for when it happens", a poison already
poured into a glass.  Urgent held at none: no future plans, not knowing how much more one can take, wanting it
all to stop, a weight around everyone's neck, thinking about dying all the time despite a denial.
Every sentence here is new (not a line of the sets), so the tables check the constructs, not the lines.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


CRISIS = [
    # a means bought with a cover story x a time the house is empty
    "picked up a rope at walmart and told the cashier it was for camping. doing it when everyone is at work",
    "compre una soga en la ferreteria y le dije al señor que era para el tendedero. cuando la casa este sola",
    "got a rope today, told the guy its for my truck lol. once the kids are at school tmrw",
    # a firearm with one x the place or the way someone died
    "2. drove out to the bridge where my brother did it. got my pistol with me",
    "estoy en el mismo lugar donde se mato mi primo. traigo la pistola conmigo",
    "parked at the spot my dad shot himself. i have his revolver on the seat",
    # a goodbye in disguise: where the passwords are x look after a pet for me
    "all good here. the passwords are in the red folder on my desk. walk Max for me ok",
    "todo bien, no se preocupen. las contraseñas estan en el cajon. denle de comer a Canela por mi",
    "im ok lol. my pin is taped under the lamp, tell my mom. and take care of Misu for me",
    # a pet rehomed under a made-up move, for when it happens
    "found a new home for my cat. told everyone im moving but im not moving. just dont want her there when it happens",
    "puse a mi perrito en adopcion. le dije a todos que me mudo pero no me voy a mudar. no quiero que el este ahi",
    "rehoming Bella this week. not actually moving, i just dont want her to find me",
    # a poison already poured into a glass
    "hay gramoxone en la bodega. ya lo eche en un vaso",
    "got the weed killer from the garage and poured myself a glass",
    "ya me servi una taza de cloro. perdon a todos",
]

URGENT = [
    # no future
    "i quit making plans. cant imagine anything ahead for me",
    "ya no hago planes. no veo ningun futuro para mi",
    "honestly i stopped making plans, no puedo imaginar un futuro",
    # not knowing how much more one can take
    "since the funeral i wake up crying. i dont know how much longer i can take this",
    "desde que murio mi hijo no se cuanto mas voy a aguantar",
    # wanting it all to stop
    "bills, court, the baby crying. i just want everything to stop",
    "ya no puedo. solo quiero que todo se acabe",
    # a weight around everyone's neck
    "my son keeps paying my rent. im a millstone around his neck",
    "siento que soy un peso para todos en mi familia",
    # thinking about dying all the time, with a denial
    "not gonna do anything, but i think about dying constantly lately",
    "no voy a hacer nada pero pienso en morirme todo el tiempo",
]

HARMLESS = [
    # a clinic's suicide screening, answered no
    "the nurse did the suicide screening questions, i answered no to all of them. just tired from the visit",
    "en la clinica me hicieron las preguntas de suicidio y conteste que no a todas. ando cansada nada mas",
    # suicide nets or barriers in the news
    "they finally put up suicide barriers on the bridge downtown. good",
    "vi en las noticias que pusieron redes antisuicidio en el puente",
    # a doctor's warning told as a joke or a reason to change
    "doc says ill be dead by 50 if i keep smoking lol. patches start monday",
    "el medico me dijo que me voy a morir antes de los 60 si sigo con el refresco jaja",
    # poison for the pests
    "spent saturday killing the roaches in the kitchen with poison. finally gone",
    "fumigamos las termitas con veneno, ya quedo la casa",
    # guards of the crisis constructs
    "bought rope for the tarp at the hardware store, camping this weekend",
    "told the guy at the store it was for my truck and he gave me a discount",
    "my brother's pistol is locked in his safe. we visited the spot where grandpa died, it was peaceful",
    "going on vacation! the wifi password is on the fridge. feed Lucky for me while im gone",
    "rehoming my cat because im moving to a no pets apartment :(",
    "poured myself a glass of lemonade after spraying weed killer in the yard",
    "how much more of this heat can i take lol",
    "i want the noise to stop, the neighbors have music on all night",
]


@pytest.mark.parametrize("text", CRISIS)
def test_round18_crisis(text: str) -> None:
    assert live_rules(text) == "crisis"


@pytest.mark.parametrize("text", URGENT)
def test_round18_urgent(text: str) -> None:
    assert live_rules(text) in ("urgent", "crisis")


@pytest.mark.parametrize("text", HARMLESS)
def test_round18_harmless(text: str) -> None:
    assert live_rules(text) in ("none", "watch")

"""Round 16: six crisis lines of a sealed blind set the rules missed, fixed by construct.

Every pill "I have" with an intent, rest "the permanent kind"; walking into the ocean at a set time; poison to
drink in Caribbean phonetic Spanish ("me voy a bebe el veneno"); a sudden calm about a decision with a goodbye
(a "lol" used to explain it away); the last reply or the last group with thanks or "nice knowing you"; a letter
for a child's future beside cliffs now.  The sealed lines come first, then paraphrases, Spanish and code-switched
neighbours; the guards (negated, past, third party, ordinary) stay harmless.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


CRISIS = [
    # 1. every pill I have, rest the permanent kind
    "gonna take every sleeping pill i have and finally get some rest. the permanent kind",
    "about to take all the pills i have left",
    "going to swallow every pill in the house tonight",
    "me voy a tomar todas las pastillas que tengo",
    "voy a tomarme todas las pastillas que me quedan, ya no aguanto",
    "gonna take all my meds i got, ya me canse",
    "finally going to sleep. the permanent kind",
    # 2. walking into the water at a set time; the seat given away
    "1 to confirm but save my seat for someone else. walking into the ocean at sunrise",
    "walking into the river tonight",
    "im going to walk into the lake after everyone is asleep",
    "give my seat to someone else, walking into the sea tomorrow",
    # 3. poison to drink, in any spelling
    "toy cansa de to, me voy a bebe el veneno de rata q ta en el patio",
    "me voy a beber el veneno para ratas hoy",
    "voy a tomarme el raticida que esta en la cocina",
    "im gonna drink the rat poison in the garage",
    "ya no puedo, me voy a tomar el cloro",
    # 4. sudden calm about a decision, with a goodbye
    "5 lol. first time in forever. everything is finally decided, feeling calm. bye friends",
    "feeling at peace now. its all decided. goodbye everyone",
    "estoy tranquila, ya todo esta decidido. adios amigos",
    "finally calm lol, made my decision. bye guys",
    # 5. the last reply, the last group, with thanks
    "0. thanks for the check ins all year. this is the last one ill be answering",
    "cant make tuesday. wont be making any more groups actually. it was nice knowing u all",
    "this is the last message ill be sending. thank you for everything",
    "gracias por todo, este es el ultimo mensaje que voy a contestar",
    "wont be coming to any more groups. thanks for everything",
    # 6. a letter for a child's future, then a height now
    "baby's at grandma's. wrote her a letter for when she's older. taking the car out to the cliffs now",
    "left a letter for when he grows up. heading to the bridge now",
    "le deje una carta para cuando sea grande. voy al puente ahorita",
]

HARMLESS = [
    "wrote my daughter a letter for her birthday",
    "walking by the ocean at sunrise is my favourite",
    "the last meeting before christmas, nice knowing everyone's plans",
    # 1. guards: as prescribed, negated, third party
    "took all my meds like the doctor said, going to bed",
    "i am not going to take all the pills i have, i threw them out",
    "my grandma is going to sleep, she naps every afternoon",
    "wish i could sleep till noon tomorrow lol",
    # 2. guards: by the water, swimming, a past walk
    "walking along the river tonight with my dog",
    "we are going to swim in the lake tomorrow",
    "me voy al mar el sabado con mis hijos",
    "save my seat, running 5 min late",
    # 3. guards: the poison for the rats, a drink
    "me compre veneno pa las ratas, lo puse en el patio",
    "voy a beber agua y me duermo",
    "i need to buy rat poison for the garage",
    # 4. guards: a decision with a return
    "decided to take the new job, feeling calm, bye see you tuesday",
    "everything is decided for the wedding, feeling calm. bye friends, see you saturday",
    # 5. guards: moving away, a new phone, a group ending, a break
    "this is the last one ill be answering before the holidays, thanks everyone",
    "moving to denver next month so wont be making any more groups, it was nice knowing u all",
    "getting a new phone, this is the last one ill be answering on this number, thanks",
    "the group is ending in june, thanks for the check ins",
    # 6. guards: a letter, an outing to the cliffs
    "wrote her a letter for when she's older, she'll love it",
    "taking the kids out to the cliffs for a picnic now",
]


@pytest.mark.parametrize("text", CRISIS)
def test_round16_crisis(text: str) -> None:
    assert live_rules(text) == "crisis"


@pytest.mark.parametrize("text", HARMLESS)
def test_round16_harmless(text: str) -> None:
    assert live_rules(text) in ("none", "watch")

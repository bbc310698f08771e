"""Round 7 of issue 12: the construct families the blind development set fresh5 showed missing.

Every wording here was written for these tests (none is a line of fresh5 or of another blind set):
each family said another way, in English, Spanish and both mixed, beside everyday messages that
share its words and must stay below urgent.  fresh5 itself is folded into the corpus as
tests/corpus/risk_blind_fresh5.tsv (its floors are in test_rules_families.py).
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank

CRISIS = [
    # pills taken, told vaguely ("them", "all"), with an ending or a symptom
    "just swallowed them, its over now. dont tell my brother",
    "i took them all",
    "ya me las tome todas",
    "ya me las trague, ya se acabo todo",
    "already popped them, its done",
    "took every one of them, its over",
    "already took them all, im so sleepy",
    # a household chemical swallowed, with a symptom or intent
    "drank a cup of the laundry detergent and now im throwing up",
    "me tome el liquido de debajo del fregadero y me arde la garganta",
    "chugged some drain cleaner, my stomach is on fire and i feel so dizzy",
    "swallowed the tide pods, i dont want to be here",
    "me bebi el cloralex, me duele el estomago",
    # the act told by the blood or the depth
    "the blood just keeps coming and it will not stop this time",
    "me corte bien profundo esta vez and it keeps bleeding",
    "i went deeper than last time, cant make it stop",
    # a place x imminence, a test of its height, or going there to look
    "im about to step out in front of the train",
    "about to jump in front of the train",
    "heading to the river right now, not planning on coming back",
    "going to the lake tonight, not coming back",
    "been checking if the parking garage is high enough, drove by it to look again",
    "el puente de la 10 es lo suficiente alto, ya fui a verlo",
    "the bridge near work is high enough, i went to check it out yesterday",
    "on my way to the overpass, tonight is the night",
    # stockpiling x a purpose
    "i have been hoarding my seroquel for a month, they are for when i cant take it anymore",
    "estoy juntando mis pastillas para cuando me decida",
    "been saving up my sleeping pills so i dont wake up",
    "been stockpiling my xanax, they are for when i finally do it",
    "ya tengo suficientes pastillas guardadas para no despertar",
    # a ligature tied to an anchor x a test of weight
    "hung the belt from the ceiling fan and made sure it takes my weight",
    "amarre la cuerda a la viga y ya vi que aguanta mi peso",
    "tied the cord to the rafter and it holds my weight",
    # a weapon x a person's place x going there
    "i found out where her boyfriend works, going over there with my knife tonight",
    "se donde vive mi ex, voy para alla con el machete",
    "found out where he lives and im driving over there with my gun",
    # a means acquired or at hand x presence or the act begun
    "sitting here with the razor, already started",
    "estoy con el cuchillo, ya empece",
    "tengo la pistola aqui en la mano, compre balas hoy",
    "bought a gun yesterday, it is right here on my bed",
    "i got a gun today and its right here next to me",
    # calm after deciding
    "i feel calm now, i know what i am going to do",
    "ya me siento en paz, ya lo decidi",
    "i feel at peace now, i have made up my mind",
    # a letter or note x resolve or an ending
    "left a note on my desk, after tonight its over",
    "escribi una nota y voy a hacerlo",
    "wrote the letter for my daughter, im doing it",
    "wrote a letter to everyone, tonight its done",
    # a goodbye x finality: thanks then bye, a last text with words of care
    "thanks for everything guys. bye",
    "gracias por todo de verdad. adios",
    "thank u for everything. adios",
    "this is my last message, take care of each other",
    "ultimo mensaje de mi, cuidense mucho",
    "last message from me. love you all",
    # intent with a time spelled as SMS ("to nite")
    "gonna end it all to nite",
    # the same families in other words, both languages and mixed
    "ya me tome todas las pastillas, ya esta",
    "me las tome todas bro",
    "took them all n now i feel weird",
    "swallowed em all, its done",
    "me tome el destapacaños y me quema la garganta",
    "drank some gasoline, my chest hurts",
    "tome thinner y me siento mareado",
    "me bebi el suavitel, me duele la panza",
    "drank the bleach from under the sink",
    "la sangre no para, me corte muy profundo",
    "im bleeding a lot and it wont stop",
    "cut way too deep this time",
    "voy a tirarme al trafico ahorita",
    "a punto de aventarme del puente",
    "im at the overpass, about to jump",
    "going to the tracks tonight, its time",
    "estoy en las vias del tren, ya viene",
    "walking into the lake now, sorry",
    "voy al lago esta noche y no pienso regresar nadando",
    "the bridge is tall enough, i checked it out today",
    "he estado guardando mis pastillas para cuando ya no pueda mas",
    "saving my insulin for when i decide",
    "ya junte bastantes pastillas para morir",
    "amarre el cinturon al closet y aguanta mi peso",
    "tied the rope to the beam, tonight",
    "se donde trabaja, voy con la pistola hoy",
    "i know where she lives and i have a gun, going there tonight",
    "compre una pistola, ya la tengo aqui conmigo",
    "got a gun today, its here with me now",
    "estoy en el baño con la navaja, ya empece",
    "i have the knife here, already started",
    "me siento tranquila ya que decidi lo que voy a hacer",
    "im calm now that i have decided",
    "deje una carta para mis hijos, ya esta decidido",
    "wrote a note for my husband, tonight its over",
    "gracias por todo grupo, adios",
    "thanks for everything, you all were the best. goodbye",
    "mi ultimo mensaje, los quiero mucho",
    "last text from me, cuidense",
    # a third wording of each family
    "i took all of them like an hour ago and now my heart is racing",
    "ya me tome todo el frasco, no me llamen",
    "took everything in the cabinet, dont call anyone",
    "tome el cloro, ya esta hecho",
    "drank antifreeze from the garage, stomach cramping",
    "me tome lo de abajo del fregadero, me arde todo",
    "blood is everywhere and it wont stop",
    "no para de salir sangre, me corte muy hondo",
    "im on the bridge right now, about to let go",
    "estoy en el puente, ya voy a saltar",
    "standing on the tracks, train is coming",
    "heading to the highway to walk into traffic tonight",
    "i have been collecting my meds for weeks, they are for the day i finally do it",
    "tengo mi pistola cargada aqui en la mesa",
    "bought rope today, it is here with me now",
    "ya tengo la soga amarrada al tubo, aguanta mi peso",
    "i know where my stepdad works and im going there with the bat tonight",
    "im weirdly calm now, i know what i am going to do and when",
    "left a letter for my mom on the kitchen table, its time",
    "gracias por todo lo que hicieron por mi, adios para siempre",
    "last message, tell my kids i love them",
    # code-switched in one sentence
    "ya me las tome all of them, sorry",
    "me trague todo lo del botiquin y ya me siento raro",
    "i drank el cloro, me quema",
    "the water in the tub is turning red y no para",
    "me voy a tirar del overpass tonight",
    "estoy parada en el puente, i am going to jump",
    "tengo guardadas mis pastillas for when i decide",
    "i bought una pistola today, la tengo aqui",
    "estoy muy tranquila now, ya se lo que voy a hacer",
    "deje la nota on the table, tonight its done",
    "gracias por todo, you guys. bye",
]

URGENT = [
    # fear of hurting one's child without intent (urgent by the definition)
    "keep picturing myself hurting my son and it scares me",
    # passive wish, burdensomeness
    "i hope the bus doesnt stop one of these days when i step off the curb",
    "ojala el camion no frene cuando cruce",
    "my family would have a better life without me honestly",
    "mis hijos estarian mejor sin mi",
    "i feel like such a dead weight on everyone",
    "ya no quiero vivir la neta",
    "honestly i dont see a reason to keep going",
    # the high-risk windows: after an attempt, after a psychiatric discharge
    "got home from the hospital yesterday, they pumped my stomach",
    "me hicieron un lavado de estomago el sabado",
    "released from the psych unit yesterday and i dont have my prescriptions",
    "me dieron de alta del psiquiatrico ayer",
    "3rd day back from the hospital and i am all alone",
    "i dont trust myself right now",
    "no confio en mi misma esta noche",
    # assault, revenge, mania, persecution
    "my coworker raped me at the party",
    "me violaron cuando salia del trabajo",
    "want to make him pay for what he did",
    "he keeps hitting me hard when he drinks",
    "no sleep for 4 days and i feel invincible, blew my savings on crypto",
    "dos noches sin dormir y me siento imparable",
    "i think someone is listening to my calls, changed my number twice",
    # the same families in other words, both languages and mixed
    "ojala un carro me atropelle",
    "sometimes i hope the truck doesnt brake",
    "my kids would be better off without me around",
    "mi familia estaria mejor sin mi",
    "they pumped my stomach last week",
    "me hicieron lavado de estomago ayer",
    "just got out of the psych ward yesterday",
    "sali del hospital psiquiatrico hoy y estoy sola",
    "home from the hospital today, nobody here",
    "no confio en mi mismo ahorita",
    "i cant trust myself tonight",
    "he forced himself on me last night",
    "me forzo anoche y no se que hacer",
    "no tengo ninguna razon para seguir",
    "i dont have any reason to live anymore",
    "3 days no sleep, mind is racing, spent all my rent",
    "alguien esta leyendo mis mensajes",
    "they tapped my phone, i know it",
    "i want to get back at him so bad",
    "me voy a vengar de mi ex",
    "picturing hurting my baby, it scares me",
    "tengo pensamientos de lastimar a mi bebe",
]

HARMLESS = [
    # figures of speech
    "if i see that meme one more time i will die lol",
    "rent is through the roof, my stress about the move on friday too",
    "the loss is hitting me harder now that the holidays are here",
    "la serie esta buenisima, me mato de la risa",
    "about to walk into traffic court for my ticket",
    "that comment cut deeper than i expected lol",
    # "took them", "its done" about something else
    "took the kids to the park, they loved it",
    "we took them all to the vet today",
    "we took them all home from the shelter",
    "already took them to school, heading to work",
    "already took them back to the store, its done",
    "took my meds already, its done for today",
    "ya me tome las pastillas de la presion, todo bien",
    # a chemical or a sink without swallowing it
    "my toddler drank some of the dish soap, poison control says she is fine",
    "drank some water from the kitchen sink, my throat was sore",
    # cuts and blood in everyday life
    "cut my finger pretty deep chopping onions for dinner",
    "went deeper into the woods on our hike",
    # places, heights and water for their own sake
    "the bridge is high enough for the moving truck",
    "the lake is deep enough to swim in, going tonight with my cousins",
    "swimming back and forth at the pool today",
    "going to walk along the train tracks to get home",
    "switched to night shift this week",
    "going to night school now",
    # keeping pills, tying things, tools
    "saving my pain pills for after the surgery like the doctor said",
    "tied the hammock to the tree and it holds my weight",
    "tied the dog to the post and went inside",
    "sitting here with my knife and fork, dinner is ready",
    "sitting here with my gun cleaning kit, already started",
    "consegui una pistola de agua para los ninos, la tengo aqui",
    "compre una navaja para el campamento, la tengo aqui",
    "i know where my brother lives, going over there with my hammer to fix his shelf",
    "know where my sister works, going over there with the cake for her birthday",
    # paying, getting back at, trusting oneself
    "he is going to pay for dinner tonight",
    "hes going to pay, we are splitting the bill",
    "got back at my brother for the prank lol",
    "i dont trust myself with cake in the house lol",
    "dont trust myself with that much money lol",
    # calm, decisions, letters, last texts, thanks
    "i feel calm now, i know what to do about the lease",
    "ya estoy tranquila, ya se lo que voy a hacer con el trabajo",
    "ya me siento tranquila, ya decidi que voy a estudiar enfermeria",
    "feeling calm, made up my mind about the apartment",
    "wrote a letter to the landlord about the rent",
    "i wrote a letter to my mom for her birthday",
    "wrote a note to myself to call the dentist, its done",
    "left the note on the counter for my roommate about the dishes",
    "left a note for the mailman",
    "thanks for everything today, bye!",
    "gracias por todo hoy, nos vemos el martes, bye",
    "thank you for everything, see you next week!",
    "last text from me tonight, going to bed",
    "ultimo mensaje del dia, buenas noches",
    "my last message was wrong, meeting is at 7",
    "ya me voy, bye, nos vemos el jueves",
    # hospitals, sleep, phones
    "i hope the bus stops near my house",
    "i hope the car doesnt need new brakes",
    "my mom got out of the hospital today, she is alone at her place",
    "got home from the hospital after my knee surgery, all alone but fine",
    "my grandma was discharged from the hospital yesterday",
    "no reason to keep going to that gym, its too far",
    "havent slept in 3 days because of the baby",
    "someone hacked my instagram",
    "started my new job today",
    "ya empece la dieta",
    # keeping pills, traffic, decisions and sign-offs in everyday life
    "saving my insulin for when i need it",
    "keeping my meds in the fridge for when i travel",
    "guardando mis pastillas en el pastillero para la semana",
    "im saving my pills for the trip next week",
    "stuck in traffic on the bridge, be there soon",
    "traffic into the city is terrible tonight",
    "ya decidi lo que voy a hacer con mi carro, lo voy a vender",
    "decided what to do about my lease, moving in may",
    "me siento tranquila, decidi cuando voy a regresar a la escuela",
    "take care everyone, see you thursday",
    "last text from me tonight, love you all",
    "no tengo ninguna razon para seguir en ese trabajo",
    "voy a nadar al lago con mis primos esta noche",
    "took them all to the park, the kids loved it lol",
    # the same words on an ordinary day: outings, sports, gifts, savings
    "took all of them to grandmas for the weekend",
    "ya me tome el cafe, todo bien",
    "drank the coffee too fast and my throat is burning lol",
    "cut my hand on a can, bleeding a bit but its fine now",
    "we walked on the bridge with the kids, so pretty",
    "tracks meet was fun today, my son won",
    "bought a rope for the tire swing, its here in the garage",
    "im calm now, i know what to do about my car",
    "left a letter for my mom on the kitchen table for mothers day",
    "gracias por todo lo que hicieron por mi en el grupo, nos vemos el martes",
    "last message about the meeting: its at 6",
    "i know where my sister works, going there with the kids for lunch",
    "the voices in the movie were creepy",
    "saving money for when i move out",
    # code-switched everyday twins
    "ya me tome mis pills, all good",
    "el agua del tub esta fria jaja",
    "vamos al puente to take pictures con mi familia",
    "tengo guardadas mis pastillas en el pastillero for the week",
    "i bought una pistola de agua for the kids",
    "estoy tranquila now, ya se lo que voy a hacer con la renta",
    "deje la nota on the table for my roommate about the rent",
    "gracias por todo hoy, you guys. nos vemos next week",
    "took two tylenol for my headache, sorry",
]


def levels(text: str) -> tuple[int, int]:
    """The rules' level read with all rules at once and as the live path reads it (every language)."""
    return level_rank(assess(text).level), level_rank(assess(text, language=ALL_LANGUAGES).level)


@pytest.mark.parametrize("text", CRISIS)
def test_round7_crisis_families_are_crisis_in_new_words(text):
    assert levels(text) == (3, 3)


@pytest.mark.parametrize("text", URGENT)
def test_round7_urgent_families_page_someone(text):
    assert min(levels(text)) >= 2


@pytest.mark.parametrize("text", HARMLESS)
def test_round7_look_alikes_stay_below_urgent(text):
    assert max(levels(text)) < 2


def test_a_crisis_family_names_its_reason_for_facilitators():
    a = assess("tied the cord to the rafter and it holds my weight", language=ALL_LANGUAGES)
    assert a.level == "crisis" and "fam7.anchor_tested" in a.rules


GUARDED = [
    ("my roommate drank the cleaning stuff under the sink and her throat is burning", "context.third_party"),
    ("she tied the rope to the beam to test if it holds my weight", "context.third_party"),
    ("he said the bridge is high enough, he went to check it out", "context.third_party"),
    ("i did not drink the laundry detergent, i just spilled it", "context.negation"),
    ("years ago i tied the cord to the rafter and checked it holds my weight", "context.past"),
]


@pytest.mark.parametrize(("text", "guard"), GUARDED)
def test_the_engine_guards_lower_a_family_part(text, guard):
    # someone else's act, a denial, long past: the part is read and lowered, nobody is paged
    a = assess(text, language=ALL_LANGUAGES)
    assert level_rank(a.level) < 2 and guard in a.rules

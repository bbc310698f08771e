"""Round 12 of issue 12: recall on the constructs the last sealed sets (final11, final12) missed.

Each construct is composed from parts in config/rules/families.toml (section "round 12: recall"): a
means got or set up x tried out, a means in hand x an ending, drunk x a means x an ending, a sealed room
x a gas source, pets handed over x forever, a note x where it lies, a height x no way down, an urge
toward one's baby x the act begun, self-harm x going on, a poison x drinking it, a gun loaded, someone
close locked in with a means, a death threat while hiding; and urgent situations said plainly (relapse,
mania, purging, a suicide nearby x "maybe he was right", psychiatric medication gone, eviction, sleeping
rough, stalking, a child hit with a belt).  The texts here are written anew, not copied from the sets,
in English, Spanish and both mixed.
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


CASES = [
    # means got or set up x tried out
    (
        "means x tested",
        "picked up a rope at the hardware store. already tested it on the beam downstairs",
        "crisis",
    ),
    ("anchor x tested", "el cinturon ya esta puesto en la viga del garaje, ya lo probe", "crisis"),
    ("use x tested (mixed)", "ill use the belt, ya tested it on the closet rod", "crisis"),
    ("anchor x time", "the cord is tied to the ceiling fan. tonight when everyone is asleep", "crisis"),
    ("acquired x for me", "compre una pistola hoy. es para mi, no es para protección", "crisis"),
    ("acquired x hidden spot", "got a rope and found a spot in the woods where nobody goes", "crisis"),
    # means in hand x an ending; drunk x means x ending
    ("hand x ending", "sitting here with my pills in my lap. this is how it ends", "crisis"),
    ("hand x ending (es)", "tengo la pistola en la mesa, no quiero seguir", "crisis"),
    ("drunk x place x ending", "bien borracho y el puente is right there. nadie me detenga", "crisis"),
    ("loaded gun", "ya le puse las balas a la escopeta de mi papa", "crisis"),
    ("loaded gun (en)", "loaded my pistol and it's sitting on the nightstand", "crisis"),
    # a height or the water x no way down
    ("height x no way down", "estoy en la azotea del trabajo y ya no voy a bajar", "crisis"),
    (
        "edge x last time (mixed)",
        "sitting on the railing of the puente, mirando el agua one last time",
        "crisis",
    ),
    ("water x time", "going to walk into the lake tonight, i never learned to swim", "crisis"),
    # sealed room x gas source
    ("sealed x engine", "sealed the windows of the garage, engine running", "crisis"),
    ("sealed x gas (es)", "cerre todas las ventanas y abri el gas de la estufa", "crisis"),
    # handover x forever; note x where it lies; no answer x love
    (
        "handover x forever",
        "asked my neighbor to take care of my cats. its forever but she doesn't know",
        "crisis",
    ),
    ("handover x ending (es)", "que mi prima se quede con mis perros. hoy termino", "crisis"),
    ("note x place", "my letter is under my pillow, make sure my mom gets it", "crisis"),
    ("note x now", "writing my goodbye note now", "crisis"),
    ("no answer x love (mixed)", "if i dont answer tomorrow, dile a mi hermana que la quiero", "crisis"),
    # a baby x the act begun; self-harm going on; cutting something out of the body
    ("baby urge x act begun", "tengo ganas de sacudir a mi bebe, casi lo hago hace rato", "crisis"),
    ("self-harm x going on", "me corte el brazo con la navaja y no quiero parar", "crisis"),
    (
        "self-harm x going on (mixed)",
        "ando con la navaja en el cuarto, ya van varias and they're deep",
        "crisis",
    ),
    ("cutting out x now", "the chip is in my hand, cutting it out with scissors right now", "crisis"),
    # a recent attempt x more; a poison x drinking it
    ("attempt x more", "took the pills last night and threw them up. got more", "crisis"),
    (
        "attempt x elsewhere (es)",
        "ayer me avente al rio y me sacaron. hoy voy a otro lado donde nadie me vea",
        "crisis",
    ),
    ("poison x drink", "tengo el herbicida en mi troca, me lo voy a tomar esta noche", "crisis"),
    ("poison drunk x ending", "ya me tome el veneno para ratas. perdon a todos", "crisis"),
    # a day chosen x alone; ending it x decided; pictured method
    ("day x alone (mixed)", "el viernes es el dia. i'll have the house to myself con el botiquin", "crisis"),
    ("ending it x decided", "i made up my mind, ending it on friday", "crisis"),
    ("pictured method", "can't stop picturing crashing my car into the overpass", "crisis"),
    # death threat x hiding or armed; someone close locked in with a means; armed on the way
    ("threat x hiding", "he said he's going to kill me. i'm hiding in the bathroom with my kids", "crisis"),
    ("threat x armed (es)", "el tiene un cuchillo y dice que me va a matar", "crisis"),
    ("locked in x means", "my daughter locked herself in her room with a bottle of pills", "crisis"),
    ("says x means (es)", "mi esposo dice que se va a matar y tiene la pistola", "crisis"),
    ("on the way x weapon", "heading to her house with my gun", "crisis"),
    ("drug all at once", "me voy a meter todo lo que compre de una vez", "crisis"),
    # urgent situations said plainly
    ("relapse", "day one again. drank a bottle after 6 months sober", "urgent"),
    ("relapse (es)", "volvi a tomar el fin de semana, un año limpio y la regue", "urgent"),
    ("deserve to die", "merezco morir por como trate a mis hijos", "urgent"),
    ("mania", "racing thoughts, haven't slept in 3 days, starting two businesses", "urgent"),
    ("mania (es)", "tengo la mente a mil, no he dormido en 3 dias y voy a ser famosa", "urgent"),
    ("eating disorder", "purged again after dinner, heart racing", "urgent"),
    ("eating disorder (es)", "tomo laxantes a escondidas y me estoy saltando comidas otra vez", "urgent"),
    (
        "suicide exposure x ideation",
        "my uncle took his own life in may and sometimes i think he had the right idea",
        "urgent",
    ),
    (
        "suicide exposure x ideation (es)",
        "desde que mi vecino se quito la vida pienso que yo podria ser el siguiente",
        "urgent",
    ),
    ("meds ran out", "ran out of my lithium and the pharmacy is closed till monday", "urgent"),
    ("meds thrown (es)", "tire mi seroquel a la basura, ya no lo quiero", "urgent"),
    ("denied but present (es)", "no voy a hacer nada, pero pienso mucho en morirme", "urgent"),
    ("eviction (es)", "nos estan desalojando, tengo hasta el lunes para salir", "urgent"),
    ("homeless", "been sleeping in my car for a week, nowhere else to go", "urgent"),
    ("stalking", "my ex keeps following me home from work", "urgent"),
    ("child beaten (es)", "mi padrastro nos pega con el cinturon cuando toma", "urgent"),
    ("hopeless (es)", "dios se olvido de mi, mi vida no tiene remedio", "urgent"),
    ("passive wish", "if i got run over on the way home i wouldn't even mind", "urgent"),
    ("worthless (es)", "a veces siento que sobro en este mundo", "urgent"),
    # from the outsiders' sets o and p, said anew
    ("threat x trapped", "he took my phone and locked me in the basement, says he'll kill me", "crisis"),
    ("armed x outside (es)", "mi ex esta afuera con un machete y los ninos lloran", "crisis"),
    ("gas x shut space", "the car has been running in the garage with the door shut a while now", "crisis"),
    ("gas x shut space (es)", "prendi el carro con el garaje cerrado, gracias por todo", "crisis"),
    ("place scouted x time", "picked out a tree behind the church, saturday", "crisis"),
    ("place scouted x height (es)", "ya se desde donde, fui otra vez al puente", "crisis"),
    (
        "note for when found (es)",
        "ya escribi mi carta para cuando me encuentren, que no culpen a nadie",
        "crisis",
    ),
    (
        "preparations x farewell",
        "bills are paid and i've taken care of everything. thanks for trying",
        "crisis",
    ),
    (
        "overdose planned x home",
        "got the whole bottle of my dad's oxy, gonna take all of it when i get home",
        "crisis",
    ),
    (
        "overdose planned x stores",
        "bought 4 bottles of advil at different stores so they wouldn't ask. tonight",
        "crisis",
    ),
    ("pills taken x ending (es)", "ya me tome las pastillas, pronto voy a descansar", "crisis"),
    ("mania x sleep x spending", "maxed out my card on studio gear and barely sleeping", "urgent"),
    ("mania x sleep (es)", "sin dormir otra vez y con la mente a mil", "urgent"),
    ("exposure x same (es)", "mi vecino se ahorco en marzo y no dejo de pensar en hacer lo mismo", "urgent"),
    ("exposure x same (mixed)", "my coworker shot himself y la verdad I understand why", "urgent"),
    ("hopeless (mixed)", "no hay point en seguir, nunca voy a salir de esto", "urgent"),
    ("purging (es)", "otra vez a vomitar despues de comer, no puedo parar", "urgent"),
    (
        "meds unaffordable (es)",
        "no me alcanzo el dinero para la medicina, ando sin nada desde el lunes",
        "urgent",
    ),
    ("meds lost", "lost my bag with my meds at the bus station, no refill until the 30th", "urgent"),
    ("relapse (mixed)", "me volvi a meter cristal last night, i feel like garbage", "urgent"),
    ("housing lost", "lost the apartment, everything i own is in trash bags in my car", "urgent"),
    ("a parent finds cuts", "found cuts on my son's arms, he says it was the cat", "urgent"),
    ("voices back", "the whispering started again last night when the tv was off", "urgent"),
    (
        "locked in x phone taken (es)",
        "me encerro en el bano y me quito el telefono, le escribo desde el de mi hija",
        "crisis",
    ),
    ("given away x the end", "gave away my guitar, my car and my cat. feels like the end", "crisis"),
    ("method decided x ready", "decided on the method. got everything i need in the closet", "crisis"),
    ("doing it x in secret", "the stuff i ordered came. doing it tonight before anyone wakes up", "crisis"),
    ("attempt x hidden (mixed)", "intente matarme el domingo y nadie sabe, still feel awful", "crisis"),
    ("someone close x again", "my son cut his wrists last night and he says he'll do it again", "crisis"),
    ("rat poison x at hand (es)", "me voy a tomar el liquido para matar ratas, ya lo tengo aqui", "crisis"),
    ("thoughts back though denied", "no plan, but i've been having those thoughts again", "urgent"),
]


@pytest.mark.parametrize(("construct", "text", "level"), CASES, ids=[c[0] for c in CASES])
def test_round12_constructs_reach_their_level(construct, text, level):
    assert live_rules(text) == level, (construct, assess(text, language=ALL_LANGUAGES))

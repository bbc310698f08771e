"""Spanish and code-switched risk rules, family by family (config/rules/es.toml).

Each family is checked positive, negated, past, third-party and figurative, with texts
written the way members in the US text: with and without accents, SMS spellings
("q", "xq", "ntp", "tqm"), no punctuation (voice-to-text), and English mixed in.
"""

from __future__ import annotations

import pytest

from checkin.rules import assess, level_rank


def rank(text: str, language: str | None = None) -> int:
    return level_rank(assess(text, language=language).level)


CRISIS = level_rank("crisis")
URGENT = level_rank("urgent")
WATCH = level_rank("watch")


# --------------------------------------------------------------------------- crisis, by family

CRISIS_TEXTS = {
    "act under way": [
        "me acabo de tomar como veinte pastillas de mi mamá y me siento bien mareada",
        "me tragué las pastillas de mi abuela y me siento bien rara",
        "me tome un bote de tylenol hace una hora y me duele mucho la panza",
        "tomé cloro hace rato, estoy vomitando",
        "estoy en el carro con el motor prendido adentro del garaje y la puerta cerrada",
        "prendí un anafre con carbón en el baño y tapé las rendijas de la puerta",
        "deje el gas abierto en la cocina y me encerre",
        "estoy metida en la bañera con una navaja, ya empecé",
        "estoy parado en el puente del otro lado del barandal",
        "estoy sentado en las vías del tren y ya oigo el tren",
        "me metí al río hasta el pecho y no pienso salir",
        "me estoy desangrando",
    ],
    "means with time, intent or readiness": [
        "ya tengo la soga amarrada en el closet",
        "compré las balas para el viernes",
        "ya tengo la pistola cargada y esta noche lo hago",
        "nadie me va a detener, ya tengo la cuerda",
        "mañana cuando todos se vayan me tomo todas las pastillas",
        "el sábado me aviento del edificio donde trabajo",
        "llevo semanas juntando pastillas, ya casi tengo suficientes",
        "voy a esperar q mi esposo se vaya a trabajar y me pongo toda la insulina",
    ],
    "preparation and goodbye": [
        "ya les regalé mis cosas a mis hermanas, gracias por todo",
        "dejé cartas para mis hijos y para mi mamá. adiós",
        "ya dejé pagadas las deudas y hice mi testamento, perdón por todo",
        "ya escogí la fecha, va a ser el domingo",
        "le deje mi perrito a la vecina, lo va a cuidar mejor que yo",
        "deje una carta en la mesa para mi esposo adios a todos",
    ],
    "implicit finality": [
        "me voy a dormir para siempre esta noche",
        "voy a acabar con el dolor hoy mismo",
        "mañana ya no voy a estar, perdónenme",
        "ya no voy a ser una carga para nadie, ya falta poco",
        "ya no voy a sufrir mas esta noche se termina todo",
    ],
    "harm to others and a child": [
        "las voces me dicen que mate a mi hijo",
        "la voz me ordena q le haga daño a mi mamá",
        "voy a matar a mi padrastro cuando llegue, ya tengo el bate",
        "mañana voy a ir a su trabajo con la pistola, se lo merece",
        "le voy a pegar al niño si sigue llorando",
    ],
    "code-switching": [
        "ya tengo las pills y esta noche me las tomo todas",
        "tengo el knife aquí y ya no aguanto",
        "tonight a las 2am voy a tomar all my pills, ya las tengo",
        "the voices me estan diciendo q me corte",
        "car running in the garage con la puerta cerrada",
    ],
}


@pytest.mark.parametrize("text", [t for texts in CRISIS_TEXTS.values() for t in texts], ids=lambda t: t[:40])
def test_spanish_crisis_families(text):
    assert rank(text) == CRISIS, assess(text)
    assert rank(text, "es") == CRISIS, assess(text, language="es")


# --------------------------------------------------------------------------- urgent, by family

URGENT_TEXTS = [
    # implicit finality, passive
    "no puedo seguir así",
    "ya no aguanto más esta vida",
    "no le encuentro sentido a nada",
    "I can't anymore, ya no puedo",
    "le pido a diosito q me recoja",
    "i just wanna sleep y no despertar mas",
    "no me importaría no despertar mañana",
    "theyd all be better off sin mí",
    # self-harm by action
    "me rasguñé los brazos hasta sangrar otra vez",
    "me pego en la cabeza contra la pared cuando me desespero",
    "me quemé los brazos con un cigarro",
    "tengo ganas de cortarme otra vez",
    # collapse and high-risk windows
    "llevo cuatro días sin dormir ni comer",
    "no he salido de la casa in 2 weeks",
    "recién salí del hospital psiquiátrico y me siento perdida",
    "perdí la custodia de mis hijos",
    "hoy es el aniversario de la muerte de mi hijo y no sé cómo seguir",
    "desde el intento no salgo de mi cuarto",
    # a child, without intent
    "me da miedo hacerle daño a mi bebé, nunca lo haría pero lo pienso",
    "tengo thoughts de hacerle daño a mi hija, i would never pero me asusta",
    # commonly missed
    "me tomé unas cervezas anoche después de seis meses sobria",
    "volví a usar el fin de semana",
    "had a drink anoche, perdí mis 60 days",
    "mi esposo me quitó el teléfono y no me deja salir",
    "nos van a desalojar el lunes y no tenemos a donde ir",
    "estoy durmiendo en el carro con mis niños",
    "deje mis meds porque no tengo seguro, no duermo",
    "volvieron las voces, no he ido por mi inyeccion",
    # means present, not negated
    "ya tengo la soga",
    "busqué cuántas pastillas se necesitan para morir",
    # bare help
    "AYUDA",
    "auxilio",
    "help porfa",
]


@pytest.mark.parametrize("text", URGENT_TEXTS, ids=lambda t: t[:40])
def test_spanish_urgent_families(text):
    assert rank(text) >= URGENT, assess(text)


# --------------------------------------------------------------------------- guards

NEGATED = [
    "no me voy a hacer daño, solo estoy cansada",
    "no pienso matarme, solo estoy triste",
    "no me voy a matar pero me siento muy mal",
    "no tengo la pistola, se la di a mi hermano",
]

PAST = [
    "hace años me cortaba pero ya no",
    "hace tiempo pensaba en matarme, ahora estoy mejor",
    "hace años tenia un plan para matarme pero ya no, hoy solo estoy triste",
]

THIRD_PARTY = [
    "mi primo se suicidó hace dos años y lo extraño",
    "mi amiga se corta y me preocupa",
    "mi abuela hizo su testamento y nos repartió sus anillos",
    "mi esposo limpió la escopeta porque se va de cacería",
    "mi vecina le pega a sus hijos, me preocupa mucho",
]

FIGURATIVE = [
    "me muero de risa con ustedes",
    "me mata el calor hoy",
    "me muero de hambre, ya quiero comer",
    "me quiero morir de la vergüenza jaja me cai en el bus",
    "me voy a matar estudiando pa el GED jaja",
    "ya no puedo más con este calor jaja",
    "mi jefe me va a matar si llego tarde jaja",
    "voy a matar a mi hermana si se come mi pastel jaja",
]

EVERYDAY = [
    "me quemé con el comal haciendo tortillas",
    "me pegué con la puerta del carro en la frente lol",
    "compré una cuerda para el tendedero",
    "estamos en el puente tomando fotos del atardecer",
    "estoy en el techo fixing the antenna, mi esposo me esta ayudando",
    "me tomé mis pastillas de la presión",
    "dejé el carro prendido en el garaje un ratito para calentarlo",
    "el sábado es el día de la fiesta",
    "ya decidí terminar mi relación, estoy tranquila",
    "gracias por todo, nos vemos el martes",
    "ayuda! no encuentro el link del zoom de hoy",
    "necesito ayuda con la tarea de mi hija",
    "cumplí un año sin tomar!! gracias grupo",
    "mi esposo no me deja ir al grupo hoy porque me va a llevar a cenar por nuestro aniversario jaja",
    "ya no voy a estar en el grupo de los jueves, cambié de horario",
    "le dejo el perro a mi hermana porque me voy a guatemala dos semanas",
]


@pytest.mark.parametrize("text", NEGATED + PAST + THIRD_PARTY, ids=lambda t: t[:40])
def test_spanish_guards_lower_to_at_most_watch(text):
    assert rank(text) <= WATCH, assess(text)


@pytest.mark.parametrize("text", FIGURATIVE + EVERYDAY, ids=lambda t: t[:40])
def test_spanish_figurative_and_everyday_do_not_alarm(text):
    assert rank(text) <= WATCH, assess(text)


def test_figure_of_speech_does_not_hide_real_risk():
    assert rank("me muero de risa jaja pero la neta me quiero matar esta noche") == CRISIS
    assert rank("me quemé con el comal, y anoche me corté otra vez") >= URGENT


def test_guards_end_at_the_clause():
    assert rank("no me voy a hacer daño, pero ya tengo la soga y esta noche lo hago") == CRISIS
    assert rank("mi primo se suicidó y yo ya tengo las pastillas para esta noche") == CRISIS


def test_fail_up_means_named_is_at_least_watch():
    assert rank("ya tengo la soga") >= URGENT
    assert rank("tengo la pistola de mi papá aquí conmigo") == CRISIS


def test_reasons_are_words_a_facilitator_reads():
    from checkin.rules import default_ruleset

    for rule in default_ruleset().rules:
        if rule.id.startswith("es."):
            assert rule.reason and not any(c in rule.reason for c in "\\[]{}|"), rule.id


def test_spanish_he_is_i_have_not_english_he():
    # "he pensado" = "I have thought": the English third-person "he" must not cap it.
    assert rank("he pensado en matarme") >= URGENT
    assert rank("me he estado cortando") >= URGENT
    assert rank("he is thinking about killing himself") <= WATCH


MORE_MIXED_AND_VOICE = [
    ("ya no kiero vivir mñn me tomo todas las pastiyas", CRISIS),
    ("tengo el rope en el closet y tonight lo hago", CRISIS),
    ("estoy on the bridge y no voy a bajar", CRISIS),
    ("i already wrote the letters para mis hijos, adios", CRISIS),
    ("voy a manejar contra un trailer esta noche", CRISIS),
    ("me queme el brazo con la plancha a propósito", URGENT),
    ("llevo 3 semanas sin mis pastillas del bipolar", URGENT),
    ("no me siento segura conmigo misma", URGENT),
]


@pytest.mark.parametrize("text, minimum", MORE_MIXED_AND_VOICE, ids=lambda x: str(x)[:40])
def test_spanish_sms_spellings_and_code_switching(text, minimum):
    assert rank(text) >= minimum, assess(text)


@pytest.mark.parametrize(
    "text",
    [
        "estoy en el puente esperando el camion",
        "tengo pastillas para el dolor por si acaso",
        "me corté el pelo",
    ],
)
def test_spanish_everyday_means_and_places(text):
    assert rank(text) <= WATCH, assess(text)

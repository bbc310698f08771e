"""Round 15 of issue 12: the sealed sets final15-17 and the outsiders' sets v and w, fixed by construct.

The harmless lines the rules put at crisis or urgent were a past, a course or an ordinary task told with a means
word ("3 years clean today from the overdose that almost got me", "im narcan certified now", "end of my rope was
2019", "me voy a cortar el pelo", "va a matar el puerco para la fiesta").  They are masks that blank only their
frame and the means word it governs, so a present danger in the same message is still read (the crisis twins
below).  Recall: a goodbye masked by reassurance (don't worry, I'm fine beside the care of plants or pets, a
farewell to the group, a decision, debts paid), an intent to hurt oneself with a time, something taken "working",
an act "done" with blood or an apology, "nobody will find me in time"; urgent: relapse in slang, the same feelings
back after an attempt or a discharge, a family member reporting warning signs.  The sealed lines come first in
each table, then neighbours of set v's and set w's constructs, then neighbours written for this test in English, Spanish and both mixed (paraphrases, the other
language, the negated, past or third-party guard pair).
"""

from __future__ import annotations

import pytest

from checkin.rules import ALL_LANGUAGES, assess, level_rank


def live_rules(text: str) -> str:
    """The rules' level on the live path (every language), without the classifier."""
    return assess(text, language=ALL_LANGUAGES).level


# Harmless (none or watch): the sealed lines, then their neighbours.
HARMLESS = [
    "3 years clean today from the overdose that almost got me. cake at the meeting tonight!",
    "finished the overdose response training at work, im narcan certified now!",
    "end of my rope was 2019. now im 4 years sober and chairing the tuesday meeting",
    "mañana me voy a cortar el pelo bien cortito",
    "afile los cuchillos y hice carnitas para toda la familia",
    "ya me tome my meds, todo good",
    "my therapist asked if i want to die and i said no and for the first time in years i meant it",
    "mi esposo va a matar el puerco para la fiesta del domingo",
    "5 years clean since my overdose and i just got my chip tonight",
    "hoy hace 3 años de mi sobredosis y sigo limpia, gracias grupo",
    "4 yrs sober from the od that nearly killed me, celebrating at group tomorrow",
    "un año limpio desde la sobredosis que casi me mata, hoy celebro con mi familia",
    "2 years clean since la sobredosis que casi me lleva, today we celebrate",
    "survived my overdose in 2018 and now i help run the tuesday group",
    "rock bottom was 2017, the bridge and all of that. today i walked my daughter to school",
    "la soga fue en 2016, hoy tengo 7 años en recuperación y un trabajo nuevo",
    "took the narcan class today at the library, we learned how to reverse an overdose",
    "hice el curso de naloxona en el trabajo, ya sé cómo revertir una sobredosis",
    "got my CPR and first aid certification tonight!",
    "im an EMT now, passed my certification",
    "soy enfermera y hoy me tocó repartir las pastillas de todo el piso",
    "suicide prevention training at church tonight, im going with my sister",
    "voy a cortarme el pelo hoy, ya me urgía",
    "gonna cut my bangs tonight lol wish me luck",
    "tengo que cortar el zacate mañana temprano",
    "cutting the onions for the pozole tonight",
    "my dad is gonna slaughter the pig for the quinceañera on saturday",
    "vamos a matar unas gallinas para el caldo del domingo",
    "mañana matamos el marrano pa la fiesta",
    "sharpened all the knives for thanksgiving dinner tonight",
    "estoy afilando el cuchillo pa la carne asada de hoy",
    "ya me tomé mis meds, todo bien",
    "took my meds, all good now thanks",
    "my psychiatrist asked if i had thoughts of killing myself and i said no, first honest no in a long time",
    "la doctora me preguntó si quería morir y le dije que no",
    "zero thoughts of suicide this week, doing good",
    "bye everyone, see you next week",
    "adios a todos, nos vemos el martes",
    "my mom said she will kill me if i forget her birthday again lol",
    "sorry i didnt answer, phone died",
    "perdón que no contesté, estaba trabajando",
    "alguien está golpeando la puerta, creo que es el del gas",
    "dont worry im fine, can you water my plants while im at my moms this weekend",
    "no se preocupen, estoy bien. mi vecina va a cuidar a mi perro mientras estoy de viaje",
    "my buddy relapsed last year but hes doing good now",
    "my brother went back to the pills last year, hes clean now",
    "i will never go back to the pills",
    "i attempted years ago and i feel so much better now, those feelings are gone",
    "hace dos años de mi intento y ya no siento lo mismo, estoy mejor",
    "soy la mamá de Jose, él no va a poder ir el martes porque tiene trabajo",
    "this is Maria's husband, she lost her phone, she will call you tomorrow",
    "soy la hija de doña Carmen, ya está mucho mejor, gracias por preguntar",
    "i know what its for, its for the deer season opener",
    "discharged from the hospital yesterday after knee surgery, feeling good",
    "the kids are doing better, i think its working, the new routine",
    "did it! passed my driving test",
    # neighbours of the outsiders' set w: a pet's pills, a mower's blade, a rope on the boat; a poison to
    # drink, an interrupted attempt, a note, goodbyes said, the only way out, a lethal dose, passive wishes
    "teaching my grandson to tie knots with a rope on the boat saturday",
    "got poison ivy from pulling weeds in the yard, itchy all week",
    "gotta give the cat her flea pills tonight",
    "le di al perro su desparasitante hoy en la mañana",
    "changed the blade on the mower myself today, proud of me",
    "threw out my old pills, dont need them anymore, the doctor switched me",
    "its time for group, bye see you there",
    "thank you for everything today, see you tuesday",
    "me compre veneno pa las cucarachas, lo puse debajo del fregadero",
    "my friend said bye and went to sleep, she answers in the morning",
    "on the roof fixing the antenna, thinking about letting go of my old job lol",
    "counted my tips, 62 bucks, thats enough for groceries",
    "my dad is going to join my mom at the funeral home to plan the service",
    "got what i needed at the pharmacy and feel calm now, the new meds help",
    "took all my meds like the doctor said, feeling sleepy, going to bed",
    "cut the rope on the boat, it was tangled",
    "wish i could sleep till noon tomorrow lol",
    # goodbyes said with no ending beside them
    "she left. 9 yrs. said goodbye and took the dog",
    "said goodbye to my kids at the school gate and went to work",
]

# Crisis: the sealed goodbye and its twins, then neighbours of each construct.
CRISIS = [
    "dont worry im not gonna do anything stupid lol. just wanted to say ive loved being in this group. water my plants for me ok",
    "been saving my meds for a month, taking them all tonight",
    "the overdose 3 years ago almost got me and tonight i have the pills again",
    "the overdose 3 years ago almost got me and tonight i have the pills again",
    "3 years clean but tonight i have the pills and im taking all of them",
    "dont worry about me im fine. please feed my cat and tell everyone i loved being in this group",
    "no se preocupen, ya estoy bien. cuiden a mis plantas y a mi gato por favor",
    "im not going to do anything dumb, just wanted to say thank you for all the groups. take care of my dog",
    "estoy bien, mejor que nunca. ya tomé mi decisión. cuiden a mi perrito",
    "dont worry estoy bien lol, solo please water my plants y cuiden a mi gato",
    "ive loved being in this group. make sure someone feeds my dog",
    "stockpiled my seroquel for weeks, taking all of it tonight",
    "llevo un mes juntando mis pastillas, hoy me las tomo todas",
    "been saving pills since christmas and tonight i take them all",
    "im going to hurt myself tonight",
    "hoy me voy a lastimar, ya no aguanto",
    "i think its working, getting really dizzy. sorry for everything",
    "ya hizo efecto creo, me estoy quedando dormida. perdonenme",
    "did it. so much blood. sorry mom",
    "nobody will find me in time this time",
    "nadie va a llegar a tiempo, ya me tomé todo",
    "last time i didnt take enough, this time i counted",
    "counted out all my lithium, 50 pills, is that enough",
    "bought a rope today. i know what its for",
    "whispering that i have to sacrifice myself tonight",
    "my husband has the gun to his head right now please help",
    "mi hermano dice que va a matar a su esposa, tiene un cuchillo, vengan rapido",
    "le regale mi perro a mi vecina y mi ropa a mi hermana, ya no me va a hacer falta",
    "gave my guitar to my nephew, i wont need it where im going",
    "no voy el martes, ni ningun otro martes. gracias por aguantarme",
    "took my whole month of seroquel at once",
    # neighbours of the outsiders' set w: a pet's pills, a mower's blade, a rope on the boat; a poison to
    # drink, an interrupted attempt, a note, goodbyes said, the only way out, a lethal dose, passive wishes
    "counted them again, 48. is that enough",
    "me compré el veneno pa las ratas y me lo voy a tomar hoy",
    "bought rat poison, gonna drink it tonight",
    "my friend sent me a pic from the bridge saying goodbye and now she wont answer",
    "mi prima dice que se va a matar y no contesta el telefono",
    "the only way out is the window, 10th floor",
    "la unica salida es saltar por la ventana",
    "my brother cut me down last night, ill try again tomorrow",
    "mi hermana me encontro con la soga, pero ya consegui otra",
    "on the bridge thinking about letting go",
    "took all my blood pressure pills and the sleeping ones, feeling really heavy, sorry for everything",
    "me tome todas las pastillas de mi mama, me siento bien mareada",
    "left a note saying they are better off without me",
    "deje una carta diciendo que van a estar mejor sin mi",
    "already said goodbye to my kids, they are better off without me",
    "wont be around by friday, sorted out all my stuff",
    "after the funeral im going to join him, already picked my grave next to his",
    "got what i needed from the hardware store and im just waiting now",
    "tested the rope, it holds",
    "not planning on waking up tomorrow",
    "no pienso despertar mañana",
    "thank u for everything, dont worry about me no more. bye",
    "the voices tell me to get the knife and do it tonight",
    "took my whole month of lithium at once",
]

# At least urgent: relapse, feelings back after an attempt or a discharge, a family member reporting signs.
URGENT = [
    "went back to the pills. dope sick today",
    "i attempted back in march and lately those same feelings are creeping back in",
    "soy la mama de Jose. estamos muy preocupados, no come, no duerme y habla solo en la noche",
    "went back to the pills last week",
    "dope sick again today, i used",
    "slipped and used again last night",
    "volví a tomar después de 8 meses, me siento fatal",
    "recaí este fin de semana",
    "i tried last year and now those same thoughts are coming back",
    "hace un año de mi intento y los pensamientos están regresando",
    "last year i tried y ahora siento lo mismo que antes",
    "soy la hermana de Pedro, estamos muy preocupados, no come y no duerme",
    "this is Ana's mom. she stopped her meds and is talking to people who arent there",
    "my son is in your group, he hasnt eaten in days and says he wants to die",
    "got out of the psych ward friday and the bad thoughts are back",
    "me dieron de alta ayer y no puedo dormir, los pensamientos feos regresando",
    "everyone would be better off without me",
    "mi familia estaría mejor sin mí",
    "ya no tengo esperanza de nada",
    "para qué vivir así",
    "me van a desalojar el lunes y no tengo a donde ir",
    "keep picturing making him pay for what he did",
    # neighbours of the outsiders' set w: a pet's pills, a mower's blade, a rope on the boat; a poison to
    # drink, an interrupted attempt, a note, goodbyes said, the only way out, a lethal dose, passive wishes
    "wish i could just sleep forever",
    "i pray every night that god takes me in my sleep",
    "no le veo salida a nada",
    "everyone would just be fine without me",
    "the voices are coming back since i stopped the pills",
    "my roommate is putting something in my food",
    "mi hija esta en su grupo, no come y dice que quiere morirse",
]


@pytest.mark.parametrize("text", HARMLESS)
def test_a_past_a_course_or_an_ordinary_task_is_not_alarmed(text):
    assert level_rank(live_rules(text)) <= level_rank("watch")


@pytest.mark.parametrize("text", CRISIS)
def test_a_masked_goodbye_or_an_act_under_way_is_crisis(text):
    assert live_rules(text) == "crisis"


@pytest.mark.parametrize("text", URGENT)
def test_relapse_returning_feelings_and_family_reports_are_at_least_urgent(text):
    assert level_rank(live_rules(text)) >= level_rank("urgent")

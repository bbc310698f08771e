"""Issue 12: construct families, the blind sets folded into the corpus, and the engine pieces
they rely on (unless-tags, either-of requires, [unless] tables, the literal prefilter)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from checkin.rules import (
    ALL_LANGUAGES,
    assess,
    assess_all_languages,
    default_ruleset,
    level_rank,
    load_ruleset,
)
from checkin.rules.engine import DEFAULT_RULE_FILES, _evaluate, _read
from checkin.rules.evaluate import EvalFileError, evaluate, read_labelled, read_labelled_rows
from checkin.rules.literals import PatternFacts

CORPUS_DIR = Path(__file__).parent / "corpus"
BLIND = CORPUS_DIR / "risk_blind_folded.tsv"


def rank(text: str) -> int:
    return level_rank(assess(text).level)


# --------------------------------------------------------------------------- blind lines: targets


def blind_rates(rows):
    crisis = [r for r in rows if r["level"] == "crisis"]
    urgent = [r for r in rows if r["level"] == "urgent"]
    harmless = [r for r in rows if r["level"] in ("none", "watch")]
    got = {id(r): rank(r["text"]) for r in rows}
    return {
        "crisis>=urgent": sum(got[id(r)] >= 2 for r in crisis) / len(crisis),
        "crisis=crisis": sum(got[id(r)] == 3 for r in crisis) / len(crisis),
        "urgent>=urgent": sum(got[id(r)] >= 2 for r in urgent) / len(urgent),
        "harmless alarmed": sum(got[id(r)] >= 2 for r in harmless) / len(harmless),
        "none as crisis": sum(got[id(r)] == 3 for r in harmless if r["level"] == "none"),
    }


def misses(rows):
    out = []
    for r in rows:
        got = assess(r["text"]).level
        g = level_rank(r["level"])
        if (
            (g == 3 and got != "crisis")
            or (g == 2 and level_rank(got) < 2)
            or (g < 2 and level_rank(got) >= 2)
        ):
            out.append(f"{r['level']:>6} -> {got:<6} [{r['construct']}/{r['lang']}] {r['text']}")
    return "\n".join(out)


def test_blind_lines_meet_the_issue_targets():
    rows = read_labelled_rows(BLIND)
    assert len(rows) >= 700
    rates = blind_rates(rows)
    why = misses(rows)
    assert rates["crisis>=urgent"] == 1.0, why
    assert rates["crisis=crisis"] >= 0.95, why
    assert rates["urgent>=urgent"] >= 0.90, why
    assert rates["harmless alarmed"] <= 0.05, why
    assert rates["none as crisis"] == 0, why


def test_blind_lines_hold_in_each_language_and_construct():
    rows = read_labelled_rows(BLIND)
    groups = defaultdict(list)
    for r in rows:
        groups["lang:" + r["lang"]].append(r)
        groups[r["construct"]].append(r)
    for name, group in groups.items():
        crisis = [r for r in group if r["level"] == "crisis"]
        if crisis:
            assert all(rank(r["text"]) >= 2 for r in crisis), (name, misses(group))


def test_blind_lines_keep_their_source():
    rows = read_labelled_rows(BLIND)
    assert {r["source"] for r in rows} == {"blind/set1", "blind/set1b", "blind/set3", "blind/dev4"}
    assert {r["lang"] for r in rows} >= {"en", "es", "mix"}


# --------------------------------------------------------------------------- the evaluator


def test_eval_accepts_extra_columns_and_comments(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text(
        "level\tconstruct\ttext\n# a comment\ncrisis\tmeans\tbought rope today. tonight after everyone is asleep\n"
        "none\troutine\tsee you thursday\tbring snacks\n",
        encoding="utf-8",
    )
    assert read_labelled(p) == [
        ("crisis", "bought rope today. tonight after everyone is asleep"),
        ("none", "see you thursday\tbring snacks"),  # text is the rest of the line
    ]
    report = evaluate(p)
    assert report.total == 2 and report.crisis_exact_recall == 1.0


@pytest.mark.parametrize("header", ["level\tconstruct", "text\tlang", "level\ttext\tlevel"])
def test_eval_header_needs_level_and_text(tmp_path, header):
    p = tmp_path / "x.tsv"
    p.write_text(header + "\ncrisis\tx\n", encoding="utf-8")
    with pytest.raises(EvalFileError, match=r":1: expected a header"):
        read_labelled(p)


# --------------------------------------------------------------------------- families generalise


@pytest.mark.parametrize(
    "text",
    [
        # means x time / resolve, in words no corpus line uses
        "got a length of chain and a padlock, doing it sunday when the house is empty",
        "compré un cable de extensión, el domingo cuando se vayan todos lo hago",
        "my husbands rifle is loaded in the closet and tonight is it",
        # intake x symptom
        "swallowed the rest of my sleeping pills, now my legs feel numb and i feel sick",
        "me tomé todas las pastillas de mi mamá con tequila y estoy mareada",
        # gas x closed space; blade x bath; height x edge
        "engine running, garage door down, just sitting here",
        "en la tina con la navaja, el agua se está poniendo roja",
        "on the wrong side of the railing at the overpass",
        # preparation x finality
        "gave away my dog and my guitar, wont need them where im going",
        "ya regalé mis cosas y le dejé el gato a mi vecina, gracias por todo",
        # command voices toward a child, code-switched
        "las voces me dicen que hurt the baby",
        "abrí el gas de la estufa y cerré las ventanas",
        "sold my car and gave my cat to my neighbor. wont be needing anything soon",
        "tengo las pastillas guardadas desde hace meses, el sábado me las tomo",
        "ya tengo la pistola, nomás espero que mi familia se duerma",
    ],
)
def test_family_constructs_in_new_words_are_crisis(text):
    assert assess(text).level == "crisis", assess(text)


@pytest.mark.parametrize(
    "text",
    [
        "havent eaten in 5 days and cant get up",
        "salí del psiquiátrico ayer y me siento peor, no sé qué hacer",
        "my ex took my phone and wont let me leave the apartment",
        "tengo miedo de hacerle daño a mi hijo, nunca lo haría",
        "had a drink last night after 8 months sober",
        "ran out of my lithium last week and cant sleep, thoughts racing",
        "theyd be better off without me honestly",
    ],
)
def test_family_urgent_constructs(text):
    assert level_rank(assess(text).level) >= 2, assess(text)


@pytest.mark.parametrize(
    "text",
    [
        "bought rope and a tarp for the camping trip saturday",
        "cleaning my rifle for deer season, heading out friday",
        "me corté el dedo cocinando jaja",
        "on the roof cleaning the gutters, call you after",
        "gonna kill this exam tomorrow lol",
        "wont be here next week, on vacation!",
        "5 years ago today i overdosed. grateful to be alive, doing well",
        "my partner took my phone to get the screen fixed",
        "picked up rope lights for the porch, they look amazing",
        "left the car running for a sec to grab my coffee",
        "estoy en el techo de mi casa viendo las estrellas con mi hija",
        "wrote letters to my pen pal in mexico today",
        "deleted instagram for a month, detox",
        "bought a new belt for my interview tomorrow",
        "took my insulin and had breakfast",
        "my sister is taking the kids to disney this weekend!",
    ],
)
def test_everyday_explanations_do_not_alarm(text):
    assert level_rank(assess(text).level) < 2, assess(text)


# --------------------------------------------------------------------------- engine pieces


def write(tmp_path, text):
    p = tmp_path / "r.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_unless_tag_caps_a_rule_and_withdraws_its_tags(tmp_path):
    rs = load_ruleset(
        [
            write(
                tmp_path,
                """language = "any"
[[rule]]
id = "t.rope"
level = "urgent"
tags = ["m"]
unless = ["ok"]
phrases = ["rope"]
[[rule]]
id = "t.camp"
level = "none"
tags = ["ok"]
phrases = ["camping"]
[[rule]]
id = "t.soon"
level = "none"
tags = ["t", "u"]
phrases = ["tonight"]
[[combine]]
id = "t.combo"
level = "crisis"
requires = ["m", "x|t"]
""",
            )
        ]
    )
    assert assess("rope tonight", ruleset=rs).level == "crisis"  # "x|t": either tag
    a = assess("rope for camping tonight", ruleset=rs)
    assert a.level == "watch" and "context.explained" in a.rules and "t.combo" not in a.rules


def test_unless_table_names_known_rules_only(tmp_path):
    from checkin.rules import RuleFileError

    bad = write(tmp_path, 'language = "any"\n[unless]\n"no.such.rule" = ["benign"]\n')
    with pytest.raises(RuleFileError, match="unknown rule 'no.such.rule'"):
        load_ruleset([*DEFAULT_RULE_FILES, bad])


def test_prefilter_gives_the_same_verdicts():
    rs = default_ruleset()
    # Every twelfth line of every file (the files are written construct by construct, so a stride keeps
    # every construct): without the prefilter every rule's regex runs on every text, minutes for the whole corpus.
    texts = [t for f in sorted(CORPUS_DIR.glob("*.tsv")) for _, t in read_labelled(f)[::12]]
    # The prefilter runs a rule only on a text that holds one literal of each of its required sets; a
    # rule that requires nothing runs its regex on every message. Every language's reading gets the same
    # verdicts.
    langs = (None, "en", "es")
    with_prefilter = [_evaluate(t, lang, None, rs) for t in texts for lang in langs]
    plain = load_ruleset(list(DEFAULT_RULE_FILES))
    for rule in plain.rules:
        object.__setattr__(rule, "_facts", PatternFacts())
    # Unfiltered, each text is read once for its three passes, as assess_all_languages reads a live text:
    # a rule's matches in a text (a pure function of the two) are worked out by the first pass that needs
    # them, not three times over (a third of the test's minute).
    readings = {t: _read(t, plain) for t in texts}
    assert [_evaluate(t, lang, None, plain, readings[t]) for t in texts for lang in langs] == with_prefilter


def test_every_language_is_read_for_live_texts():
    text = "adiós a todos, perdónenme por todo"  # only the Spanish rules see this farewell
    assert assess(text, language="en").level != "crisis"
    assert assess_all_languages(text, preferred="en").level == "crisis"
    assert assess(text, language=ALL_LANGUAGES).level == "crisis"  # what the live path calls
    assert assess_all_languages("see you thursday", preferred="es").level == "none"


# --------------------------------------------------------------------------- the final blind set

# The final blind sets, each scored once and folded in after the rules stopped changing. Floors are the
# rules alone (assess with no language, as blind_rates reads them) when each set was folded in, all raised
# after rules round 13 (issue 12) to what the rules alone score now.
FINALS = {
    # Raised after round 8 (issue 12) to what the rules alone score now; raised again where round 15 improved them.
    "risk_blind_final.tsv": (
        411,
        {"crisis>=urgent": 0.87, "crisis=crisis": 0.80, "urgent>=urgent": 0.93, "harmless alarmed": 0.04},
    ),
    "risk_blind_final4.tsv": (
        324,
        {"crisis>=urgent": 0.88, "crisis=crisis": 0.84, "urgent>=urgent": 0.86, "harmless alarmed": 0.04},
    ),
    "risk_blind_final6.tsv": (
        320,
        {"crisis>=urgent": 0.94, "crisis=crisis": 0.92, "urgent>=urgent": 0.93, "harmless alarmed": 0.01},
    ),
    # Sealed through round 8 and scored once at its end (see its header); folded in at the rules-alone figures.
    "risk_blind_final8.tsv": (
        320,
        {"crisis>=urgent": 0.83, "crisis=crisis": 0.82, "urgent>=urgent": 0.81, "harmless alarmed": 0.02},
    ),
    # Sealed through the classifier's outsiders' training data and rounds 9-10, scored once at the end (see
    # their headers); folded in at the rules-alone figures.
    "risk_blind_final9.tsv": (
        320,
        {"crisis>=urgent": 0.94, "crisis=crisis": 0.93, "urgent>=urgent": 0.83, "harmless alarmed": 0.02},
    ),
    "risk_blind_final10.tsv": (
        320,
        {"crisis>=urgent": 0.96, "crisis=crisis": 0.95, "urgent>=urgent": 0.86, "harmless alarmed": 0.02},
    ),
    # Sealed through outsiders j..n and rules round 11, scored once at the end (see their headers); folded in
    # at the rules-alone figures.
    "risk_blind_final11.tsv": (
        320,
        {"crisis>=urgent": 0.98, "crisis=crisis": 0.98, "urgent>=urgent": 0.97, "harmless alarmed": 0.02},
    ),
    "risk_blind_final12.tsv": (
        320,
        {"crisis>=urgent": 0.98, "crisis=crisis": 0.98, "urgent>=urgent": 0.97, "harmless alarmed": 0.0},
    ),
    # Sealed through outsiders o..r, rules round 12 and the classifier's second pass, scored once at the end (see
    # their headers); folded in at the rules-alone figures.
    "risk_blind_final13.tsv": (
        320,
        {"crisis>=urgent": 1.0, "crisis=crisis": 1.0, "urgent>=urgent": 0.92, "harmless alarmed": 0.02},
    ),
    "risk_blind_final14.tsv": (
        320,
        {"crisis>=urgent": 0.98, "crisis=crisis": 0.98, "urgent>=urgent": 0.88, "harmless alarmed": 0.01},
    ),
    # Sealed through rules rounds 13-14, outsiders s..u and the classifier's third pass, scored once at the end
    # (see their headers); folded in at the rules-alone figures.
    "risk_blind_final15.tsv": (
        320,
        {"crisis>=urgent": 0.91, "crisis=crisis": 0.86, "urgent>=urgent": 0.90, "harmless alarmed": 0.01},
    ),
    "risk_blind_final16.tsv": (
        320,
        {"crisis>=urgent": 0.90, "crisis=crisis": 0.84, "urgent>=urgent": 0.81, "harmless alarmed": 0.01},
    ),
    "risk_blind_final17.tsv": (
        320,
        {"crisis>=urgent": 0.90, "crisis=crisis": 0.86, "urgent>=urgent": 0.77, "harmless alarmed": 0.0},
    ),
    # Sealed through rules round 15 and the classifier's fourth pass, scored once (see their headers); folded in
    # after round 16, which was built from their crisis misses, at the rules-alone figures after it.
    # final18's crisis floors raised after round 18 to what the rules score now (round 17 moved them).
    "risk_blind_final18.tsv": (
        320,
        {"crisis>=urgent": 0.85, "crisis=crisis": 0.83, "urgent>=urgent": 0.83, "harmless alarmed": 0.03},
    ),
    "risk_blind_final19.tsv": (
        320,
        {"crisis>=urgent": 0.82, "crisis=crisis": 0.77, "urgent>=urgent": 0.80, "harmless alarmed": 0.02},
    ),
    # Sealed through rules round 17, scored once (see their headers); folded in before round 18, which was built
    # from their live misses, at the rules-alone figures after it (at the fold: 0.80 / 0.72 / 0.63, 0.05 and
    # 0.85 / 0.83 / 0.81, 0.02).
    "risk_blind_final20.tsv": (
        320,
        {"crisis>=urgent": 0.85, "crisis=crisis": 0.77, "urgent>=urgent": 0.68, "harmless alarmed": 0.02},
    ),
    "risk_blind_final21.tsv": (
        320,
        {"crisis>=urgent": 0.86, "crisis=crisis": 0.84, "urgent>=urgent": 0.82, "harmless alarmed": 0.02},
    ),
    # The development set of round 7 (see its header): tuned on, so held at the end-of-round figures.
    "risk_blind_fresh5.tsv": (
        336,
        {"crisis>=urgent": 1.0, "crisis=crisis": 1.0, "urgent>=urgent": 1.0, "harmless alarmed": 0.0},
    ),
    # Round 8's own probes, written before its rules (see the file's header), held at the end-of-round figures.
    "risk_round8_probes.tsv": (
        134,
        {"crisis>=urgent": 0.96, "crisis=crisis": 0.96, "urgent>=urgent": 0.97, "harmless alarmed": 0.0},
    ),
}


@pytest.mark.parametrize("name", sorted(FINALS))
def test_each_final_blind_set_holds_its_measured_floor(name):
    # The figures each set was measured at, as floors (see each file's header).
    size, floor = FINALS[name]
    rows = read_labelled_rows(CORPUS_DIR / name)
    assert len(rows) == size
    rates = blind_rates(rows)
    why = misses(rows)
    assert rates["crisis>=urgent"] >= floor["crisis>=urgent"], why
    assert rates["crisis=crisis"] >= floor["crisis=crisis"], why
    assert rates["urgent>=urgent"] >= floor["urgent>=urgent"], why
    assert rates["harmless alarmed"] <= floor["harmless alarmed"], why


# --------------------------------------------------------------------------- round 4 families
# Wordings written for these tests (not lines of any blind set): each construct the fourth blind set
# (blind/dev4) showed missing, said another way, in English, Spanish and both mixed, beside the
# everyday messages that share its words.

ROUND4_CRISIS = [
    "please tell my mom none of this was her fault. i wont be around after tonight",
    "sorry for the mess im about to leave. love you all. bye",
    "no fue culpa de nadie, diganle a mi hija. ya no voy a estar aqui despues de hoy",
    "take care of each other ok? i wont be at group anymore after this week. adios",
    "diganle a mi mama que no fue su culpa. bye",
    "the pills are all counted out next to my bed, i take them when my husband falls asleep",
    "ya tengo las pastillas contadas en la mesa, me las tomo en un rato",
    "bought antifreeze today and im going to drink it tonight",
    "tengo el cloro aqui y me lo voy a tomar ahorita",
    "tengo el veneno, i'm gonna drink it cuando se duerman",
    "the gun is in my lap. give me one good reason not to",
    "mixed all my xanax with a bottle of wine, cant feel my legs",
    "mezcle mis pastillas con tequila y ya no siento las manos",
    "took all my pills con una botella de vino, everything is spinning",
    "tied a plastic bag over my head earlier and took it off but im doing it again right now",
    "the voices say if i dont jump off the roof my kids will die",
    "las voces me dicen que si no me corto mi mama se va a morir",
    "rope is tied to the beam. when this sends im doing it",
]

ROUND4_URGENT = [
    "not going to do anything drastic but the thoughts keep coming back",
    "no voy a hacer nada pero los pensamientos no se van",
    "everything would be easier for my family if i just wasnt here",
    "todo seria mas facil si yo no estuviera",
    "not sure i want to keep living honestly",
    "my boyfriend shoved me into the wall again last night",
    "mi pareja me volvio a golpear y no se a donde ir",
    "mi esposo me empujo contra la pared, i dont know what to do",
    "my daughter keeps taking my social security money and i cant stop her",
    "relapsed last night. 200 days down the drain",
    "volvi a usar last night, perdi mis 60 dias",
    "back on the bottle, i know",
    "started restricting again, barely eating",
    "we lost our lease and will be on the streets by the 1st",
    "llevo dos semanas sin tomar mis pastillas y no duermo",
    "creo que me ponen algo en la comida en el trabajo",
    "discharged from the psych unit monday and i feel like im slipping already",
    "everyone would be better off if i was gone",
]

ROUND4_HARMLESS = [
    "el final de la serie me mato jaja",
    "el partido de anoche me mato, que golazo",
    "that movie ending destroyed me, still crying",
    "it just hit me how much i miss my dad",
    "the loss hit me hard this week, miss her",
    "i wont be at group anymore after this month, switching to the saturday group",
    "sorry i wont be texting for a week, on vacation",
    "wont be texting after tonight, phone plan runs out, will call from my sisters",
    "take care of each other while im in the hospital for my knee, see you in 2 weeks",
    "my meds are all lined up in my weekly organizer, feeling on top of it",
    "took my meds with a glass of water like always",
    "compre cloro para lavar el bano",
    "bought rat poison for the garage and the dog cant get to it",
    "im not suicidal, just exhausted",
    "im not gonna do anything this weekend, just rest",
    "no se preocupen, ya llegue bien a la casa",
    "my cousin said it wasnt anybodys fault when her dad died",
    "my dad died and it wasnt anybodys fault but i still feel guilty",
    "my mom keeps coming in my room at night to check on the baby lol",
    "my ex used to hit me, thats over now, 2 years in my own place",
    "used my inhaler last night, asthma is bad with the smoke",
    "back on the pills my psychiatrist prescribed and feeling better",
    "would be easier if i just had a car honestly",
    "this is it, the job offer came through!!",
    "thanks for everything this year group! see you in january",
    "take care of each other this week, im off to my daughters wedding!",
    "traffic on the bridge, be there in a few minutes",
    "hay trafico en el puente, llego al rato",
    "took my meds with a glass of water, going to bed",
    "me voy a tomar la pastilla de la presion al rato",
    "no se si quiero seguir viviendo en esta ciudad, la renta esta carisima",
    "sorry for the mess i left in the kitchen after group lol",
    "mi hijo me empujo jugando futbol jaja",
    "my son pushed me to finally sign up for the gym",
    "we lost our lease but found a new place already, moving saturday",
    "give me one reason not to buy these shoes lol",
    "trying again right now to get into the zoom, link not working",
]


@pytest.mark.parametrize("text", ROUND4_CRISIS)
def test_round4_crisis_constructs_are_crisis_in_other_words(text):
    assert assess(text).level == "crisis"
    assert assess(text, language=ALL_LANGUAGES).level == "crisis"


@pytest.mark.parametrize("text", ROUND4_URGENT)
def test_round4_urgent_constructs_are_at_least_urgent_in_other_words(text):
    assert rank(text) >= 2
    assert level_rank(assess(text, language=ALL_LANGUAGES).level) >= 2


@pytest.mark.parametrize("text", ROUND4_HARMLESS)
def test_round4_everyday_words_do_not_alarm(text):
    assert level_rank(assess(text, language=ALL_LANGUAGES).level) < 2

"""The risk classifier: a second opinion that can only raise the rules' level, shipped as JSON."""

import csv
import json
from pathlib import Path

import pytest

from checkin.rules import LEVELS, Assessment, assess, classifier, level_rank
from checkin.rules.classifier import MODEL_FORMAT, MODEL_PATH, Model, apply_second_opinion
from checkin.rules.engine import ALL_LANGUAGES

CORPUS = Path(__file__).parent / "corpus"


def _lines():
    out = []
    for path in sorted(CORPUS.glob("*.tsv")):
        with open(path, encoding="utf-8", newline="") as fh:
            out += [r["text"] for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return out


def _toy(weight_crisis=9.0, weight_urgent=9.0) -> Model:
    """A one-word model: "zebra" is crisis-like, "yak" urgent-like, everything else nothing."""
    return Model.from_json(_toy_data(weight_crisis, weight_urgent))


def _toy_data(weight_crisis=9.0, weight_urgent=9.0) -> dict:
    return {
        "format": MODEL_FORMAT,
        "features": ["w:yak", "w:zebra"],
        "idf": [1.0, 1.0],
        "coef_urgent": [weight_urgent, weight_urgent],
        "coef_crisis": [0.0, weight_crisis],
        "intercept_urgent": -5.0,
        "intercept_crisis": -5.0,
        "threshold_urgent": 0.9,
        "threshold_crisis": 0.9,
    }


def test_the_shipped_model_loads_and_is_plain_json():
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert data["format"] == MODEL_FORMAT
    model = classifier.shipped_model()
    assert model is classifier.shipped_model()  # loaded once
    assert len(model.idf) > 1000
    tu, tc = model.thresholds
    assert 0.5 <= tu < 1 and 0.5 <= tc < 1


def test_it_never_lowers_a_level_nor_drops_a_reason_over_the_corpus():
    model = classifier.shipped_model()
    for text in _lines()[::3]:  # every third line: the files go construct by construct (the whole: minutes)
        rules = assess(text)
        both = apply_second_opinion(text, rules, model)
        assert level_rank(both.level) >= level_rank(rules.level), text
        assert both.rules[: len(rules.rules)] == rules.rules and both.matches == rules.matches
        if both.level != rules.level:
            assert both.rules[len(rules.rules) :] == (f"classifier.{both.level}",)
        # whatever level the rules had given, the classifier cannot take it down
        for level in LEVELS:
            given = Assessment(level, ("r",), ("m",))
            assert level_rank(apply_second_opinion(text, given, model).level) >= level_rank(level)


def test_it_is_deterministic():
    model = classifier.shipped_model()
    again = classifier.load_model()
    for text in _lines()[:200]:
        assert model.probabilities(classifier.normalize(text)) == again.probabilities(
            classifier.normalize(text)
        )
        assert classifier.second_opinion(text) == classifier.second_opinion(text, again)


def test_it_raises_only_when_confident_and_says_why():
    toy = _toy()
    assert apply_second_opinion("there is a zebra here", Assessment("none"), toy) == Assessment(
        "crisis", ("classifier.crisis",)
    )
    assert apply_second_opinion(
        "there is a yak here", Assessment("watch", ("w.x",), ("x",)), toy
    ) == Assessment("urgent", ("w.x", "classifier.urgent"), ("x",))
    assert apply_second_opinion("there is a horse here", Assessment("none"), toy) == Assessment("none")
    assert apply_second_opinion("there is a yak here", Assessment("crisis", ("c",)), toy) == Assessment(
        "crisis", ("c",)
    )
    weak = _toy(weight_crisis=1.0, weight_urgent=1.0)
    assert apply_second_opinion("there is a zebra here", Assessment("none"), weak) == Assessment("none")
    assert set(classifier.REASONS) == {"classifier.crisis", "classifier.urgent"}


def test_a_text_both_heads_find_likely_is_crisis_at_the_joint_threshold():
    # P(crisis) of "zebra" is about 0.98: under a crisis threshold of 0.99 alone, it is crisis only
    # when the urgent head is confident too and the joint crisis threshold is met.
    data = {
        "format": MODEL_FORMAT,
        "features": ["w:yak", "w:zebra"],
        "idf": [1.0, 1.0],
        "coef_urgent": [9.0, 9.0],
        "coef_crisis": [0.0, 9.0],
        "intercept_urgent": -5.0,
        "intercept_crisis": -5.0,
        "threshold_urgent": 0.9,
        "threshold_crisis": 0.99,
    }
    text = "there is a zebra here"
    assert apply_second_opinion(text, Assessment("none"), Model.from_json(data)).level == "urgent"
    joint = Model.from_json({**data, "threshold_crisis_joint": 0.6})
    assert apply_second_opinion(text, Assessment("none"), joint) == Assessment(
        "crisis", ("classifier.crisis",)
    )
    # the urgent head alone ("yak": crisis head at 0.007) stays urgent
    assert apply_second_opinion("there is a yak here", Assessment("none"), joint).level == "urgent"


def test_crisis_beside_the_rules_urgent_needs_less_certainty_and_the_urgent_head_too():
    # "zebra": P(crisis) about 0.98 and P(>= urgent) about 0.98, under a crisis threshold of 0.99.
    data = {**_toy_data(), "threshold_crisis": 0.99, "threshold_crisis_agree": 0.6}
    agree = Model.from_json(data)
    text = "there is a zebra here"
    # the rules already say urgent: two judges agree, crisis
    assert apply_second_opinion(text, Assessment("urgent", ("u.x",), ("x",)), agree) == Assessment(
        "crisis", ("u.x", "classifier.crisis"), ("x",)
    )
    # the rules say less: the same certainty is only urgent
    assert apply_second_opinion(text, Assessment("watch", ("w.x",), ("x",)), agree).level == "urgent"
    assert apply_second_opinion(text, Assessment("none"), agree).level == "urgent"
    # crisis-like but not alarming to the urgent head: the rules' urgent stands
    doubtful = Model.from_json({**data, "coef_urgent": [0.0, 0.0]})
    assert apply_second_opinion(text, Assessment("urgent", ("u.x",)), doubtful) == Assessment(
        "urgent", ("u.x",)
    )


def test_the_joint_crisis_test_has_its_own_urgent_threshold():
    # P(>= urgent) of "zebra" is about 0.98: over the urgent threshold (0.9) but under a joint one of
    # 0.99, so a larger urgent budget does not let the text up to crisis by the joint test.
    data = {**_toy_data(), "threshold_crisis": 0.99, "threshold_crisis_joint": 0.6}
    text = "there is a zebra here"
    assert apply_second_opinion(text, Assessment("none"), Model.from_json(data)).level == "crisis"
    strict = Model.from_json({**data, "threshold_urgent_joint": 0.99})
    assert apply_second_opinion(text, Assessment("none"), strict).level == "urgent"


def test_beside_an_ordinary_reading_of_the_rules_the_joint_crisis_test_asks_for_more():
    # "zebra": P(crisis) about 0.98, between the joint threshold (0.6) and the one beside a rules'
    # note of an ordinary reading (0.99): a past event, someone else, an "if", an ordinary reason.
    data = {**_toy_data(), "threshold_crisis": 0.99, "threshold_crisis_joint": 0.6}
    model = Model.from_json({**data, "threshold_crisis_joint_ordinary": 0.99})
    text = "there is a zebra here"
    assert apply_second_opinion(text, Assessment("none"), model).level == "crisis"
    for note in ("context.past", "context.third_party", "context.hypothetical", "context.explained"):
        rules = Assessment("watch", ("w.x", note), ("x",))
        assert apply_second_opinion(text, rules, model) == Assessment(
            "urgent", ("w.x", note, "classifier.urgent"), ("x",)
        ), note
    # a negated match is no ordinary reason ("i can't go on")
    assert (
        apply_second_opinion(text, Assessment("watch", ("w.x", "context.negation")), model).level == "crisis"
    )


def test_a_crisis_word_still_counts_in_a_long_message():
    # Word and character n-grams are normalised each on its own: the many character n-grams of a
    # long message do not drown the one word the model knows ("zebra": crisis-like).
    grams = ["c: l", "c:lo", "c:on", "c:ng", "c:g ", "c: w", "c:wo", "c:or", "c:rd", "c:ds", "c:s "]
    data = {
        **_toy_data(),
        "features": ["w:yak", "w:zebra", *grams],
        "idf": [1.0, 1.0, *[1.0] * len(grams)],
        "coef_urgent": [9.0, 9.0, *[0.0] * len(grams)],
        "coef_crisis": [0.0, 9.0, *[0.0] * len(grams)],
    }
    text = "zebra " + " ".join(["long", "words"] * 20)
    assert apply_second_opinion(text, Assessment("none"), Model.from_json(data)).level == "none"
    blocks = Model.from_json({**data, "block_weights": {"w": 1.0, "c": 1.0}})
    assert apply_second_opinion(text, Assessment("none"), blocks).level == "crisis"


def test_a_negated_word_is_read_as_negated_in_english_and_spanish():
    # "zebra" is crisis-like; after a negator (until a clause mark) the word is another feature.
    toy = _toy()
    for text in ("there is no zebra here", "i never saw a zebra", "aqui no hay ninguna zebra"):
        assert apply_second_opinion(text, Assessment("none"), toy).level == "none", text
    for text in ("no , there is a zebra here", "there is a zebra here and no yak"):
        assert apply_second_opinion(text, Assessment("none"), toy).level == "crisis", text
    # a model trained without negation marking reads the word as it is, whatever the negator
    plain = Model.from_json({**_toy_data(), "negation": False})
    assert apply_second_opinion("there is no zebra here", Assessment("none"), plain).level == "crisis"


def test_the_engine_hook_is_off_unless_asked_and_fails_safe(monkeypatch):
    monkeypatch.setattr(classifier, "shipped_model", _toy)
    assert assess("see you at the zebra crossing").level == "none"
    raised = assess("see you at the zebra crossing", second_opinion=True)
    assert raised.level == "crisis" and raised.rules[-1] == "classifier.crisis"

    def broken():
        raise OSError("no model")

    monkeypatch.setattr(classifier, "shipped_model", broken)
    assert assess("see you at the zebra crossing", second_opinion=True).level == "none"


def test_the_shipped_model_was_trained_on_this_corpus_with_these_settings():
    # A retrain takes minutes; the digest of what it reads (every line and setting) takes a second.
    from checkin.rules.train_classifier import load_training, training_digest, training_files

    shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["meta"]["training_digest"]
    assert shipped == training_digest(load_training(training_files())), (
        "the corpus or a training setting changed: run `make classifier`"
    )


def test_training_is_deterministic_and_the_digest_follows_the_lines():
    # Every fourth line of the three oldest outsider sets: a small corpus trains in seconds.
    from checkin.rules.train_classifier import CORPUS_DIR, OUTSIDER_SETS, dump, load_training, train_rows

    small = [r for i, r in enumerate(load_training(CORPUS_DIR / n for n in OUTSIDER_SETS[:3])) if i % 4 == 0]
    first = dump(train_rows(small))
    assert dump(train_rows(small)) == first
    relabelled = [dict(small[0], level="none" if small[0]["level"] == "crisis" else "crisis"), *small[1:]]
    digest = lambda data: data["meta"]["training_digest"]  # noqa: E731
    assert digest(train_rows(relabelled)) != digest(json.loads(first))


def test_facilitators_read_the_reason():
    from webhooks.console.templating import rule_reasons

    assert "wording close to past crisis messages" in rule_reasons("classifier.crisis")


@pytest.mark.parametrize(
    "reply", ["Voy", "no voy", "sí", "yes", "2", "STOP", "AYUDA", "ok thanks", "see you"]
)
def test_short_replies_are_left_to_the_rules(reply):
    # One n-gram dominates a short text ("voy" as in "voy a matarme"): below MIN_WORDS it never raises.
    assert classifier.second_opinion(reply) == "none"


def test_the_loso_yardstick_leaves_out_variations_of_the_held_out_lines():
    from checkin.rules.train_classifier import BLIND_SETS, CORPUS_DIR, OUTSIDER_SETS, near_duplicates

    rows = [
        {"norm": "i took the whole bottle of my sleep meds and my heart is pounding"},
        {"norm": "see you all at group on thursday , bringing snacks"},
    ]
    held = ["i took the whole bottle of my sleeping meds and my heart is pounding"]
    assert near_duplicates(rows, held) == {0}
    assert all((CORPUS_DIR / name).exists() for name in BLIND_SETS)
    # every outsider's training set is a fold of `--loso --outsiders`, a new one included
    assert set(OUTSIDER_SETS) == {p.name for p in CORPUS_DIR.glob("classifier_train_outsiders_*.tsv")}
    assert len(OUTSIDER_SETS) >= 14


# Lines in the style of the outsiders' sets, written for this test and in no corpus file: the second
# opinion on its own (whatever the rules say) raises each at least to its level, in both languages.
UNSEEN_ALARMING = [
    (
        "finished the notes for my two girls tonight and put them in the drawer where they will look first",
        "crisis",
    ),
    ("ya no aguanto mas, esta noche me tomo todas las pastillas que me quedan", "crisis"),
    ("les escribi una carta a mis hijos para que la lean cuando ya no este", "crisis"),
    ("i keep cutting my arms again and the bleeding wont stop this time", "crisis"),
    ("stopped taking my meds two weeks ago and haven't slept in four days, thoughts are racing", "urgent"),
    ("i drank again after 9 months sober, threw it all away last night", "urgent"),
    ("he took my phone and my keys and won't let me leave the apartment", "urgent"),
    ("the landlord changed the locks on us and the baby and me are sleeping in the car tonight", "urgent"),
]
# Harmless look-alikes (a death word as a figure of speech, a letter, giving things away, sobriety
# kept): neither the classifier nor the live path alarms them.
UNSEEN_HARMLESS = [
    "this homework is killing me lol but i'll get it done before group",
    "dying to see the new movie with my kids this weekend, save me a seat",
    "cleaning out the garage this weekend and giving old clothes to the church",
    "wrote a letter to my grandma for her birthday, she's turning 90",
    "my sponsor says one day at a time, today makes 200 days sober",
    "mañana voy al doctor para mi chequeo, nos vemos el jueves en el grupo",
]


@pytest.mark.parametrize("text,level", UNSEEN_ALARMING)
def test_unseen_style_cries_for_help_are_raised_even_where_the_rules_miss_them(text, level):
    assert level_rank(classifier.second_opinion(text)) >= level_rank(level)
    live = assess(text, language=ALL_LANGUAGES, second_opinion=True)
    assert level_rank(live.level) >= level_rank(level), live


@pytest.mark.parametrize("text", UNSEEN_HARMLESS)
def test_unseen_style_harmless_lines_are_not_alarmed(text):
    assert classifier.second_opinion(text) == "none"
    assert level_rank(assess(text, language=ALL_LANGUAGES, second_opinion=True).level) < level_rank("urgent")

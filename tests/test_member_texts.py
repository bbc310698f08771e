"""The default texts members read and hear, as a bilingual reviewer would check them: accents kept,
dates and times as each language writes them, both ends of every scale, one verb for texting, the
Spanish keywords named, the validated PHQ-9 wording, and the SMS length check with accented values."""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from checkin import keywords, templates
from checkin.schedules import load_config
from checkin.schedules.plan import sample_values
from checkin.schedules.texts import _date, _time, _weekday
from checkin.templates import GSM7_BASIC, GSM7_EXTENDED, check_table, length_problem, segments
from config import CONFIG_DIR

# 3GPP TS 23.038 section 6.2.1, the GSM 7-bit default alphabet by position (0x00-0x7F, eight rows
# of sixteen; 0x1B is the escape to the extension table, not a character), and the extension table.
GSM_0338 = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM_0338_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~"}
GSM_0338_EXTENSION |= {0x3E: "]", 0x40: "|", 0x65: "€"}


def test_the_segment_counter_uses_the_exact_gsm_0338_tables():
    assert len(GSM_0338) == 128
    assert frozenset(GSM_0338) - {"\x1b"} == GSM7_BASIC
    assert frozenset(GSM_0338_EXTENSION.values()) == GSM7_EXTENDED


@pytest.mark.parametrize("free", list("ñéü¿¡ÑÉÜ"))
def test_spanish_letters_in_gsm7_cost_nothing(free):
    assert segments(free + "a" * 159) == ("GSM-7", 160, 1)


@pytest.mark.parametrize("costly", list("áíóúÁÍÓÚ"))
def test_a_vowel_with_an_acute_accent_makes_the_whole_text_ucs2(costly):
    assert segments(costly + "a" * 69) == ("UCS-2", 70, 1)
    assert segments(costly + "a" * 70) == ("UCS-2", 71, 2)


# --- dates and times ------------------------------------------------------------------------------

TUESDAY_EVENING = datetime(2026, 12, 8, 18, 30, tzinfo=ZoneInfo("America/Chicago"))
WEDNESDAY_MORNING = datetime(2026, 9, 30, 9, 5, tzinfo=ZoneInfo("America/Chicago"))


@pytest.mark.parametrize(
    ("language", "local", "date", "time", "weekday"),
    [
        ("en", TUESDAY_EVENING, "Tue, Dec 8", "6:30 pm", "Tuesday"),
        ("en", WEDNESDAY_MORNING, "Wed, Sep 30", "9:05 am", "Wednesday"),
        ("es", TUESDAY_EVENING, "martes 8 de diciembre", "6:30 p. m.", "martes"),
        ("es", WEDNESDAY_MORNING, "miércoles 30 de septiembre", "9:05 a. m.", "miércoles"),
    ],
)
def test_dates_and_times_as_each_language_writes_them(language, local, date, time, weekday):
    fmt = load_config().format(language)
    assert (_date(fmt, local), _time(fmt, local), _weekday(fmt, local)) == (date, time, weekday)
    # CLDR's no-break spaces ("p.\u202fm.") would turn a whole SMS into UCS-2: plain spaces only.
    assert segments(f"{_date(fmt, local)} {_time(fmt, local)}")[0] == "GSM-7"


def test_a_format_the_plan_cannot_render_is_named_at_start_up():
    from checkin.schedules.plan import PlanError, parse_config

    with open(CONFIG_DIR / "plan.toml", "rb") as fh:
        raw = tomllib.load(fh)
    raw["format"]["es"]["locale"] = "spanish"
    with pytest.raises(PlanError, match=r"^format\.es\.locale: unknown locale 'spanish'"):
        parse_config(raw)
    raw["format"]["es"] |= {"locale": "es", "clock": "24h"}
    with pytest.raises(PlanError, match=r"^format\.es\.clock: unknown key"):
        parse_config(raw)


# --- the words ----------------------------------------------------------------------------------


def _spanish_texts() -> dict[str, str]:
    """Every default Spanish text a member reads or hears, by where it lives."""
    with open(CONFIG_DIR / "voice.toml", "rb") as fh:
        voice = tomllib.load(fh)["prompts"]["es"]
    with open(CONFIG_DIR / "replies.toml", "rb") as fh:
        replies = tomllib.load(fh)["es"]["reply"]
    out = {f"messages.{k}": v for k, v in templates.load()["es"].items()}
    out |= {f"plan.{k}": v for k, v in load_config().templates["es"].items()}
    out |= {f"voice.{k}": v for k, v in voice.items()}
    out |= {f"replies.{r['label']}": r["body"] for r in replies}
    return out


# Words whose accent the reviewer found stripped (some changing the meaning: "estas" is "these").
STRIPPED = r"\b(?:estas en|como estas|como te|avisara|recibiras|numero|proxima|reunion|todavia|dificil|telefono|mas tarde|envia|leera|escribenos)\b"


def test_spanish_texts_keep_their_accents():
    stripped = {where: text for where, text in _spanish_texts().items() if re.search(STRIPPED, text.lower())}
    assert stripped == {}


def test_one_verb_for_texting_and_the_spanish_keywords_named():
    texts = _spanish_texts()
    assert not [w for w, t in texts.items() if re.search(r"\btexte|\bescrib", t.lower())]
    messages = templates.load()
    for key, english in messages["en"].items():
        spanish = messages["es"][key]
        for word, kind in (("STOP", "opt_out"), ("START", "opt_in"), ("HELP", "help")):
            if re.search(rf"\b{word}\b", english):
                named = [w for w in re.findall(r"\b[A-Z]{4,}\b", spanish) if keywords.classify(w)[0] == kind]
                # The carrier words may follow in brackets ("BAJA (o STOP)"): Twilio's own opt-out and
                # opt-in words are English, and a number Twilio blocked after a STOP is freed by START.
                bare = re.sub(r"\(o (?:STOP|START)\)", "", spanish)
                assert named and not re.search(r"\b(?:STOP|START|HELP)\b", bare), (key, spanish)


def test_every_scale_names_both_ends_in_sms_and_on_the_phone():
    plan = load_config().templates
    with open(CONFIG_DIR / "voice.toml", "rb") as fh:
        voice = tomllib.load(fh)["prompts"]
    scales = {
        "en": [plan["en"]["prompt"], plan["en"]["nudge"], templates.load()["en"]["checkin_clarify"]],
        "es": [plan["es"]["prompt"], plan["es"]["nudge"], templates.load()["es"]["checkin_clarify"]],
    }
    for text in scales["en"]:
        assert "1 = very bad, 5 = very good" in text
    for text in scales["es"]:
        assert "1 = muy mal, 5 = muy bien" in text
    assert "where 1 is very bad and 5 is very good" in voice["en"]["score"]
    assert "donde 1 es muy mal y 5 es muy bien" in voice["es"]["score"]


def test_the_phone_asks_phq9_item_9_in_the_validated_us_spanish_wording():
    raw = (CONFIG_DIR / "voice.toml").read_text()
    voice = tomllib.loads(raw)["prompts"]
    spanish = voice["es"]["phq9"]
    assert "pensamientos de que estaría mejor muerto o muerta, o de lastimarse de alguna manera" in spanish
    assert "Durante las últimas 2 semanas, ¿qué tan seguido" in spanish
    for answer in ("ningún día", "varios días", "más de la mitad de los días", "casi todos los días"):
        assert answer in spanish
    assert "better off dead, or of hurting yourself in some way" in voice["en"]["phq9"]
    assert "Pfizer" in raw and "Spitzer" in raw  # attribution kept beside the wording


# --- the length check with accented values --------------------------------------------------------


def test_a_spanish_text_that_fits_plain_values_but_not_accented_ones_is_caught():
    # The old reminder fits two GSM-7 segments with unaccented values, but an accented name or place
    # makes it UCS-2, and three segments.
    old = "Recordatorio: {group} se reune {when}{date} a las {time}{where}. Responde 1 si vas, 2 si no."
    plain = old.format(**templates.SAMPLE_VALUES_ES)
    assert segments(plain)[0] == "GSM-7" and segments(plain)[2] == 2
    [problem] = check_table({"es": {"reminder": old}}, source="plan.toml")
    assert problem.startswith("plan.toml [es] reminder: 3 SMS segments (")
    assert problem.endswith(
        "(the accents in ', en Iglesia San José, Salón 3' make it UCS-2: 70 characters a segment)"
    )
    assert check_table({"en": {"reminder": old}}) == []  # English texts keep the English values


def test_the_shipped_spanish_texts_fit_with_angela_at_the_cafe():
    values = templates.SAMPLE_VALUES_ACCENTED
    assert values["name"] == "Ángela Muñoz" and values["address"] == "Iglesia San José, Salón 3"
    assert check_table(templates.load(), source="messages.toml") == []
    assert check_table(load_config().templates, source="plan.toml") == []
    # ... and each way the planner can word them ("mañana, 30 de septiembre" as well as the full date)
    config = load_config()
    for language, table in config.templates.items():
        for key, text in table.items():
            for values in sample_values(config, language):
                assert length_problem(text, values) is None, (language, key, values["when"])
    # The crisis replies carry no name and stay one GSM-7 segment in Spanish too.
    for key in ("crisis", "urgent", "crisis_unheard", "urgent_unheard", "help_request"):
        encoding, _, count = segments(templates.render(key, "es"))
        assert (encoding, count) == ("GSM-7", 1), key


def test_a_spanish_time_at_the_end_of_a_sentence_takes_one_period():
    from datetime import UTC, timedelta

    from checkin.schedules.recurrence import Occurrence
    from checkin.schedules.texts import render

    start = datetime(2026, 12, 8, 23, 30, tzinfo=UTC)  # 6:30 pm in New York
    from zoneinfo import ZoneInfo

    there = start.astimezone(ZoneInfo("America/New_York"))  # the group's clock
    meeting = Occurrence(
        1, start, start + timedelta(hours=1), there, "moved", start - timedelta(days=1), None, None, "k"
    )
    args = ("America/New_York", meeting, "Grupo Martes", start - timedelta(days=1))
    moved = render(load_config(), "change", "es", *args)
    assert moved == "Grupo Martes, nuevo horario: martes 8 de diciembre, 6:30 p. m. BAJA para parar."
    assert render(load_config(), "reminder", "es", *args).startswith(
        "Grupo Martes: mañana, 8 de diciembre, 6:30 p. m. 1 voy, 2 no voy"
    )
    assert render(load_config(), "reminder", "en", *args).startswith(
        "Reminder: Grupo Martes meets tomorrow, Tue, Dec 8 at 6:30 pm. Reply 1"
    )


def test_the_spanish_reminder_says_hoy_and_manana_where_the_english_says_today_and_tomorrow():
    from datetime import UTC, timedelta

    from checkin.schedules.recurrence import Occurrence
    from checkin.schedules.texts import render

    start = datetime(2026, 12, 8, 23, 30, tzinfo=UTC)  # Tuesday 6:30 pm in New York
    from zoneinfo import ZoneInfo

    there = start.astimezone(ZoneInfo("America/New_York"))  # the group's clock
    meeting = Occurrence(1, start, start + timedelta(hours=1), there, "scheduled", start, None, None, "k")

    def reminder(language: str, sent: datetime) -> str:
        return render(load_config(), "reminder", language, "America/New_York", meeting, "Grupo Martes", sent)

    same_day, day_before, week_before = (
        start - timedelta(hours=2),
        start - timedelta(days=1),
        start - timedelta(days=7),
    )
    assert reminder("en", same_day).startswith("Reminder: Grupo Martes meets today, Tue, Dec 8 at 6:30 pm.")
    assert (
        reminder("es", same_day)
        == "Grupo Martes: hoy, 8 de diciembre, 6:30 p. m. 1 voy, 2 no voy. BAJA: parar"
    )
    assert reminder("en", day_before).startswith("Reminder: Grupo Martes meets tomorrow, Tue, Dec 8")
    assert reminder("es", day_before).startswith("Grupo Martes: mañana, 8 de diciembre, 6:30 p. m.")
    # A week ahead neither says a near day, and the Spanish names the weekday in full.
    assert reminder("en", week_before).startswith("Reminder: Grupo Martes meets Tue, Dec 8 at 6:30 pm.")
    assert reminder("es", week_before).startswith("Grupo Martes: martes 8 de diciembre, 6:30 p. m.")


def test_every_automated_text_says_how_to_stop_and_still_fits():
    """Carriers ask it of every automated text, and a member who wants no more should not have to guess:
    each planned text names STOP (in Spanish BAJA, which the service honours as STOP), and still fits two
    segments with Ángela's accented group and place."""
    stop = {"en": re.compile(r"\bSTOP to stop\b"), "es": re.compile(r"\bBAJA(?: para|:) parar\b")}
    plan = load_config().templates
    for language, pattern in stop.items():
        for key in ("reminder", "cancelled", "moved", "prompt", "nudge"):
            assert pattern.search(plan[language][key]), (language, key)
    assert keywords.classify("BAJA")[0] == "opt_out" and keywords.classify("STOP")[0] == "opt_out"
    assert check_table(plan, source="plan.toml") == []
    # Prompts and nudges stay one segment, as before.
    for language in stop:
        for key in ("prompt", "nudge"):
            assert segments(plan[language][key])[2] == 1, (language, key)

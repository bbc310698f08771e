"""Inbound SMS as Twilio sends it: signed, stored once, answered with TwiML."""

import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import func, select

from checkin.models import ConsentEvent, Member, Message
from tests.conftest import said
from tests.inbox_helpers import NOBODY_READS_ROSA, NOBODY_READS_SAM
from webhooks.simulate import sign, sms_params


def replies(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/xml")
    return said(response)  # in the TwiML, or by REST once decided (checkin.intake)


def count(db, model):
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


# --- signatures -----------------------------------------------------------------------------


def test_signed_request_is_answered(twilio, member):
    assert replies(twilio.sms(member.phone, "hello")) == [NOBODY_READS_SAM]


def test_missing_signature_is_refused(twilio, db, member, caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        response = twilio.sms(member.phone, "hello", signature="")
    assert response.status_code == 403
    assert "missing X-Twilio-Signature" in response.get_data(as_text=True)
    assert count(db, Message) == 0
    # Not Twilio's at all (a scanner, a probe): logged, but as a warning, so a flood of them cannot bury
    # the errors a wrong token or base URL gives (below).
    [record] = [r for r in caplog.records if r.getMessage().startswith("refused POST /twilio/sms")]
    assert record.levelno == logging.WARNING


def test_signature_with_wrong_token_is_refused_and_said_in_the_log(twilio, db, member, caplog):
    import logging

    with caplog.at_level(logging.ERROR):
        response = twilio.sms(member.phone, "I am going to kill myself tonight", token="not-the-token")
    assert response.status_code == 403
    assert count(db, Message) == 0
    # A wrong auth token or base URL refuses every text: the log says so (ids only, never the words).
    [record] = [r for r in caplog.records if r.getMessage().startswith("refused POST /twilio/sms")]
    line = record.getMessage()
    assert record.levelno == logging.ERROR
    assert "does not match" in line and "PUBLIC_BASE_URL" in line and "kill" not in line


def test_signature_over_other_params_is_refused(twilio, settings, member, db):
    params = sms_params(member.phone, "+15005550006", "hello")
    signature = sign(settings.twilio_auth_token, settings.public_base_url + "/twilio/sms", params)
    tampered = dict(params, Body="something else")
    response = twilio.client.post("/twilio/sms", data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert count(db, Message) == 0


def test_signature_behind_tls_proxy_uses_public_url(twilio, member):
    # Twilio signed https://checkin.example.org/...; the app sees plain http on localhost.
    response = twilio.sms(member.phone, "hello", public_base="https://checkin.example.org")
    assert response.status_code == 200
    # A signature over the internal URL is not what Twilio would send, and is refused.
    response = twilio.sms(member.phone, "hello", public_base="http://localhost")
    assert response.status_code == 403


def test_signature_over_the_url_with_its_port_is_accepted(twilio, settings, member, db):
    # Twilio signs some requests over https://host:443/...; either form of the URL is Twilio's.
    assert settings.public_base_url == "https://checkin.example.org"
    response = twilio.sms(member.phone, "hello", public_base="https://checkin.example.org:443")
    assert response.status_code == 200
    response = twilio.sms(member.phone, "hello", public_base="https://checkin.example.org:8443")
    assert response.status_code == 403
    assert count(db, Message) == 1


_FIELD = st.sampled_from(["Body", "From", "To", "MediaUrl0", "NumMedia", "Extra", "b", "B", "\u00e9"])


@examples(max_examples=300, deadline=None)
@given(
    fields=st.lists(
        st.tuples(_FIELD, st.text(st.characters(exclude_categories=("Cs",)), max_size=12)), max_size=8
    ),
    url=st.sampled_from(["https://checkin.example.org/twilio/sms", "http://127.0.0.1:8000/twilio/sms?x=%20"]),
)
def test_the_signature_check_takes_what_twilio_signs_and_nothing_else(fields, url):
    # Whatever Twilio sends (repeated fields, the same value twice, any script), the webhook's own HMAC is
    # the one twilio's validator computes (the webhook gives it the form through an adapter): a text Twilio
    # signed is never refused; changed, it is.
    from twilio.request_validator import RequestValidator
    from werkzeug.datastructures import MultiDict

    from webhooks.signature import valid_signature

    form = MultiDict(fields)
    theirs = RequestValidator("token-1").compute_signature(url, form)
    assert valid_signature("token-1", url, form, theirs)
    assert not valid_signature("token-2", url, form, theirs)
    assert not valid_signature("token-1", url, MultiDict([*fields, ("Body", "x" * 13)]), theirs)


def test_development_token_signs_when_no_twilio_token(database_url, redis_url, tmp_path):
    from config import load_settings
    from tests.conftest import make_env

    env = make_env(
        database_url, redis_url, MESSAGING_BACKEND="console", CHECKIN_INSTANCE_PATH=str(tmp_path / "i")
    )
    env.pop("TWILIO_AUTH_TOKEN")
    first = load_settings(env)
    again = load_settings(env)
    assert first.twilio_auth_token and first.twilio_auth_token == again.twilio_auth_token
    assert (tmp_path / "i" / "twilio_dev_token").read_text().strip() == first.twilio_auth_token


# --- stored once ------------------------------------------------------------------------------


def test_retried_webhook_creates_nothing_and_gets_same_answer(twilio, db, member):
    sid = "SM" + "a" * 32
    first = replies(twilio.sms(member.phone, "STOP", sid=sid))
    second = replies(twilio.sms(member.phone, "STOP", sid=sid))
    assert first == second and "no more texts" in first[0]
    assert count(db, Message) == 1
    assert count(db, ConsentEvent) == 2  # the opt-in when added, one opt-out: not two


def test_body_is_encrypted_at_rest(twilio, db, member):
    twilio.sms(member.phone, "my private words")
    with db.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT body, reply_body FROM messages").one()
    assert b"private" not in bytes(raw[0]) and b"Sam" not in bytes(raw[1])
    with db.session() as s:
        assert s.scalar(select(Message.body)) == "my private words"


# --- keywords ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    [
        "STOP",
        "stop",
        "Stop.",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "stop texting me",
        "Please stop texting me!",
        "don't text me anymore",
        "unsubscribe me",
        "please stop sending me these",
        "Stop sending me these texts.",
        "i don't want these messages anymore",
        "stop sending me reminders on sunday",  # no per-day consent: we stop, the reply says how to rejoin
    ],
)
def test_opt_out_keywords(twilio, db, member, word):
    answer = replies(twilio.sms(member.phone, word))
    assert answer and "no more texts" in answer[0]
    with db.session() as s:
        assert s.get(Member, member.id).status == "opted_out"
        event = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
        assert event.kind == "opt_out" and event.member_id == member.id


@pytest.mark.parametrize(
    "body",
    [
        "dejen de escribirme",
        "Deja de mandarme mensajes",
        "no me manden mas mensajes",
        "No me manden más mensajes, por favor",
        "ya no me manden mensajes",
        "ya no me escriban",
        "ya no quiero recibir mensajes",
    ],
)
def test_spanish_plain_opt_outs_opt_out_and_page_nobody(twilio, db, spanish_member, group, body):
    """Said in plain Spanish, an opt-out is honoured like STOP: one confirmation in Spanish, the
    consent event recorded, and no case opened (the statistical second opinion used to read "ya no
    me manden mensajes" as despair and page a facilitator)."""
    from checkin.directory import add_staff
    from checkin.escalation.models import Escalation
    from checkin.models import OutboxItem

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    answer = replies(twilio.sms(spanish_member.phone, body))
    assert answer and "Te dimos de baja" in answer[0] and "ALTA" in answer[0] and "988" in answer[0]
    with db.session() as s:
        assert s.get(Member, spanish_member.id).status == "opted_out"
        event = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
        assert (event.kind, event.member_id, event.source) == ("opt_out", spanish_member.id, "phrase")
        assert s.scalars(select(Escalation)).all() == []
        assert s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all() == []
    assert replies(twilio.sms(spanish_member.phone, "hola?")) == []  # never texted after it


def test_a_crisis_with_opt_out_words_still_opts_out_nothing_and_is_escalated(twilio, db, member, group):
    """Opt-out words inside a longer message are not an opt-out: the words are a crisis, answered with
    988/911 and escalated."""
    from checkin.directory import add_staff
    from checkin.escalation.models import Escalation

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    answer = replies(
        twilio.sms(member.phone, "dejen de escribirme, ya me tome unas pastillas y me siento mareada")
    )
    assert answer and "988" in answer[0] and "911" in answer[0]
    with db.session() as s:
        assert s.get(Member, member.id).status == "active"
        assert s.scalars(select(Escalation)).one().level == "crisis"


@pytest.mark.parametrize(
    "sentence",
    [
        "I want it all to stop",
        "stop by after group?",
        "the end of the week was hard",
        "my ex wont stop texting me",
        "ya no quiero nada",
        "stop sending me these thoughts",
    ],
)
def test_sentences_with_stop_words_are_not_opt_outs(twilio, db, member, sentence):
    twilio.sms(member.phone, sentence)
    with db.session() as s:
        assert s.get(Member, member.id).status == "active"


@pytest.mark.parametrize("word", ["START", "UNSTOP", "YES", "start"])
def test_opt_in_keywords(twilio, db, member, word):
    twilio.sms(member.phone, "STOP")
    answer = replies(twilio.sms(member.phone, word))
    assert "Welcome back, Sam" in answer[0]
    with db.session() as s:
        assert s.get(Member, member.id).status == "active"
        kinds = [
            e.kind
            for e in s.scalars(
                select(ConsentEvent).where(ConsentEvent.member_id == member.id).order_by(ConsentEvent.id)
            )
        ]
    assert kinds == ["opt_in", "opt_out", "opt_in"]


def test_opted_out_member_is_not_texted_back(twilio, member):
    twilio.sms(member.phone, "STOP")
    assert replies(twilio.sms(member.phone, "hello?")) == []
    assert replies(twilio.sms(member.phone, "STOP")) == []  # one confirmation only


@pytest.mark.parametrize("word", ["HELP", "info", "Help"])
def test_help(twilio, member, word):
    answer = replies(twilio.sms(member.phone, word))[0]
    assert "STOP" in answer and "988" in answer


def test_spanish_member_is_answered_in_spanish(twilio, spanish_member):
    # A member's AYUDA asks for help (urgent); with no staff here nobody can be told, so the reply is
    # the carrier's HELP answer in Spanish, with no promise of a facilitator.
    assert replies(twilio.sms(spanish_member.phone, "AYUDA"))[0].startswith("Checkin: avisos")
    assert replies(twilio.sms(spanish_member.phone, "hola"))[0] == NOBODY_READS_ROSA


def test_unknown_number_learns_nothing(twilio, db, member, group):
    answer = replies(twilio.sms("+12025550177", "is Sam in the Tuesday group?"))[0]
    assert "Sam" not in answer and "Tuesday" not in answer and group.name not in answer
    assert "988" in answer
    with db.session() as s:
        stored = s.scalar(select(Message).where(Message.from_number == "+12025550177"))
        assert stored.member_id is None  # still stored: nothing lost


# --- malformed ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"MessageSid": None}, "missing MessageSid"),
        ({"MessageSid": "not-a-sid"}, "MessageSid is not a Twilio message SID"),
        # Found by an outside tester: any two capitals passed; a call's or an account's SID is no message.
        ({"MessageSid": "XX" + "a" * 32}, "MessageSid is not a Twilio message SID"),
        ({"MessageSid": "CA" + "a" * 32}, "MessageSid is not a Twilio message SID"),
        ({"From": None}, "missing From"),
        ({"From": "hello"}, "From is not a phone number"),
        ({"Body": "x" * 1601}, "Body is longer than 1600"),
    ],
)
def test_malformed_requests_get_400_with_reason(twilio, db, member, change, reason):
    params = sms_params(member.phone, "+15005550006", "hi")
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    response = twilio.post("/twilio/sms", params)
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert count(db, Message) == 0


def test_oversized_request_is_413(twilio, member):
    params = sms_params(member.phone, "+15005550006", "hi")
    params["Padding"] = "x" * 100_000
    response = twilio.post("/twilio/sms", params)
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True).lower()


def test_wrong_method_is_405(client):
    assert client.get("/twilio/sms").status_code == 405


# --- health -------------------------------------------------------------------------------


def test_healthz_reports_database_redis_and_a_worker_taking_alerts(client, runtime):
    from rq import Queue, Worker

    # No worker: alerts would wait, so the service is degraded and says why.
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded" and body["workers"] == "no worker is taking alerts"
    worker = Worker([Queue("alerts", connection=runtime.redis)], connection=runtime.redis)
    worker.register_birth()
    try:
        body = client.get("/healthz").get_json()
    finally:
        worker.register_death()
    assert body == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "paging": "ok",
        "workers": "ok",
        "alerts": "ok",
        "spool": "ok",
    }  # no group: none unreachable; nothing waiting in the intake spool


def test_healthz_is_degraded_within_a_minute_of_the_last_worker_heartbeat(client, runtime, caplog):
    """A SIGKILLed worker leaves its RQ registration behind for minutes: only its heartbeat tells."""
    from datetime import UTC, datetime, timedelta

    from rq import Queue, Worker

    worker = Worker([Queue("alerts", connection=runtime.redis)], connection=runtime.redis)
    worker.register_birth()
    try:
        assert client.get("/healthz").get_json()["workers"] == "ok"
        # Killed 61 s ago: registered still, silent since.
        runtime.redis.hset(
            worker.key,
            "last_heartbeat",
            (datetime.now(UTC) - timedelta(seconds=61)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        with caplog.at_level("ERROR"):
            first = client.get("/healthz").get_json()
            second = client.get("/healthz").get_json()
    finally:
        worker.register_death()
    assert first["status"] == "degraded"
    assert first["workers"] == "no worker is taking alerts: no heartbeat for over 60 s" == second["workers"]
    # Said loudly when it turned, not on every probe.
    assert [r.getMessage() for r in caplog.records].count(
        "healthz: DEGRADED: workers: no worker is taking alerts: no heartbeat for over 60 s: "
        "nobody may be paged until it is fixed"
    ) == 1


def test_healthz_counts_a_worker_gone_after_two_of_its_ttls(client, runtime, env, monkeypatch):
    """CHECKIN_WORKER_TTL sets the Procfile's --worker-ttl and /healthz's patience alike (30 s: a minute)."""
    import dataclasses
    import re
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from rq import Queue, Worker

    from config import load_settings

    procfile = (Path(__file__).parents[1] / "Procfile").read_text()
    assert re.search(r"^worker: .*--worker-ttl \$\{CHECKIN_WORKER_TTL:-30\} ", procfile, re.M)
    assert load_settings({**env, "CHECKIN_WORKER_TTL": "10"}).worker_ttl_seconds == 10
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, worker_ttl_seconds=10))
    worker = Worker([Queue("alerts", connection=runtime.redis)], connection=runtime.redis)
    worker.register_birth()
    try:
        for age, said in ((19, "ok"), (21, "no worker is taking alerts: no heartbeat for over 20 s")):
            beat = (datetime.now(UTC) - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            runtime.redis.hset(worker.key, "last_heartbeat", beat)
            assert client.get("/healthz").get_json()["workers"] == said
    finally:
        worker.register_death()


def test_healthz_is_degraded_when_an_alert_has_waited_over_a_minute(client, runtime, db, caplog):
    from datetime import timedelta

    from checkin import outbox
    from checkin.db import utcnow

    with db.session() as s:
        item, _ = outbox.add(s, "alert:health:1", to="+12025550150", body="alert", queue=outbox.ALERT_QUEUE)
        item.next_attempt_at = utcnow() - timedelta(seconds=30)
    assert client.get("/healthz").get_json()["alerts"] == "ok"  # being sent: retries, a slow Twilio
    caplog.set_level("ERROR")
    with db.session() as s:
        s.get(type(item), item.id).next_attempt_at = utcnow() - timedelta(seconds=95)
    body = client.get("/healthz").get_json()
    assert body["status"] == "degraded"
    assert body["alerts"].startswith("an alert has waited 9") and body["alerts"].endswith(" s unsent")
    # Still waiting, longer: the words change, the state does not; said loudly once, not at every probe.
    with db.session() as s:
        s.get(type(item), item.id).next_attempt_at = utcnow() - timedelta(seconds=125)
    later = client.get("/healthz").get_json()
    assert later["alerts"].startswith("an alert has waited 12")
    assert len([r for r in caplog.records if "DEGRADED: alerts" in r.getMessage()]) == 1


def test_healthz_says_once_that_a_group_reaches_nobody_not_at_every_probe(client, runtime, db, group, caplog):
    # Found by an outside tester: with a group nobody can be paged for, every probe logged an ERROR (a
    # load balancer probing every few seconds flooded the log). The page still says it every time.
    from checkin.directory import add_group, add_staff

    caplog.set_level("WARNING")
    bodies = [client.get("/healthz").get_json() for _ in range(3)]
    assert [b["paging"] for b in bodies] == [f"nobody reachable for group(s) {group.id}"] * 3
    assert {b["status"] for b in bodies} == {"degraded"}
    said = [r for r in caplog.records if "paging" in r.getMessage()]
    assert [r.getMessage() for r in said] == [
        f"healthz: DEGRADED: paging: nobody reachable for group(s) {group.id}: nobody may be paged until it is fixed"
    ]
    assert [r.levelname for r in said] == ["ERROR"]
    # Another group reaching nobody is news: said once more.
    with db.session() as s:
        other = add_group(s, "Thursday Group", "America/Chicago")
    caplog.clear()
    for _ in range(2):
        client.get("/healthz")
    assert [r.getMessage() for r in caplog.records if "paging" in r.getMessage()] == [
        f"healthz: DEGRADED: paging: nobody reachable for group(s) {other.id},{group.id}: "
        "nobody may be paged until it is fixed"
    ]
    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name, other.name])
    caplog.clear()
    assert [client.get("/healthz").get_json()["paging"] for _ in range(2)] == ["ok", "ok"]
    assert [r.getMessage() for r in caplog.records if "healthz" in r.getMessage()] == [
        "healthz: paging ok again"
    ]


def app_on_redis(runtime, url: str):
    """The web app as a process whose REDIS_URL is `url` builds it (through the composition root)."""
    from dataclasses import replace

    from checkin.bootstrap import Runtime
    from webhooks import create_app

    other = Runtime.build(replace(runtime.settings, redis_url=url), db=runtime.db)
    return create_app(runtime=other)


def test_healthz_degraded_when_redis_unreachable(runtime):
    response = app_on_redis(runtime, "redis://127.0.0.1:9/0").test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["redis"].startswith("unreachable")


def test_the_composition_root_builds_the_health_probe_client(runtime):
    # The probe's client was made lazily inside the web adapter; it is the composition root's now, as
    # every other adapter is: its own short timeouts and no retries, and a forked process makes its own.
    from checkin.adapters.redis import PROBE_SECONDS

    probe = runtime.health_redis
    assert probe is runtime.health_redis and probe is not runtime.redis
    kwargs = probe.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (PROBE_SECONDS, PROBE_SECONDS)
    assert kwargs["retry"].get_retries() == 0
    assert probe.ping()
    runtime.after_fork()
    assert runtime.health_redis is not probe


# --- fail safe ------------------------------------------------------------------------------


def test_a_bug_in_deciding_still_stores_answers_and_pages(twilio, db, member, group, monkeypatch):
    from checkin.directory import add_staff
    from checkin.escalation import service
    from checkin.models import OutboxItem

    with db.session() as s:
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])

    def broken(*args, **kwargs):
        raise RuntimeError("bug in escalation")

    monkeypatch.setattr(service, "handle_verdict", broken)
    answer = replies(twilio.sms(member.phone, "i took all my pills"))
    assert answer and "988" in answer[0] and "911" in answer[0]
    with db.session() as s:
        assert s.scalar(select(Message.body).where(Message.direction == "inbound")) == "i took all my pills"
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
    assert [a.to_number for a in alerts] == ["+12025550160"]
    assert "Sam" in alerts[0].body and "pills" not in alerts[0].body


def test_score_reply_answers_the_open_check_in_prompt(twilio, db, member):
    from datetime import timedelta

    from checkin.checkins import CheckIn
    from checkin.db import utcnow

    with db.session() as session:
        session.add(
            CheckIn(member_id=member.id, prompt_key="prompt:test", prompted_at=utcnow() - timedelta(hours=3))
        )
    replies(twilio.sms(member.phone, "4 good week"))
    with db.session() as session:
        checkin = session.query(CheckIn).filter_by(prompt_key="prompt:test").one()
        assert (checkin.state, checkin.score, checkin.words) == ("answered", 4, "4 good week")


# --- every language, every live text -------------------------------------------------------


def test_spanish_crisis_from_english_member_is_escalated(twilio, db, member, group):
    """Sam's language is English; a cry for help in Spanish (or mixed) must still open a crisis."""
    from checkin.directory import add_staff
    from checkin.escalation.models import Escalation
    from checkin.models import OutboxItem

    with db.session() as s:
        assert s.get(Member, member.id).language == "en"
        add_staff(s, "Dana Fox", "dana@example.org", "facilitator", "+12025550160", [group.name])
    text = "adiós a todos, perdónenme por todo"  # only the Spanish rules see this farewell
    from checkin.rules import assess

    assert assess(text, language="en").level != "crisis"  # what the live path used to see
    answer = replies(twilio.sms(member.phone, text))
    assert answer and "988" in answer[0] and "911" in answer[0]
    with db.session() as s:
        esc = s.scalars(select(Escalation)).one()
        alerts = s.scalars(select(OutboxItem).where(OutboxItem.purpose == "alert")).all()
    assert esc.level == "crisis"
    assert alerts and {a.to_number for a in alerts} == {"+12025550160"}  # the on-call facilitator
    assert all("perdónenme" not in (a.body or "") for a in alerts)


def test_healthz_answers_promptly_when_redis_accepts_and_never_answers(runtime):
    # Found by an outside tester: with Redis frozen (SIGSTOP) the first /healthz took over 30 s. A
    # listening socket that never replies is such a Redis: the probe must give up within seconds.
    import socket
    import threading

    frozen = socket.create_server(("127.0.0.1", 0))
    app = app_on_redis(runtime, f"redis://127.0.0.1:{frozen.getsockname()[1]}/0")
    answer = {}
    asking = threading.Thread(
        target=lambda: answer.setdefault("r", app.test_client().get("/healthz")), daemon=True
    )
    try:
        asking.start()
        asking.join(10)
        assert "r" in answer, "/healthz did not answer within 10 s"
        assert answer["r"].get_json()["status"] == "degraded"
        assert answer["r"].get_json()["redis"].startswith("unreachable")
    finally:
        frozen.close()

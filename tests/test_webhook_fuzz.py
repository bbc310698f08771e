"""Fuzz the Twilio webhooks described in webhooks/openapi.json with signed but malformed forms.

Every request is signed as Twilio would sign it, so it gets past the signature check and reaches the
parsing and the database: fields missing, far too long, with NUL and other control bytes, in any
script, ids past PostgreSQL's integer, numbers spelled as words or superscripts, SIDs with a trailing
newline. What must hold for every one of them:

- never a 5xx;
- a 4xx says why, in one line;
- an accepted text (or call) is stored exactly once under its SID, and the same request again is
  answered without a second row.

`make test` runs 500 examples; `CHECKIN_FUZZ_EXAMPLES=10000` (as `make chaos` sets it) runs more.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from checkin.models import Message
from checkin.voice.models import VoiceCall
from tests.console_helpers import make_staff

from .conftest import FROM_NUMBER, REPO

SPEC = json.loads((REPO / "webhooks" / "openapi.json").read_text())
EXAMPLES = int(os.environ.get("CHECKIN_FUZZ_EXAMPLES") or 500)
MEMBER_PHONE = "+12025550101"
STAFF_PHONE = "+12025550150"


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        node = SPEC
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def valid(schema: dict) -> st.SearchStrategy[str]:
    """A value the schema allows, as Twilio would send it (a form field is always a string)."""
    schema = _resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("type") == "integer":
        low, high = schema.get("minimum", 0), schema.get("maximum", 2**31 - 1)
        return st.one_of(st.integers(low, min(high, low + 5)), st.integers(low, high)).map(str)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if "examples" in schema:
        return st.sampled_from(schema["examples"])
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=min(schema.get("maxLength", 200), 200))


_UNICODE = st.characters(exclude_categories=("Cs",))  # surrogates cannot be encoded by any client
_CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.just("\x7f")
NASTY = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "99999999999",  # past PostgreSQL's integer
            "2147483648",
            "-1",
            "0",
            "1.5",
            "1e9",
            "0x10",
            "\uff11\uff12",  # fullwidth digits: int() takes them, PostgreSQL never sees digits
            "\u00b2",  # superscript two: str.isdigit() says yes, int() says no
            " 1",
            "1 ",
            "true",
            "null",
            "[]",
            "{}",
            "\x00",
            "SM" + "0" * 32 + "\n",
            "CA" + "0" * 32 + "\n",
            "whatsapp:" + FROM_NUMBER,
            "client:" + "a" * 200,
            "sip:" + "b" * 150 + "@example.org",
            "+" + "9" * 40,
        ]
    ),
    st.integers(2, 6000).map(lambda n: "9" * n),
    st.integers(30, 6000).map(lambda n: "A" * n),
    st.text(_CONTROL, min_size=1, max_size=5),
    st.text(_UNICODE, min_size=1, max_size=60),
    st.text(_UNICODE | _CONTROL, min_size=1, max_size=60),
)


def value(schema: dict) -> st.SearchStrategy[str]:
    """Mostly valid (so requests get past the first field), else malformed, else valid with a twist."""
    good = valid(schema)
    twisted = st.tuples(good, st.sampled_from(["\n", "\x00", "\x1b", " ", "\u200b", "\ufeff", "9" * 12])).map(
        lambda pair: pair[0] + pair[1]
    )
    return st.one_of(good, good, NASTY, twisted)


def _form_schema(operation: dict) -> dict:
    body = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
    return _resolve(body["schema"]) if body else {"properties": {}}


@st.composite
def request_for(draw, path: str, operation: dict):
    """One request to `operation`: every part valid or missing, then none, one or a few broken."""
    params = operation.get("parameters", [])
    fields = _form_schema(operation).get("properties", {})
    names = [("param", p["name"]) for p in params] + [("form", name) for name in fields]
    broken = set(draw(st.lists(st.sampled_from(names), max_size=3, unique=True))) if names else set()
    if not draw(st.integers(0, 3)):
        broken = set()  # a quarter of the requests are well formed, so the storing paths run too

    def part(kind, name, schema):
        return draw(value(schema) if (kind, name) in broken else valid(schema))

    url_path, query = path, {}
    for param in params:
        raw = part("param", param["name"], param["schema"])
        if param["in"] == "path":
            url_path = url_path.replace("{" + param["name"] + "}", quote(raw, safe="") or "x")
        elif param.get("required") or draw(st.booleans()):
            query[param["name"]] = raw
    form = {}
    for name, field in fields.items():
        if ("form", name) not in broken and draw(st.integers(0, 9)) == 0:
            continue  # an optional field Twilio left out (or a required one: a 400 naming it)
        form[name] = part("form", name, field)
    if draw(st.integers(0, 19)) == 0:
        form[draw(st.text(_UNICODE | _CONTROL, min_size=1, max_size=20))] = draw(
            NASTY
        )  # a field nobody reads
    full = url_path + ("?" + urlencode(query) if query else "")
    return path, full, form


OPERATIONS = [(path, op) for path, ops in SPEC["paths"].items() for op in ops.values()]
REQUESTS = st.one_of([request_for(path, op) for path, op in OPERATIONS])


@pytest.fixture
def known(db, member, twilio):
    """A member, a facilitator on call and an open crisis escalation (id 1), so that ids 1-5 in the
    fuzz name real rows as often as not."""
    from checkin.directory import add_member

    make_staff(db, "Fay Fac", "fay@example.org", "facilitator", groups=["Tuesday Group"], phone=STAFF_PHONE)
    with db.session() as s:
        add_member(s, "Tuesday Group", "+12025550103", "Val Voice", channel="voice")
    assert twilio.sms(MEMBER_PHONE, "I am going to kill myself tonight").status_code == 200


def _count(db, model, column, sid) -> int:
    if "\x00" in sid:  # PostgreSQL text cannot hold a NUL: no stored row has it, and the query would fail
        return 0
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(column == sid))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written under the work tree; a failure prints its example to replay
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(request=REQUESTS)
def test_signed_malformed_webhooks_get_a_reason_or_are_stored_once(twilio, db, known, request):
    template, url, form = request
    calls_before = _count(db, VoiceCall, VoiceCall.call_sid, form.get("CallSid") or "")
    response = twilio.post(url, form)
    text = response.get_data(as_text=True)
    event(f"{template} {response.status_code}")  # --hypothesis-show-statistics: what the fuzz reached
    assert response.status_code < 500, f"{response.status_code} for {template}: {text[:300]}"
    if response.status_code >= 400:
        assert response.status_code in (400, 404, 405, 413), f"{response.status_code} for {template}"
        assert text.strip() and text.count("\n") <= 1, f"no one-line reason for {template}: {text[:300]}"
        return
    if template == "/twilio/sms":
        sid = form["MessageSid"]
        assert _count(db, Message, Message.provider_sid, sid) == 1
        again = twilio.post(url, form)  # Twilio retrying the same text
        assert again.status_code == 200
        assert _count(db, Message, Message.provider_sid, sid) == 1
    elif template in ("/twilio/voice", "/twilio/voice/outbound") or (
        template == "/twilio/voice/{step}" and response.status_code == 200
    ):
        sid = form["CallSid"]
        assert re.fullmatch(r"CA[0-9a-fA-F]{32}", sid)
        if template == "/twilio/voice" and "not set up for Checkin" in text:  # To is none of our numbers
            assert form.get("To") != FROM_NUMBER
            assert _count(db, VoiceCall, VoiceCall.call_sid, sid) == calls_before  # nothing stored
            return
        assert _count(db, VoiceCall, VoiceCall.call_sid, sid) == 1

"""Twilio's side of a call: the walker posts the voice webhooks, reads the TwiML back and follows it - a
<Gather> gets the next key or words, <Record> a recording, <Dial> the ringing's outcome,
<Redirect> is followed - until the call hangs up or the TwiML ends.

`checkin simulate call` walks a call against the running server (`http_post`, signed as Twilio
signs); the console's call simulator walks it in-process, on a rolled-back transaction
(webhooks.console.call_simulator); tests drive the same walker.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from webhooks.simulate import sign

FAKE_RECORDING = "https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/RE{sid}"


def call_params(
    call_sid: str, from_: str, to: str, account_sid: str | None, direction: str = "inbound", **extra: str
) -> dict[str, str]:
    params = {
        "CallSid": call_sid,
        "AccountSid": account_sid or "AC" + "0" * 32,
        "From": from_,
        "To": to,
        "Caller": from_,
        "Called": to,
        "CallStatus": "in-progress",
        "Direction": direction,
        "ApiVersion": "2010-04-01",
    }
    params.update({k: v for k, v in extra.items() if v is not None})
    return params


@dataclass
class Step:
    """One TwiML answer: what the caller hears, and the verbs to follow."""

    root: ET.Element
    path: str

    @property
    def said(self) -> list[str]:
        return [(el.text or "").strip() for el in self.root.iter("Say")]

    @property
    def heard_first(self) -> list[str]:
        return [(el.text or "").strip() for el in self.says_first]

    @property
    def says_first(self) -> list[ET.Element]:
        """The <Say>s heard before the caller is asked for something: up to and inside the first
        <Gather>, or up to a <Record>/<Dial> (what follows those plays only if nothing was given)."""
        out = []
        for el in self.root:
            if el.tag == "Say":
                out.append(el)
            elif el.tag == "Gather":
                out += list(el.iter("Say"))
                break
            elif el.tag in ("Record", "Dial", "Redirect", "Hangup"):
                break
        return out

    @property
    def text(self) -> str:
        return " ".join(self.said)

    def find(self, verb: str) -> ET.Element | None:
        return self.root.find(verb)

    @property
    def hung_up(self) -> bool:
        return self.root.find("Hangup") is not None and not any(
            self.root.find(v) is not None for v in ("Gather", "Record", "Dial")
        )


@dataclass
class CallWalker:
    """A caller on one call. `post(path, params)` returns the TwiML text the server answered."""

    post: Callable[[str, dict], str]
    public_base: str
    from_: str
    to: str
    account_sid: str | None = None
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    direction: str = "inbound"
    heard: list[Step] = field(default_factory=list)
    current: Step | None = None
    last_record: ET.Element | None = None
    last_recording_url: str = ""

    def _go(self, url: str, **extra) -> Step:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        params = call_params(self.call_sid, self.from_, self.to, self.account_sid, self.direction, **extra)
        step = Step(ET.fromstring(self.post(path, params)), path)
        self.heard.append(step)
        self.current = step
        return step

    def resume(self, twiml: str, path: str = "") -> Step:
        """Carry on from TwiML fetched some other way (e.g. the fake Twilio answering an outbound call)."""
        self.current = Step(ET.fromstring(twiml), path)
        self.heard.append(self.current)
        return self.current

    def start(self, path: str = "/twilio/voice", **extra) -> Step:
        return self._go(self.public_base + path, **extra)

    def _action(self, verb: str) -> str:
        el = self.current.find(verb) if self.current is not None else None
        if el is None:
            raise AssertionError(
                f"the caller is not at a <{verb}>: {self.current and ET.tostring(self.current.root)!r}"
            )
        return el.get("action")

    def press(self, digits: str) -> Step:
        return self._go(self._action("Gather"), Digits=digits)

    def say(self, words: str) -> Step:
        return self._go(self._action("Gather"), SpeechResult=words, Confidence="0.9")

    def silence(self) -> Step:
        """Nothing pressed: Twilio carries on with the verbs after the Gather (our Redirect, or e.g.
        help now's <Dial> to the crisis line)."""
        self._action("Gather")
        if self.current.find("Redirect") is not None:
            return self.redirect()
        verbs = list(self.current.root)
        rest = ET.Element("Response")
        rest.extend(verbs[verbs.index(self.current.find("Gather")) + 1 :])
        return self.resume(ET.tostring(rest, encoding="unicode"), self.current.path)

    def redirect(self) -> Step:
        """Follow the <Redirect> that ends the current TwiML."""
        return self._go(self.current.find("Redirect").text.strip())

    def record(self, seconds: int = 8, recording_url: str | None = None, audio: bool = True) -> Step:
        """The caller records and presses #. Without `audio` (the console's simulator cannot record)
        the action comes without a RecordingUrl: the step goes on as after a recording, keeping none."""
        self.last_record = self.current.find("Record")
        if not audio:
            self.last_recording_url = ""
            return self._go(self._action("Record"), Digits="#")
        url = recording_url or FAKE_RECORDING.format(
            account=self.account_sid or "AC" + "0" * 32, sid=uuid.uuid4().hex
        )
        self.last_recording_url = url
        return self._go(self._action("Record"), RecordingUrl=url, RecordingDuration=str(seconds), Digits="#")

    def transcription(self, text: str) -> str:
        """Twilio's transcription callback for the last recording (after the call); returns the raw answer."""
        callback = self.last_record.get("transcribeCallback") if self.last_record is not None else None
        if not callback:
            raise AssertionError("the last <Record> asked for no transcription")
        parts = urlsplit(callback)
        params = call_params(
            self.call_sid,
            self.from_,
            self.to,
            self.account_sid,
            self.direction,
            TranscriptionText=text,
            TranscriptionStatus="completed",
            RecordingUrl=self.last_recording_url,
            RecordingSid="RE" + uuid.uuid4().hex,
            TranscriptionSid="TR" + uuid.uuid4().hex,
        )
        return self.post(parts.path + f"?{parts.query}", params)

    def hang_up(self) -> None:
        """The call is over: Twilio posts the final status to the number's status callback."""
        params = call_params(
            self.call_sid, self.from_, self.to, self.account_sid, self.direction, CallStatus="completed"
        )
        self.post("/twilio/voice/status", params)

    def dial_result(self, status: str = "no-answer") -> Step:
        return self._go(self._action("Dial"), DialCallStatus=status)

    def dialled(self) -> str | None:
        dial = self.current.find("Dial") if self.current is not None else None
        return dial.findtext("Number") if dial is not None else None


def walk(
    walker: CallWalker,
    inputs: list[str],
    dial_status: str,
    echo: Callable[[str], None],
    start_path: str = "/twilio/voice",
) -> None:
    """Follow the call, answering each <Gather> with the next input, until it ends or inputs run out."""
    step = walker.start(start_path)
    pending = list(inputs)
    while True:
        for line in step.heard_first:
            echo(f"  caller hears: {line}")
        if step.hung_up or not any(
            step.find(v) is not None for v in ("Gather", "Record", "Dial", "Redirect")
        ):
            echo("  (call ends)")
            return
        # The first verb that waits for the caller or the network, in the order Twilio plays them.
        verb = next(el.tag for el in step.root if el.tag in ("Gather", "Record", "Dial", "Redirect"))
        if verb == "Dial":
            echo(f"  (ringing {step.find('Dial').findtext('Number')}: {dial_status})")
            step = walker.dial_result(dial_status)
        elif verb == "Record":
            token = pending.pop(0) if pending else None
            if token is None:
                echo("  (no inputs left: caller hangs up)")
                return
            echo("  > records a message, presses #")
            step = walker.record()
        elif verb == "Gather":
            if not pending:
                echo("  (no inputs left: caller hangs up)")
                return
            token = pending.pop(0)
            if token.startswith("say:"):
                echo(f"  > says: {token[4:]}")
                step = walker.say(token[4:])
            elif token in ("", "-"):
                echo("  > (silence)")
                step = walker.silence()
            else:
                echo(f"  > presses {token}")
                step = walker.press(token)
        else:
            step = walker.redirect()


def http_post(settings, server_url: str | None, timeout: float = 15) -> Callable[[str, dict], str]:
    """Signed POSTs to the running service, addressed as Twilio would (PUBLIC_BASE_URL)."""

    def post(path: str, params: dict) -> str:
        public = settings.public_base_url + path
        target = (server_url.rstrip("/") + path) if server_url else public
        request = Request(
            target,
            data=urlencode(params).encode(),
            method="POST",
            headers={
                "X-Twilio-Signature": sign(settings.twilio_auth_token, public, params),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        with urlopen(request, timeout=timeout) as response:
            return response.read().decode()

    return post

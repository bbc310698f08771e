"""Every log line the suite produces is scanned for the test phone numbers and the bodies a test sent.

Logs carry ids, never message bodies or phone numbers (README, *Privacy*). This plugin proves it for
the whole suite, cheaply:

- a handler on the root logger (at INFO, the level the web, worker and cron processes log at) keeps
  each record's text for the current test (message, arguments and traceback);
- the stderr of subprocesses a test already collects (`subprocess.run(..., capture_output=True)` or
  `stderr=PIPE` read with `communicate()`) is scanned too, and so is any text handed to `scan_output`
  (the fault harness hands it the logs of the processes it runs);
- at the end of the test the texts are searched for the people's numbers the suite uses (`+1202555xxxx`,
  also without `+1` or with separators) and for each body the test sent in (Body, SpeechResult,
  TranscriptionText of the signed webhooks) or got out (what the loopback Twilio was asked to send), of
  two words and 8 characters or more (a single word is a keyword the logs may name, `source=keyword:STOP`);
  a hit fails the test, naming the logger and the line.

The group's own sending numbers (`+1500555xxxx`) are the service's, not a person's, and may be logged.

A line that names a member (`member=12`, `member_id=12`, `member 12`) must not also carry a rule id
(`si.kill_self`, `psychosis.command`, `voice.phq9_item9`, ...): the rule ids say what the member wrote
(issue 17). Every rule id of the default rule set and the classifier, and the ones the code adds, is looked for.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading

import pytest

PERSON_PHONE = re.compile(r"(?<![0-9])(?:\+?1[-. ]?)?\(?202\)?[-. ]?555[-. ]?[0-9]{4}(?![0-9])")
MIN_BODY = 8  # "hello", "1", "yes" are everywhere; a sentence is not
MEMBER_ID = re.compile(r"\bmember(?:_id)?\s*[=:#]?\s*#?[0-9]+\b", re.IGNORECASE)
# Rule ids the code adds beside the rule files' and the classifier's.
CODE_RULE_IDS = (
    "engine.error",
    "keyword.help",
    "history.drop",
    "history.missed_3",
    "history.score_1",
    "history.two_lowest",
    "voice.help_request",
    "voice.no_facilitator_answered",
    "voice.phq9_item9",
)
_rule_pattern: re.Pattern | None = None


def rule_id_pattern() -> re.Pattern:
    """One regex for every rule id, as a whole token (not part of a file name or a longer id)."""
    global _rule_pattern
    if _rule_pattern is None:
        from checkin.rules import classifier, default_ruleset

        rules = default_ruleset()
        ids = {r.id for r in rules.rules} | {c.id for c in rules.combines} | set(classifier.REASONS)
        ids |= set(CODE_RULE_IDS)
        alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
        _rule_pattern = re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w.])")
    return _rule_pattern


def rule_id_beside_member(text: str) -> str | None:
    """The first line of `text` that names both a member and a rule id, or None."""
    if not MEMBER_ID.search(text):
        return None
    pattern = rule_id_pattern()
    for line in text.splitlines():
        if MEMBER_ID.search(line) and pattern.search(line):
            return line
    return None


class _Scanner(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._lock = threading.Lock()
        self.texts: list[tuple[str, str]] = []
        self.bodies: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg!r} {record.args!r}"
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + record.exc_text
        with self._lock:
            self.texts.append((record.name, text))

    def add_text(self, source: str, text: str | bytes | None) -> None:
        if not text:
            return
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        with self._lock:
            self.texts.append((source, text))

    def add_body(self, body: str | None) -> None:
        # A single word ("UNSUBSCRIBE", "yes") is a keyword the logs may name; words are a person's.
        if body and len(body.strip()) >= MIN_BODY and len(body.split()) > 1:
            with self._lock:
                self.bodies.add(body.strip())

    def begin(self) -> None:
        with self._lock:
            self.texts, self.bodies = [], set()

    def leaks(self) -> list[str]:
        with self._lock:
            texts, bodies = list(self.texts), list(self.bodies)
        found = []
        for source, text in texts:
            what = None
            match = PERSON_PHONE.search(text)
            beside = None
            if match:
                what = f"phone number {match.group(0)!r}"
            else:
                body = next((b for b in bodies if b in text), None)
                if body is not None:
                    what = f"message body {body[:40]!r}"
                else:
                    beside = rule_id_beside_member(text)
                    if beside is not None:
                        what = "a rule id next to a member id"
            if what:
                line = beside or next(
                    (ln for ln in text.splitlines() if (match and match.group(0) in ln)), text
                )
                found.append(f"{source}: {what} in: {line[:200]}")
        return found


SCANNER = _Scanner()


def scan_output(source: str, text: str | bytes | None) -> None:
    """Scan `text` (a process's log output) with the current test's records."""
    SCANNER.add_text(source, text)


def sent_body(body: str | None) -> None:
    """A body this test sent or had sent: it must not appear in any log line."""
    SCANNER.add_body(body)


# --- subprocesses whose stderr the suite already collects ---------------------------------------

_run = subprocess.run
_communicate = subprocess.Popen.communicate


def _scanned_run(*args, **kwargs):
    result = _run(*args, **kwargs)
    collected = kwargs.get("capture_output") or kwargs.get("stderr") == subprocess.PIPE
    if collected and kwargs.get("stderr") != subprocess.STDOUT:
        scan_output(f"stderr of {_name(args, kwargs)}", result.stderr)
    return result


def _scanned_communicate(self, *args, **kwargs):
    out, err = _communicate(self, *args, **kwargs)
    scan_output(f"stderr of {_name((self.args,), {})}", err)
    return out, err


# --- bodies posted through Flask's test client (the signed webhooks, the call simulator) ----------

FREE_TEXT = ("Body", "SpeechResult", "TranscriptionText")
_open = None


def _noting_open(self, *args, **kwargs):
    data = kwargs.get("data")
    if isinstance(data, dict):
        for field in FREE_TEXT:
            value = data.get(field)
            sent_body(value if isinstance(value, str) else None)
    return _open(self, *args, **kwargs)


def _name(args, kwargs) -> str:
    cmd = args[0] if args else kwargs.get("args")
    if isinstance(cmd, list | tuple):
        return " ".join(str(part) for part in cmd[:3])
    return str(cmd)[:60]


# --- the plugin ------------------------------------------------------------------------------------


def pytest_configure(config):
    root = logging.getLogger()
    root.addHandler(SCANNER)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)  # what the processes log in production, so what must be clean
    subprocess.run = _scanned_run
    subprocess.Popen.communicate = _scanned_communicate
    global _open
    from flask.testing import FlaskClient

    _open = FlaskClient.open
    FlaskClient.open = _noting_open


def pytest_unconfigure(config):
    logging.getLogger().removeHandler(SCANNER)
    subprocess.run = _run
    subprocess.Popen.communicate = _communicate
    if _open is not None:
        from flask.testing import FlaskClient

        FlaskClient.open = _open


@pytest.fixture(autouse=True)
def _no_phone_numbers_or_bodies_in_logs():
    SCANNER.begin()
    yield
    leaks = SCANNER.leaks()
    if leaks:
        pytest.fail(
            "logs must carry ids, never phone numbers, bodies or rule ids tied to a member:\n  "
            + "\n  ".join(leaks[:10]),
            pytrace=False,
        )

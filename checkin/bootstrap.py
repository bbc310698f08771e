"""The composition root: the one place that builds what a process works with.

Web app, RQ worker, cron, CLI and tests all call `Runtime.build(settings)`: settings (every
environment variable is read in config/settings.py, nowhere else), the database with its unit of
work's dispatcher, Redis, the messaging port, the pacer, the escalation context, and the rules every
send passes at send time (`send_rules`: gates and outcome hooks, listed here, explicitly). Nothing
registers itself when imported.

This module and checkin.adapters are the only parts of checkin/ allowed to know Redis, RQ or Twilio
(see the import contract in pyproject.toml).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

from checkin import accounts, consent, crypto, intake, outbox, pacing, welcome
from checkin.announcements import service as announcements
from checkin.db import Database
from checkin.escalation import policy as policy_module
from checkin.escalation import service as escalation
from checkin.messaging import MessagingPort
from checkin.retention.provider import NoProviderData, ProviderData
from checkin.schedules import late, tick
from checkin.spool import Spool
from checkin.unit_of_work import Dispatcher
from checkin.voice import config as voice_config
from checkin.voice import outbound as voice_outbound
from config import Settings, load_settings

log = logging.getLogger("checkin.bootstrap")


def build_port(settings: Settings) -> MessagingPort:
    """Twilio's REST API (checkin.adapters.twilio_rest), or the console backend in development (a file of
    its own in the instance folder: never the process's output, so never a service log)."""
    if settings.messaging_backend == "twilio":
        from checkin.adapters.twilio_rest import TwilioPort

        return TwilioPort(settings)
    from checkin.messaging.console import FILE_NAME, ConsolePort

    return ConsolePort(settings.instance_path / FILE_NAME)


def send_rules(ctx: escalation.Context, voice: voice_config.VoiceConfig) -> outbox.SendRules:
    """What every outbox row passes before it goes out, and what its outcome sets off.

    Consent and pacing are applied by `outbox.deliver` itself, to every channel. Quiet hours (and a
    reminder for a meeting already begun; an announcement's member's night) are gates for every channel too: a channel added later is
    held at night without anyone remembering to say so. Only what is particular to one channel is
    listed per channel."""
    return outbox.SendRules(
        gates=(late.send_gate, announcements.send_gate, welcome.send_gate, intake.reply_gate),
        channel_gates={outbox.Channel.VOICE: (partial(voice_outbound.call_gate, cfg=voice),)},
        hooks={escalation.ALERT_PURPOSE: (partial(escalation.on_alert_outcome, ctx=ctx),)},
        call_hooks=(voice_outbound.on_call_status,),
    )


@dataclass
class Runtime:
    settings: Settings
    db: Database
    port: MessagingPort
    escalation: escalation.Context = None  # type: ignore[assignment]
    voice: voice_config.VoiceConfig = None  # type: ignore[assignment]
    rules: outbox.SendRules = None  # type: ignore[assignment]
    # Asks for a decision on a routine text the SMS webhook stored undecided (checkin.intake): an RQ
    # job in production; tests decide (and deliver the reply) in process.
    decide_later: Callable[[int], None] = None  # type: ignore[assignment]
    _redis: object | None = field(default=None, repr=False)
    _health_redis: object | None = field(default=None, repr=False)
    _pacer: pacing.Pacer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.escalation is None:
            self.escalation = escalation.Context(self.settings.public_base_url, policy_module.load())
        if self.voice is None:
            self.voice = voice_config.load(self.settings.max_concurrent_calls, self.settings.crisis_line)
        if self.rules is None:
            self.rules = send_rules(self.escalation, self.voice)
        if self.decide_later is None:
            from checkin.adapters.rq_dispatch import CoalescedDecider

            self.decide_later = CoalescedDecider(self)

    @classmethod
    def build(
        cls,
        settings: Settings | None = None,
        *,
        port: MessagingPort | None = None,
        dispatcher: Dispatcher | None = None,
        db: Database | None = None,
        decide_later: Callable[[int], None] | None = None,
    ) -> Runtime:
        """Everything a process needs, from `settings` (the environment when None). Effects that units
        of work commit go to `dispatcher`, RQ unless told otherwise. `db`: an existing engine (tests
        share one per worker process)."""
        settings = settings or load_settings()
        runtime = cls(
            settings=settings, db=db or Database(settings.database_url), port=port or build_port(settings)
        )
        crypto.install(runtime.db.engine, settings.encryption_keys)
        if dispatcher is None:
            from checkin.adapters.rq_dispatch import RqDispatcher

            dispatcher = RqDispatcher(runtime)
        runtime.db.dispatch_to(dispatcher)
        if decide_later is not None:
            runtime.decide_later = decide_later
        return runtime

    from_settings = build  # the name the tests and older callers use

    def reconfigure(
        self,
        *,
        escalation_context: escalation.Context | None = None,
        voice: voice_config.VoiceConfig | None = None,
    ) -> None:
        """Use another escalation policy or voice configuration (tests), and the send rules made from them."""
        self.escalation = escalation_context or self.escalation
        self.voice = voice or self.voice
        self.rules = send_rules(self.escalation, self.voice)

    @property
    def redis(self):
        if self._redis is None:
            from checkin.adapters.redis import connect

            self._redis = connect(self.settings.redis_url)
        return self._redis

    @property
    def health_redis(self):
        """The same Redis for the health page only (checkin.adapters.redis.connect_probe): its own short
        timeouts and no retries, so a frozen Redis reads as unreachable within seconds."""
        if self._health_redis is None:
            from checkin.adapters.redis import connect_probe

            self._health_redis = connect_probe(self.settings.redis_url)
        return self._health_redis

    @property
    def pacer(self) -> pacing.Pacer:
        """Rates from the settings, buckets in the shared Redis (every worker agrees on each number's pace).

        Alerts are not paced behind reminders: they have their own queue, which every worker takes first,
        and the pacer lets an alert go at once (it books a slot, so the reminders after it make room)."""
        if self._pacer is None:
            settings = self.settings
            sender = settings.twilio_from_number or settings.twilio_messaging_service_sid or "default"
            from checkin.adapters.redis_pacer import RedisPacer

            self._pacer = RedisPacer(lambda: self.redis, settings.send_rates, default_sender=sender)
        return self._pacer

    @cached_property
    def opted_out(self) -> consent.OptedOutNumbers:
        """Who had opted out when last read: what a text answered without the database may not ignore."""
        return consent.OptedOutNumbers()

    @cached_property
    def spool(self) -> Spool:
        """Where a signed request that could not be stored waits (checkin.spool; a local directory)."""
        from checkin.adapters.file_spool import FileSpool

        return FileSpool(self.settings.spool_path, crypto.cipher(self.db.engine.dialect))

    @cached_property
    def provider_data(self) -> ProviderData:
        """What the messaging provider keeps of members' data, for retention to delete (Twilio's REST
        API; nothing with the console backend)."""
        if self.settings.messaging_backend != "twilio":
            return NoProviderData()
        from checkin.adapters.twilio_cleanup import TwilioDataCleanup

        return TwilioDataCleanup(self.settings)

    @cached_property
    def signin_throttle(self) -> accounts.SignInThrottle:
        """The console's failed sign-in counters, in the shared Redis (every web process agrees)."""
        from checkin.adapters.redis_throttle import RedisSignInThrottle

        return RedisSignInThrottle(lambda: self.redis)

    @cached_property
    def bulk_outbox_insert(self) -> tick.BulkInsert | None:
        """How the planning tick writes many outbox rows: COPY on PostgreSQL, plain INSERTs elsewhere."""
        if self.db.engine.dialect.name != "postgresql":
            return None
        from checkin.adapters.pg_bulk import start_insert_outbox

        return start_insert_outbox

    @cached_property
    def intake_insert(self) -> intake.Insert | None:
        """How the SMS webhook stores a routine text: through the driver on PostgreSQL, Core elsewhere."""
        if self.db.engine.dialect.name != "postgresql":
            return None
        from checkin.adapters.pg_intake import insert_text

        return insert_text

    @cached_property
    def status_callback_url(self) -> str:
        return f"{self.settings.public_base_url}/twilio/status"

    def after_fork(self) -> None:
        """In a forked RQ work horse: keep what the parent built (settings, keys, port, policy), but never
        share its sockets. dispose(close=False) leaves the parent's pool alone."""
        self.db.forget_connections()
        self._redis = self._health_redis = None

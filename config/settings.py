"""Settings from the environment, validated once at start-up.

Every problem is collected and reported together, so an operator fixes the whole
environment in one go instead of meeting errors one restart at a time.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cryptography.fernet import Fernet

if TYPE_CHECKING:
    from checkin.pacing import Rates
    from checkin.retention.policy import Periods

TWILIO_API_DEFAULT = "https://api.twilio.com"
MODES = ("development", "test", "production")
BACKENDS = ("console", "twilio")


class ConfigError(Exception):
    """One or more settings are missing or malformed."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = [f"  {key}: {reason}" for key, reason in problems]
        super().__init__("invalid configuration:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Settings:
    mode: str
    instance_path: Path
    database_url: str
    redis_url: str
    redis_is_embedded: bool
    secret_key: str
    encryption_keys: tuple[str, ...]
    public_base_url: str
    host: str
    port: int
    messaging_backend: str
    twilio_account_sid: str | None
    twilio_auth_token: str
    twilio_from_number: str | None
    twilio_messaging_service_sid: str | None
    twilio_api_base_url: str
    outbox_lease_seconds: int = 120
    sweep_interval_seconds: int = 15
    escalation_tick_seconds: int = 15
    schedule_tick_seconds: int = 60
    cron_lease_seconds: int = 20
    # The Procfile's `rq worker --worker-ttl` (an idle worker beats every ttl - 15 s); /healthz counts a
    # worker gone after two of these without a beat. Both read CHECKIN_WORKER_TTL, so they cannot disagree.
    worker_ttl_seconds: int = 30
    send_rates: Rates = field(default_factory=lambda: _default_rates())
    max_concurrent_calls: int | None = None  # None: config/voice.toml's calls.max_concurrent
    crisis_line: str | None = None  # None: config/voice.toml's crisis_line.number (checked there)
    spool_dir: Path | None = None  # None: instance/spool (see `spool_path`)
    spool_replay_seconds: int = 10  # 0: no automatic replay in the web process (`checkin spool replay` only)
    # How long each kind of member data is kept: config/retention.toml, CHECKIN_RETENTION_<KIND>.
    retention: Periods = field(default_factory=lambda: _default_periods())
    # Staff accounts: coordinators must set up an authenticator app (CHECKIN_REQUIRE_2FA=1), and how long
    # an invitation or password-reset link works (CHECKIN_INVITE_HOURS).
    require_2fa: bool = False
    invite_hours: int = 72
    # The organisation's time zone (CHECKIN_TIMEZONE, a city or IANA name): the console's times for a
    # staff member in no group (the audit log, a coordinator's pages); None: the first group's, else UTC.
    timezone: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def spool_path(self) -> Path:
        """Where a signed request that could not be stored waits to be replayed (a local disk that outlives
        the process: see README, *Intake that cannot lose a signed text*)."""
        return self.spool_dir or self.instance_path / "spool"

    @property
    def embedded_redis_socket(self) -> Path:
        return self.instance_path / "valkey" / "valkey.sock"


def _default_rates():
    from checkin.pacing import Rates

    return Rates()


def _default_periods():
    from checkin.retention.policy import Periods

    return Periods()


def default_instance_path() -> Path:
    return Path(os.environ.get("CHECKIN_INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def _dev_secret(instance: Path, name: str, make) -> str:
    """A development secret kept under instance/, created on first use."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = make()
    # Written exclusively so two processes starting together agree on one value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def _check_url(problems, key, value, schemes):
    parts = urlsplit(value)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        problems.append((key, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"))


def load_settings(environ: Mapping[str, str] | None = None, instance_path: Path | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    instance = Path(instance_path or env.get("CHECKIN_INSTANCE_PATH") or default_instance_path()).resolve()
    problems: list[tuple[str, str]] = []

    def get(key: str) -> str | None:
        value = env.get(key)
        return value.strip() if value and value.strip() else None

    mode = get("CHECKIN_ENV") or "development"
    if mode not in MODES:
        problems.append(("CHECKIN_ENV", f"must be one of {', '.join(MODES)}, not {mode!r}"))
        mode = "production"  # judge the rest by the strictest rules
    prod = mode == "production"

    def required_in_prod(key: str, dev_default):
        value = get(key)
        if value is None:
            if prod:
                problems.append((key, "is required in production (no development default)"))
                return None
            return dev_default() if callable(dev_default) else dev_default
        return value

    database_url = required_in_prod("DATABASE_URL", lambda: f"sqlite:///{instance / 'checkin.sqlite3'}")
    if database_url:
        if database_url.startswith("postgres://"):  # Heroku-style URLs
            database_url = "postgresql+psycopg://" + database_url[len("postgres://") :]
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]
        try:
            from sqlalchemy.engine import make_url

            url = make_url(database_url)
            if url.get_backend_name() not in ("sqlite", "postgresql"):
                problems.append(("DATABASE_URL", "must be a sqlite:// or postgresql:// URL"))
        except Exception:
            problems.append(("DATABASE_URL", "is not a database URL (e.g. postgresql://user@host/db)"))

    redis_url = get("REDIS_URL")
    redis_is_embedded = redis_url is None
    if redis_url is None:
        if prod:
            problems.append(("REDIS_URL", "is required in production (no embedded Valkey)"))
        redis_url = f"unix://{instance / 'valkey' / 'valkey.sock'}"
    else:
        _check_url(problems, "REDIS_URL", redis_url, ("redis", "rediss", "unix"))

    secret_key = required_in_prod(
        "SECRET_KEY", lambda: _dev_secret(instance, "secret_key", lambda: secrets.token_urlsafe(32))
    )
    if secret_key and prod and len(secret_key) < 32:
        problems.append(("SECRET_KEY", "must be at least 32 characters in production"))

    raw_keys = required_in_prod(
        "CHECKIN_ENCRYPTION_KEY",
        lambda: _dev_secret(instance, "encryption.key", lambda: Fernet.generate_key().decode()),
    )
    encryption_keys: tuple[str, ...] = ()
    if raw_keys:
        # Comma-separated: the first key encrypts, all of them decrypt (rotation).
        encryption_keys = tuple(k.strip() for k in raw_keys.split(",") if k.strip())
        for index, key in enumerate(encryption_keys):
            try:
                Fernet(key)
            except Exception:
                problems.append(
                    (
                        "CHECKIN_ENCRYPTION_KEY",
                        f"key #{index + 1} is not a Fernet key (32 url-safe base64 bytes)",
                    )
                )

    host = get("HOST") or "127.0.0.1"
    port_raw = get("PORT") or "5000"
    port = 5000
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        problems.append(("PORT", f"must be a port number 1-65535, not {port_raw!r}"))
    else:
        port = int(port_raw)

    public_base_url = required_in_prod("PUBLIC_BASE_URL", f"http://{host}:{port}")
    if public_base_url:
        _check_url(problems, "PUBLIC_BASE_URL", public_base_url, ("http", "https"))
        public_base_url = public_base_url.rstrip("/")
        if prod and public_base_url.startswith("http://"):
            problems.append(
                ("PUBLIC_BASE_URL", "must be https:// in production (Twilio signs the URL it calls)")
            )

    backend = get("MESSAGING_BACKEND") or "console"
    if backend not in BACKENDS:
        problems.append(("MESSAGING_BACKEND", f"must be one of {', '.join(BACKENDS)}, not {backend!r}"))
    elif prod and backend == "console":
        problems.append(
            ("MESSAGING_BACKEND", "is 'console' (the development default); production needs 'twilio'")
        )

    account_sid = get("TWILIO_ACCOUNT_SID")
    auth_token = get("TWILIO_AUTH_TOKEN")
    from_number = get("TWILIO_FROM_NUMBER")
    service_sid = get("TWILIO_MESSAGING_SERVICE_SID")
    if account_sid and not re.fullmatch(r"AC[0-9a-f]{32}", account_sid):
        problems.append(("TWILIO_ACCOUNT_SID", "must be 'AC' followed by 32 hex digits"))
    if service_sid and not re.fullmatch(r"MG[0-9a-f]{32}", service_sid):
        problems.append(("TWILIO_MESSAGING_SERVICE_SID", "must be 'MG' followed by 32 hex digits"))
    if from_number:
        from checkin.phones import InvalidPhone, normalize_phone

        try:
            from_number = normalize_phone(from_number)
        except InvalidPhone as exc:
            problems.append(("TWILIO_FROM_NUMBER", str(exc)))
    if backend == "twilio":
        if not account_sid:
            problems.append(("TWILIO_ACCOUNT_SID", "is required when MESSAGING_BACKEND=twilio"))
        if not auth_token:
            problems.append(("TWILIO_AUTH_TOKEN", "is required when MESSAGING_BACKEND=twilio"))
        if not (from_number or service_sid):
            problems.append(
                (
                    "TWILIO_FROM_NUMBER",
                    "or TWILIO_MESSAGING_SERVICE_SID is required when MESSAGING_BACKEND=twilio",
                )
            )
    if not auth_token:
        if prod:
            problems.append(("TWILIO_AUTH_TOKEN", "is required in production (webhooks are always signed)"))
        else:
            # Webhooks are verified in every mode; in development a local token signs them.
            auth_token = _dev_secret(instance, "twilio_dev_token", lambda: secrets.token_hex(16))

    api_base = (get("TWILIO_API_BASE_URL") or TWILIO_API_DEFAULT).rstrip("/")
    _check_url(problems, "TWILIO_API_BASE_URL", api_base, ("http", "https"))

    def positive_int(key: str, default: int) -> int:
        raw = get(key)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) <= 0:
            problems.append((key, f"must be a positive whole number, not {raw!r}"))
            return default
        return int(raw)

    lease = positive_int("CHECKIN_OUTBOX_LEASE_SECONDS", 120)
    sweep = positive_int("CHECKIN_SWEEP_INTERVAL_SECONDS", 15)
    escalation_tick = positive_int("CHECKIN_ESCALATION_TICK_SECONDS", 15)
    schedule_tick = positive_int("CHECKIN_SCHEDULE_TICK_SECONDS", 60)
    # The cron lease: a dead holder is replaced within 2.25 leases (expiry, a follower's poll, then one
    # lease of waiting so that the old holder's own clock has run out), so 25 s keeps that under a minute.
    cron_lease = positive_int("CHECKIN_CRON_LEASE_SECONDS", 20)
    if not 3 <= cron_lease <= 25:
        problems.append(("CHECKIN_CRON_LEASE_SECONDS", f"must be 3 to 25 seconds, not {cron_lease}"))
        cron_lease = 20
    worker_ttl = positive_int("CHECKIN_WORKER_TTL", 30)
    max_calls = positive_int("CHECKIN_MAX_CONCURRENT_CALLS", 0) or None
    crisis_line = get("CHECKIN_CRISIS_LINE")
    spool_raw = get("CHECKIN_SPOOL_DIR")
    spool_dir = Path(spool_raw).resolve() if spool_raw else None
    if spool_raw and not Path(spool_raw).is_absolute():
        problems.append(
            ("CHECKIN_SPOOL_DIR", "must be an absolute path (a local disk that survives restarts)")
        )
    replay_raw = get("CHECKIN_SPOOL_REPLAY_SECONDS")
    spool_replay = 10
    if replay_raw is not None:
        if not replay_raw.isdigit():
            problems.append(
                (
                    "CHECKIN_SPOOL_REPLAY_SECONDS",
                    f"must be a whole number of seconds (0: never), not {replay_raw!r}",
                )
            )
        else:
            spool_replay = int(replay_raw)

    require_2fa = False
    raw_2fa = get("CHECKIN_REQUIRE_2FA")
    if raw_2fa is not None:
        if raw_2fa.lower() in ("1", "true", "yes", "on"):
            require_2fa = True
        elif raw_2fa.lower() not in ("0", "false", "no", "off"):
            problems.append(
                (
                    "CHECKIN_REQUIRE_2FA",
                    f"must be 1 (coordinators must use an authenticator app to sign in) or 0, not {raw_2fa!r}",
                )
            )
    invite_raw = get("CHECKIN_INVITE_HOURS")
    invite_hours = 72
    if invite_raw is not None:
        if not invite_raw.isdigit() or not 1 <= int(invite_raw) <= 720:
            problems.append(
                (
                    "CHECKIN_INVITE_HOURS",
                    f"must be a whole number of hours from 1 to 720 (30 days), not {invite_raw!r}",
                )
            )
        else:
            invite_hours = int(invite_raw)

    zone_raw = get("CHECKIN_TIMEZONE")
    org_zone = None
    if zone_raw:
        from checkin import timezones
        from checkin.errors import ValidationError

        try:
            org_zone = timezones.resolve(zone_raw)
        except ValidationError as exc:
            problems.append(("CHECKIN_TIMEZONE", str(exc).partition(": ")[2] or str(exc)))

    from checkin import pacing

    try:
        send_rates = pacing.load_rates(env)
    except pacing.PacingConfigError as exc:
        problems.append((exc.key, exc.reason))
        send_rates = pacing.Rates()

    from checkin.retention import policy as retention_policy

    try:
        retention = retention_policy.load(env)
    except retention_policy.RetentionConfigError as exc:
        problems.extend(exc.problems)
        retention = retention_policy.Periods()

    if problems:
        raise ConfigError(problems)
    return Settings(
        mode=mode,
        instance_path=instance,
        database_url=database_url,
        redis_url=redis_url,
        redis_is_embedded=redis_is_embedded,
        secret_key=secret_key,
        encryption_keys=encryption_keys,
        public_base_url=public_base_url,
        host=host,
        port=port,
        messaging_backend=backend,
        twilio_account_sid=account_sid,
        twilio_auth_token=auth_token,
        twilio_from_number=from_number,
        twilio_messaging_service_sid=service_sid,
        twilio_api_base_url=api_base,
        outbox_lease_seconds=lease,
        sweep_interval_seconds=sweep,
        escalation_tick_seconds=escalation_tick,
        schedule_tick_seconds=schedule_tick,
        cron_lease_seconds=cron_lease,
        worker_ttl_seconds=worker_ttl,
        send_rates=send_rates,
        max_concurrent_calls=max_calls,
        crisis_line=crisis_line,
        spool_dir=spool_dir,
        spool_replay_seconds=spool_replay,
        retention=retention,
        require_2fa=require_2fa,
        invite_hours=invite_hours,
        timezone=org_zone,
    )

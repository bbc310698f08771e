"""GET /healthz: is the database reachable, is Redis reachable, can every group's alerts reach someone,
is a worker taking alerts, has any alert waited too long."""

from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)

# A worker counts as alive only by a recent heartbeat: within two of its --worker-ttl (CHECKIN_WORKER_TTL,
# 30 s: an idle one beats every 15 s, and a job runs at most Twilio's 10 s timeout), so 60 s by default.
# RQ's own registration lives on for minutes after a SIGKILL (monitoring said "ok" for 8 minutes while an
# alert waited).
HEARTBEATS_MISSED = 2
# An alert due this long and not sent: the most direct sign that nobody is being paged.
ALERT_WAIT_LIMIT_SECONDS = 60


@bp.get("/healthz")
def healthz():
    runtime = current_app.extensions["checkin"]
    checks = {}
    try:
        runtime.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    redis = runtime.health_redis  # short timeouts, no retries (built by the composition root)
    try:
        redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    if checks["database"] == "ok":
        checks["paging"] = _paging()
        checks["alerts"] = _alerts(runtime)
    if checks["redis"] == "ok":
        checks["workers"] = _workers(redis, HEARTBEATS_MISSED * runtime.settings.worker_ttl_seconds)
    checks["spool"] = _spool()
    for name in ("paging", "workers", "alerts"):
        _log_change(name, checks.get(name))
    healthy = all(v == "ok" for v in checks.values())
    # Redis down delays sends but loses nothing, a group nobody can be paged for falls back to whoever
    # has a phone, and a spooled request is kept until it is stored: all "degraded"; only the database
    # makes us unhealthy.
    status = 200 if checks["database"] == "ok" else 503
    return jsonify(status="ok" if healthy else "degraded", **checks), status


def _paging() -> str:
    """ "ok", or which groups' escalation policy reaches nobody now (ids only: this page is public)."""
    from checkin.db import utcnow
    from checkin.escalation import reach

    runtime = current_app.extensions["checkin"]
    policy = current_app.extensions["checkin.escalation"].policy
    try:
        with runtime.db.session() as session:
            groups = reach.unreachable_groups(session, utcnow(), policy)
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"
    if not groups:
        return "ok"
    return f"nobody reachable for group(s) {','.join(str(g.id) for g in groups)}"


def _workers(redis, stale_seconds: int) -> str:
    """ "ok", or that no RQ worker with a recent heartbeat listens to the alerts queue: every facilitator's
    alert (and every routine text's answer) waits until one starts, while members are told a facilitator
    is being told."""
    from rq import Worker

    from checkin.unit_of_work import ALERT_QUEUE

    now = datetime.now(UTC)
    try:
        listening = [w for w in Worker.all(connection=redis) if ALERT_QUEUE in w.queue_names()]
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"
    alive = [w for w in listening if _seconds_since(w.last_heartbeat, now) <= stale_seconds]
    if alive:
        return "ok"
    if listening:
        return f"no worker is taking alerts: no heartbeat for over {stale_seconds} s"
    return "no worker is taking alerts"


def _seconds_since(when: datetime | None, now: datetime) -> float:
    if when is None:
        return float("inf")
    if when.tzinfo is None:  # RQ stores UTC without a zone
        when = when.replace(tzinfo=UTC)
    return (now - when).total_seconds()


def _alerts(runtime) -> str:
    """ "ok", or how long the oldest due alert has waited unsent, once that is over the limit."""
    from checkin import outbox
    from checkin.db import utcnow

    try:
        with runtime.db.session() as session:
            waited = outbox.oldest_waiting_alert(session, utcnow())
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"
    if waited is None or waited <= ALERT_WAIT_LIMIT_SECONDS:
        return "ok"
    return f"an alert has waited {int(waited)} s unsent"


# Checks whose words name what is wrong (which groups), not how long: a change of words is news.
_LOG_NEW_WORDS = frozenset({"paging"})


def _log_change(name: str, value: str | None) -> None:
    """An ERROR when a check turns bad (once per web process, not per probe: a load balancer probes every
    few seconds, and the alerts' words change at each: "waited 70 s", "80 s"; paging's only when other
    groups reach nobody), a line when it is ok again."""
    seen = current_app.extensions.setdefault("checkin.health_seen", {})
    before, seen[name] = seen.get(name), value
    if value is None:
        return
    if _bad(value) and (not _bad(before) or (name in _LOG_NEW_WORDS and value != before)):
        current_app.logger.error(
            "healthz: DEGRADED: %s: %s: nobody may be paged until it is fixed", name, value
        )
    elif value == "ok" and before not in (None, "ok"):
        current_app.logger.warning("healthz: %s ok again", name)


def _bad(value: str | None) -> bool:
    return value is not None and value != "ok" and not value.startswith("unknown")


def _spool() -> str:
    """ "ok", or how many signed requests wait in this host's spool to be stored (webhooks.intake)."""
    from webhooks import intake

    try:
        waiting = current_app.extensions["checkin"].spool.count()
    except Exception as exc:
        return f"unreadable: {type(exc).__name__}"
    if not waiting:
        return "ok"
    intake.replayer(current_app).wake()  # any process asked will replay (one at a time: the spool's lock)
    return f"{waiting} request(s) waiting to be stored"

"""GET /healthz: is the database reachable, is Redis reachable, can every group's alerts reach someone,
is a worker taking alerts."""

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    runtime = current_app.extensions["checkin"]
    checks = {}
    try:
        runtime.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    if checks["database"] == "ok":
        checks["paging"] = _paging()
    if checks["redis"] == "ok":
        checks["workers"] = _workers(runtime.redis)
    checks["spool"] = _spool()
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
    ids = ",".join(str(g.id) for g in groups)
    current_app.logger.error("healthz: the escalation policy reaches nobody for group(s) %s", ids)
    return f"nobody reachable for group(s) {ids}"


def _workers(redis) -> str:
    """ "ok", or that no RQ worker listens to the alerts queue: every facilitator's alert (and every
    routine text's answer) waits until one starts, while members are told a facilitator is being told."""
    from rq import Worker

    from checkin.unit_of_work import ALERT_QUEUE

    try:
        taking = [w for w in Worker.all(connection=redis) if ALERT_QUEUE in w.queue_names()]
    except Exception as exc:
        return f"unknown: {type(exc).__name__}"
    if taking:
        return "ok"
    current_app.logger.error("healthz: NO WORKER IS TAKING ALERTS: alerts and answers wait until one starts")
    return "no worker is taking alerts"


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

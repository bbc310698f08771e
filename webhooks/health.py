"""GET /healthz: is the database reachable, is Redis reachable, can every group's alerts reach someone."""

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
    healthy = all(v == "ok" for v in checks.values())
    # Redis down delays sends but loses nothing, and a group nobody can be paged for falls back to
    # whoever has a phone: both are "degraded"; only the database makes us unhealthy.
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

"""GET /healthz: is the database reachable, is Redis reachable."""

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
    healthy = all(v == "ok" for v in checks.values())
    # Redis down delays sends but loses nothing, so only the database makes us unhealthy.
    status = 200 if checks["database"] == "ok" else 503
    return jsonify(status="ok" if healthy else "degraded", **checks), status

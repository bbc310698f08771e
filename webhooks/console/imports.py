"""CSV member imports run in a background thread; their progress and report live in Redis for an hour.

The page polls `status(job_id)` (a tiny JSON endpoint), so a coordinator on a slow phone sees the
file being checked row by row. The import is one database transaction: committed only when every
row passed, rolled back otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

from checkin import member_import
from checkin.accounts import audit

log = logging.getLogger("checkin.console.import")
TTL = 3600


def _key(job_id: str) -> str:
    return f"checkin:import:{job_id}"


def start(runtime, rows: list[dict], staff_id: int, filename: str) -> str:
    job_id = uuid.uuid4().hex
    runtime.redis.hset(
        _key(job_id),
        mapping={
            "state": "checking",
            "total": len(rows),
            "processed": 0,
            "staff_id": staff_id,
            "filename": filename[:120],
        },
    )
    runtime.redis.expire(_key(job_id), TTL)
    threading.Thread(
        target=run, args=(runtime, job_id, rows, staff_id), name=f"import-{job_id[:8]}", daemon=True
    ).start()
    return job_id


def run(runtime, job_id: str, rows: list[dict], staff_id: int) -> None:
    key = _key(job_id)
    redis = runtime.redis
    session = runtime.db.sessions()
    try:
        added, problems = member_import.import_rows(
            session,
            rows,
            consent_source=f"import:staff:{staff_id}"[:40],
            progress=lambda n: redis.hset(key, "processed", n),
        )
        if problems:
            session.rollback()
            report = [{"line": p.line, "reasons": p.reasons} for p in problems]
            redis.hset(key, mapping={"state": "rejected", "report": json.dumps(report)})
            log.info("import %s rejected: %d bad row(s) of %d", job_id, len(problems), len(rows))
        else:
            audit(session, "import", staff_id, detail=f"{added} member(s) from CSV")
            session.commit()
            redis.hset(key, mapping={"state": "done", "imported": added})
            log.info("import %s done: %d member(s)", job_id, added)
    except Exception:
        session.rollback()
        log.exception("import %s failed", job_id)
        redis.hset(key, mapping={"state": "failed"})
    finally:
        session.close()


def status(runtime, job_id: str) -> dict | None:
    raw = runtime.redis.hgetall(_key(job_id)) if job_id.isalnum() else {}
    if not raw:
        return None
    data = {k.decode(): v.decode() for k, v in raw.items()}
    out = {
        "state": data["state"],
        "total": int(data.get("total", 0)),
        "processed": int(data.get("processed", 0)),
        "filename": data.get("filename", ""),
        "staff_id": int(data.get("staff_id", 0)),
    }
    if "imported" in data:
        out["imported"] = int(data["imported"])
    if "report" in data:
        out["report"] = json.loads(data["report"])
    return out

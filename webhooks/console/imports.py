"""CSV roster imports: a dry run checked in a background thread, then applied only on that exact report.

The upload is read and planned (checkin.member_import.plan) in a thread; its progress, the report and
the rows live in Redis for an hour, the rows and report encrypted with the database's keys (they hold
names and numbers). Nothing is written to the database until the coordinator who uploaded the file
presses Apply on the report: the form carries a token bound to the file's sha256 and to the plan's
fingerprint, and the plan is made again at that moment; if the members changed since the dry run,
nothing is written and the new report is shown instead. Apply is one unit of work, audited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import uuid
from datetime import date

from checkin import crypto, member_import
from checkin.accounts import audit

log = logging.getLogger("checkin.console.import")
TTL = 3600


class ApplyRefused(Exception):
    """The apply does not match the report shown, or the report is gone: says why, in words."""


def _key(job_id: str) -> str:
    return f"checkin:import:{job_id}"


def _dialect(runtime):
    return runtime.db.engine.dialect


def token_for(file_sha256: str, fingerprint: str) -> str:
    return hashlib.sha256(f"{file_sha256}:{fingerprint}".encode()).hexdigest()


def start(runtime, data: bytes, rows: list[dict], staff_id: int, filename: str, today: date) -> str:
    import json

    job_id = uuid.uuid4().hex
    runtime.redis.hset(
        _key(job_id),
        mapping={
            "state": "checking",
            "total": len(rows),
            "processed": 0,
            "staff_id": staff_id,
            "filename": filename[:120],
            "file_sha256": member_import.file_digest(data),
            "rows": crypto.encrypt(json.dumps(rows), _dialect(runtime)),
            "today": today.isoformat(),
        },
    )
    runtime.redis.expire(_key(job_id), TTL)
    threading.Thread(
        target=run, args=(runtime, job_id, rows, today), name=f"import-{job_id[:8]}", daemon=True
    ).start()
    return job_id


def run(runtime, job_id: str, rows: list[dict], today: date) -> None:
    key = _key(job_id)
    redis = runtime.redis
    session = runtime.db.sessions()
    try:
        plan = member_import.plan(
            session, rows, today=today, progress=lambda n: redis.hset(key, "processed", n)
        )
        _store_plan(runtime, job_id, plan)
        log.info("import %s checked: %s", job_id, plan.counts)
    except Exception:
        log.exception("import %s failed", job_id)
        redis.hset(key, mapping={"state": "failed"})
    finally:
        session.rollback()
        session.close()


def _store_plan(runtime, job_id: str, plan) -> None:
    runtime.redis.hset(
        _key(job_id),
        mapping={
            "state": "planned",
            "processed": plan.total,
            "plan": crypto.encrypt(plan.to_json(), _dialect(runtime)),
            "fingerprint": plan.fingerprint(),
            **{f"count_{k}": v for k, v in plan.counts.items()},
        },
    )


def status(runtime, job_id: str) -> dict | None:
    """The job as the page shows it (no rows, no plan)."""
    raw = runtime.redis.hgetall(_key(job_id)) if job_id.isalnum() else {}
    if not raw:
        return None
    data = {k.decode(): v for k, v in raw.items()}
    text = {k: v.decode() for k, v in data.items() if k not in ("rows", "plan")}
    out = {
        "state": text["state"],
        "total": int(text.get("total", 0)),
        "processed": int(text.get("processed", 0)),
        "filename": text.get("filename", ""),
        "staff_id": int(text.get("staff_id", 0)),
    }
    if "fingerprint" in text:
        out["token"] = token_for(text["file_sha256"], text["fingerprint"])
    counts = {k[6:]: int(v) for k, v in text.items() if k.startswith("count_")}
    if counts:
        out["counts"] = counts
    for name in ("added", "updated", "unchanged", "skipped", "welcomed"):
        if name in text:
            out[name] = int(text[name])
    if text.get("stopped_lines"):
        out["stopped_lines"] = [int(n) for n in text["stopped_lines"].split(",")]
    return out


def report(runtime, job_id: str):
    """The dry run's plan (checkin.member_import.Plan), or None while it is being made."""
    raw = runtime.redis.hget(_key(job_id), "plan")
    if raw is None:
        return None
    return member_import.Plan.from_json(crypto.decrypt(raw, _dialect(runtime)))


def apply(runtime, session, job_id: str, token: str, staff_id: int, ip: str | None):
    """Apply the dry run `token` names, in `session`, and commit it; ApplyRefused when it cannot be.

    Returns (Applied, None), or (None, new plan) when the members changed since the dry run (nothing is
    written; the job now holds the new report, to be checked and applied in its turn)."""
    import json

    redis = runtime.redis
    key = _key(job_id)
    raw = redis.hgetall(key) if job_id.isalnum() else {}
    if not raw:
        raise ApplyRefused("this dry run has expired (they are kept for an hour): upload the file again")
    data = {k.decode(): v for k, v in raw.items()}
    state = data["state"].decode()
    if int(data.get("staff_id", b"0")) != staff_id:
        raise ApplyRefused("only the coordinator who uploaded the file can apply it")
    if state == "applied":
        raise ApplyRefused("this file was already applied")
    if state != "planned":
        raise ApplyRefused("the dry run is not finished yet")
    expected = token_for(data["file_sha256"].decode(), data["fingerprint"].decode())
    if not hmac.compare_digest(expected, token or ""):
        raise ApplyRefused(
            "this is not the report of the file that was checked: open the latest report and apply it there"
        )
    # Claimed once: a double click or a second tab cannot apply the same file twice.
    if not redis.hsetnx(key, "applying", staff_id):
        raise ApplyRefused("this file is being applied already")
    try:
        rows = json.loads(crypto.decrypt(data["rows"], _dialect(runtime)))
        today = date.fromisoformat(data["today"].decode())
        plan = member_import.plan(session, rows, today=today)
        if plan.fingerprint() != data["fingerprint"].decode():
            session.rollback()
            _store_plan(runtime, job_id, plan)
            return None, plan
        applied = member_import.apply(session, plan, staff_id=staff_id)
        audit(
            session,
            "import",
            staff_id,
            ip=ip,
            detail=(
                f"CSV roster file:{data['file_sha256'].decode()[:12]} applied: {applied.added} added, "
                f"{applied.updated} updated, {applied.unchanged} unchanged, {applied.skipped} row(s) skipped, "
                f"{applied.welcomed} welcome text(s) planned, {applied.opted_out} added opted out (their STOP)"
            ),
        )
        session.commit()
        redis.hset(
            key,
            mapping={
                "state": "applied",
                "added": applied.added,
                "updated": applied.updated,
                "unchanged": applied.unchanged,
                "skipped": applied.skipped,
                "welcomed": applied.welcomed,
                "stopped_lines": ",".join(str(n) for n in applied.stopped_lines),
            },
        )
    except Exception:
        session.rollback()
        raise
    finally:
        redis.hdel(key, "applying")
    log.info("import %s applied by staff %s", job_id, staff_id)
    return applied, None

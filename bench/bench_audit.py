"""The audit chain's cost, on a throwaway PostgreSQL database.

    python -m bench audit

Printed: audit rows appended per second through `checkin.accounts.audit` (advisory lock, read the head,
hash, insert, commit: one transaction per row, as a console view writes one), by one writer and by four
at once (they queue on the lock); beside a baseline measured in the same run, the same rows inserted
one per ORM session with their seq and hashes made up in advance (no lock, no head read, no hash); and
`checkin audit verify` over every row written, in rows per second.
"""

from __future__ import annotations

import os
import threading
import time

from bench.common import temp_database

ROWS = int(os.environ.get("CHECKIN_BENCH_AUDIT_ROWS", "2000"))
WRITERS = 4


def _baseline(db, n: int, start_seq: int) -> float:
    from checkin.accounts.models import AuditEvent
    from checkin.db import utcnow

    began = time.perf_counter()
    for i in range(n):
        with db.session() as s:  # the same session and flush as audit(), without the chain
            s.add(
                AuditEvent(
                    seq=start_seq + i,
                    at=utcnow(),
                    staff_id=1,
                    action="view_member",
                    member_id=i,
                    detail="bench",
                    ip="127.0.0.1",
                    prev_hash="0" * 64,
                    hash="f" * 64,
                )
            )
            s.flush()
    return n / (time.perf_counter() - began)


def _chained(db, n: int, writers: int) -> float:
    from checkin.accounts import audit

    def write(count: int) -> None:
        for i in range(count):
            with db.session() as s:
                audit(s, "view_member", 1, member_id=i, detail="bench", ip="127.0.0.1")

    threads = [threading.Thread(target=write, args=(n // writers,)) for _ in range(writers)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (n // writers * writers) / (time.perf_counter() - began)


def main() -> None:
    from sqlalchemy import text

    from checkin.accounts import audit_chain
    from checkin.db import Database

    with temp_database("checkin_bench_audit") as url:
        db = Database(url, pool_size=WRITERS + 1)
        one = _chained(db, ROWS, 1)
        four = _chained(db, ROWS, WRITERS)
        with db.session() as s:
            chained_rows = s.execute(text("SELECT count(*) FROM audit_events")).scalar()
            began = time.perf_counter()
            result = audit_chain.verify(s)
            verify_rate = result.rows / (time.perf_counter() - began)
        assert result.ok and result.rows == chained_rows, result
        base = _baseline(db, ROWS, chained_rows + 1)
        db.dispose()
    print(f"audit rows, one transaction each ({ROWS} per run, PostgreSQL)")
    print(f"  baseline: same INSERT, no chain       {base:8.0f} rows/s")
    print(f"  chained, 1 writer                     {one:8.0f} rows/s  ({one / base:.2f}x baseline)")
    print(
        f"  chained, {WRITERS} writers at once            {four:8.0f} rows/s  ({four / base:.2f}x baseline)"
    )
    print(f"  checkin audit verify                  {verify_rate:8.0f} rows/s  ({chained_rows} rows: ok)")

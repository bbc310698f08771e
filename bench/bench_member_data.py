"""A member's data: what erasure costs the send path, and how long an erasure and a member's copy take.

1. The send-time consent check (`consent.is_opted_out`, asked for every outbox row a worker takes) now
   also asks whether the number was an erased member's (an HMAC of it among the kept hashes). Baseline:
   the check as it was, the same statement without that part, interleaved in the same run.
2. Erasing a member with a year of history (messages both ways, check-ins, a case with alerts) in a
   database where staff have been sent many other texts (every staff text is read to find their name).
   Baseline: reading the same member's copy (`export.collect`), the work a coordinator already waits for.

On a throwaway PostgreSQL database; nothing is sent anywhere (the console messaging backend).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import timedelta

from bench.common import temp_database

MEMBERS = int(os.environ.get("CHECKIN_BENCH_MEMBERS", "2000"))
ERASED = MEMBERS // 10
CHECKS = int(os.environ.get("CHECKIN_BENCH_CONSENT_CHECKS", "2000"))
HISTORY = int(os.environ.get("CHECKIN_BENCH_HISTORY", "365"))  # a text a day, each answered
STAFF_TEXTS = int(os.environ.get("CHECKIN_BENCH_STAFF_TEXTS", "5000"))
ROUNDS = 3


def _old_is_opted_out(session, channel, address, *, member_id=None) -> bool:
    """consent.is_opted_out before erasure existed (the baseline)."""
    from sqlalchemy import exists, or_, select

    from checkin.channels import phone_of
    from checkin.models import Member, MemberStatus

    phone = phone_of(channel, address)
    whose = Member.phone == phone if member_id is None else or_(Member.phone == phone, Member.id == member_id)
    return bool(session.scalar(select(exists().where(whose, Member.status == MemberStatus.OPTED_OUT.value))))


def seed(db) -> tuple[list[str], int]:
    from checkin import crypto
    from checkin.checkins import CheckIn
    from checkin.db import utcnow
    from checkin.directory import add_group, add_member, add_staff
    from checkin.models import Member, Message, OutboxItem

    now = utcnow()
    phones = [f"+1303555{i:04d}" for i in range(MEMBERS)]
    with db.session() as s:
        group = add_group(s, "Bench Group", "America/New_York", "+15005550006")
        staff = add_staff(
            s, "Dana Bench", "dana@bench.example.org", "coordinator", "+13035559999", [group.name]
        )
        for i, phone in enumerate(phones):
            add_member(s, group.name, phone, f"Member{i} Bench")
        s.flush()
        dialect = s.get_bind().dialect
        for member in s.query(Member).filter(Member.id <= ERASED):
            member.phone_digest = crypto.digests(member.phone, dialect)[0]
            member.phone, member.erased_at, member.status = None, now, "opted_out"
        subject = s.query(Member).filter(Member.id == ERASED + 1).one()
        for day in range(HISTORY):
            at = now - timedelta(days=day)
            s.add(
                Message(
                    direction="inbound",
                    member_id=subject.id,
                    from_number=subject.phone,
                    to_number=group.phone_number,
                    body=f"day {day}: tired but going for walks",
                    reply_body="Thanks, Member. We got your message.",
                    status="received",
                    created_at=at,
                )
            )
            s.add(
                CheckIn(
                    member_id=subject.id,
                    group_id=group.id,
                    state="answered",
                    score=3,
                    words=f"day {day} words",
                    answered_at=at,
                )
            )
        for i in range(STAFF_TEXTS):
            s.add(
                OutboxItem(
                    idempotency_key=f"alert:{i}:0:0:{staff.id}:sms",
                    to_number=staff.phone,
                    staff_id=staff.id,
                    purpose="alert",
                    state="sent",
                    body=f"ALERT {i} (urgent): Member{i % MEMBERS} Bench, see https://x/e/{i}",
                )
            )
        subject_phone = subject.phone
    return phones, subject_phone


def time_checks(db, fn, phones) -> float:
    """Median seconds per consent check over `CHECKS` numbers (a mix of members and erased numbers)."""
    chosen = random.Random(7).choices(phones, k=CHECKS)
    with db.session() as s:
        started = time.perf_counter()
        for phone in chosen:
            fn(s, "sms", phone)
        return (time.perf_counter() - started) / CHECKS


def main() -> None:
    from cryptography.fernet import Fernet

    from checkin import consent, crypto
    from checkin.db import Database
    from checkin.member_data import erase, export
    from checkin.models import Member, StaffUser

    with temp_database("checkin_bench_erase") as url:
        db = Database(url)
        crypto.install(db.engine, [Fernet.generate_key().decode()])
        try:
            phones, subject_phone = seed(db)
            # The two consent checks, interleaved (each round: baseline, then the new check).
            old, new = [], []
            for _ in range(ROUNDS):
                old.append(time_checks(db, _old_is_opted_out, phones))
                new.append(time_checks(db, consent.is_opted_out, phones))
            o, n = statistics.median(old), statistics.median(new)
            print(f"consent check, {MEMBERS} members ({ERASED} erased), {CHECKS} checks x {ROUNDS} rounds:")
            print(f"  before erasure existed   {o * 1e6:8.0f} us per check")
            print(f"  with erased numbers      {n * 1e6:8.0f} us per check   x{n / o:.2f}")
            # A member's copy (baseline), then their erasure.
            with db.session() as s:
                member = s.query(Member).filter(Member.phone == subject_phone).one()
                started = time.perf_counter()
                sections = export.collect(s, member)
                copy_seconds = time.perf_counter() - started
                s.rollback()
            with db.session() as s:
                member = s.query(Member).filter(Member.phone == subject_phone).one()
                staff = s.query(StaffUser).one()
                started = time.perf_counter()
                done = erase.erase(s, member, by=staff, via="bench")
                s.commit()
                erase_seconds = time.perf_counter() - started
            print(
                f"a member with {len(sections['messages'])} messages and {len(sections['checkins'])} check-ins, "
                f"{STAFF_TEXTS} staff texts in the database:"
            )
            print(f"  their copy (export.collect)   {copy_seconds * 1000:8.0f} ms")
            print(
                f"  their erasure                 {erase_seconds * 1000:8.0f} ms   x{erase_seconds / copy_seconds:.1f}"
            )
            print(f"  ({done.summary()})")
        finally:
            db.dispose()


if __name__ == "__main__":
    main()

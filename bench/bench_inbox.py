"""The live console's poll against reloading the page it saves.

    python -m bench inbox

A console page open on a facilitator's phone asks `/console/live` every 3 s (unread count and a digest
of what the page shows). Against a database with 2,000 members in 20 groups, 20,000 messages, 400 open
inbox conversations and 50 escalations, this measures that request in process (Flask's test client,
one thread, PostgreSQL) for a coordinator (every group) and with a member's conversation open, beside
the baseline it replaces: loading the page itself (the home page, and the conversation page).
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from bench.common import percentile, scratch_dir, temp_database

GROUPS, MEMBERS_PER_GROUP, MESSAGES_PER_MEMBER, OPEN_CONVERSATIONS, ESCALATIONS = 20, 100, 10, 400, 50
ROUNDS = 60


def _seed(runtime) -> tuple[int, int]:
    from sqlalchemy import insert

    from checkin.accounts import sessions
    from checkin.db import utcnow
    from checkin.escalation.models import Escalation
    from checkin.inbox.models import Conversation
    from checkin.models import Group, GroupMember, Member, Message, StaffUser

    now = utcnow()
    with runtime.db.session() as s:
        s.execute(
            insert(Group),
            [
                {"name": f"Group {g}", "timezone": "America/New_York", "phone_number": f"+1500555{g:04d}"}
                for g in range(GROUPS)
            ],
        )
        s.execute(
            insert(Member),
            [
                {
                    "phone": f"+1202{i:07d}",
                    "display_name": f"Member {i}",
                    "language": "en",
                    "channel": "sms",
                    "status": "active",
                }
                for i in range(GROUPS * MEMBERS_PER_GROUP)
            ],
        )
        s.execute(
            insert(GroupMember),
            [
                {"group_id": i // MEMBERS_PER_GROUP + 1, "member_id": i + 1}
                for i in range(GROUPS * MEMBERS_PER_GROUP)
            ],
        )
        s.execute(
            insert(Message),
            [
                {
                    "direction": "inbound" if k % 2 else "outbound",
                    "channel": "sms",
                    "provider_sid": f"SM{m:016d}{k:016d}",
                    "member_id": m + 1,
                    "from_number": "+10000000000",
                    "to_number": "+10000000001",
                    "body": "words of an ordinary text message",
                    "status": "delivered",
                    "created_at": now - timedelta(minutes=k),
                    "updated_at": now - timedelta(minutes=k),
                }
                for m in range(GROUPS * MEMBERS_PER_GROUP)
                for k in range(MESSAGES_PER_MEMBER)
            ],
        )
        s.execute(
            insert(Conversation),
            [
                {
                    "group_id": c % GROUPS + 1,
                    "member_id": c * 5 + 1,
                    "state": "waiting",
                    "unread": 1,
                    "messages": 1,
                    "opened_at": now,
                    "last_message_at": now,
                    "updated_at": now,
                }
                for c in range(OPEN_CONVERSATIONS)
            ],
        )
        s.execute(
            insert(Escalation),
            [
                {
                    "member_id": e * 7 + 2,
                    "group_id": e % GROUPS + 1,
                    "level": "urgent",
                    "state": "open",
                    "opened_at": now,
                    "updated_at": now,
                }
                for e in range(ESCALATIONS)
            ],
        )
        staff = StaffUser(
            name="Bench Coordinator", email="bench@example.org", role="coordinator", password_hash="x"
        )
        s.add(staff)
        s.flush()
        token = sessions.start(s, staff, lifetime=timedelta(hours=1), device="bench", ip="127.0.0.1")
    return token, 1


def _time(client, path: str) -> list[float]:
    for _ in range(5):  # warm-up: templates, caches, pool
        assert client.get(path).status_code == 200, path
    out = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(path)
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, path
    return sorted(out)


def _line(what: str, lat: list[float]) -> str:
    return (
        f"{what:<38} p50 {percentile(lat, 50) * 1e3:7.1f} ms   p95 {percentile(lat, 95) * 1e3:7.1f} ms   "
        f"mean {statistics.fmean(lat) * 1e3:7.1f} ms"
    )


def main() -> None:
    from cryptography.fernet import Fernet

    from checkin.bootstrap import Runtime
    from checkin.unit_of_work import ListDispatcher
    from config import load_settings
    from webhooks import create_app

    with scratch_dir() as tmp, temp_database("checkin_bench_inbox") as url:
        settings = load_settings(
            {
                "CHECKIN_ENV": "test",
                "DATABASE_URL": url,
                "REDIS_URL": "redis://127.0.0.1:6379/15",
                "SECRET_KEY": "bench-secret-key-" + "s" * 32,
                "PUBLIC_BASE_URL": "https://checkin.example.org",
                "MESSAGING_BACKEND": "console",
                "CHECKIN_SPOOL_REPLAY_SECONDS": "0",
                "CHECKIN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
                "CHECKIN_INSTANCE_PATH": str(tmp),
            }
        )
        runtime = Runtime.build(settings, dispatcher=ListDispatcher())  # nothing here sends
        try:
            token, member_id = _seed(runtime)
            app = create_app(runtime=runtime)
            app.config["SESSION_COOKIE_SECURE"] = False
            client = app.test_client()
            with client.session_transaction() as session:
                session["token"] = token
            print(
                f"data: {GROUPS * MEMBERS_PER_GROUP} members in {GROUPS} groups, "
                f"{GROUPS * MEMBERS_PER_GROUP * MESSAGES_PER_MEMBER} messages, {OPEN_CONVERSATIONS} open conversations, "
                f"{ESCALATIONS} escalations; {ROUNDS} requests each, in process, coordinator"
            )
            poll = _time(client, "/console/live")
            home = _time(client, "/console/")
            poll_member = _time(client, f"/console/live?member={member_id}")
            page_member = _time(client, f"/console/members/{member_id}/conversation")
            print(_line("poll /console/live", poll))
            print(_line("baseline: reload home /console/", home))
            print(f"{'':<38} ratio poll/reload (p50) {percentile(poll, 50) / percentile(home, 50):.3f}")
            print(_line("poll /console/live?member=", poll_member))
            print(_line("baseline: reload the conversation", page_member))
            print(
                f"{'':<38} ratio poll/reload (p50) {percentile(poll_member, 50) / percentile(page_member, 50):.3f}"
            )
        finally:
            runtime.db.dispose()

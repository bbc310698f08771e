"""The tick's COPY into the outbox (checkin.adapters.pg_bulk) on PostgreSQL: each key written once, and
the ids it reports are the rows' own, whether it copied straight in or had to skip keys written meanwhile."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from checkin.models import OutboxItem

NOW = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)


@pytest.fixture
def insert(postgres_only):  # COPY is PostgreSQL's
    from checkin.adapters.pg_bulk import start_insert_outbox

    return lambda session, rows, now: start_insert_outbox(session, rows, now)()


def rows(*keys, body="Reminder: the group meets tomorrow"):
    return [
        dict(
            idempotency_key=key,
            channel="sms",
            purpose="reminder",
            queue="outbox",
            to_number="+12025550100",
            from_number="+15005550006",
            body=body,
            twiml_url=None,
            member_id=None,
            next_attempt_at=NOW,
        )
        for key in keys
    ]


def stored(db) -> dict[str, tuple[int, str, str]]:
    with db.session() as s:
        return {
            item.idempotency_key: (item.id, item.body, item.state) for item in s.scalars(select(OutboxItem))
        }


def test_new_rows_get_the_ids_reported_and_a_key_written_meanwhile_is_skipped(db, insert):
    with db.session() as s:
        created = insert(s, rows("reminder:2:k:60", "reminder:1:k:60", "prompt:1:k"), NOW)
    table = stored(db)
    assert sorted(created) == sorted((table[k][0], k, "outbox") for k in table)
    assert set(table) == {"reminder:1:k:60", "reminder:2:k:60", "prompt:1:k"}
    assert {body for _, body, _ in table.values()} == {"Reminder: the group meets tomorrow"}  # decrypted

    # Another tick wrote two of these keys after this one looked: they are left as they are, the rest written.
    with db.session() as s:
        created = insert(s, rows("reminder:1:k:60", "nudge:1:k", "prompt:1:k", body="again"), NOW)
    after = stored(db)
    assert [k for _, k, _ in created] == ["nudge:1:k"]
    assert created[0][0] == after["nudge:1:k"][0]
    assert after["reminder:1:k:60"] == table["reminder:1:k:60"]
    assert len(after) == 4


def test_ids_are_right_when_the_sequence_hands_out_ids_in_blocks(db, insert):
    with db.session() as s:
        s.execute(text("ALTER SEQUENCE outbox_id_seq CACHE 20"))
    try:
        with db.session() as s:
            first = insert(s, rows("reminder:1:a:60"), NOW)
        with db.session() as s:
            created = insert(s, rows(*(f"reminder:{m}:b:60" for m in range(1, 30))), NOW)
    finally:
        with db.session() as s:
            s.execute(text("ALTER SEQUENCE outbox_id_seq CACHE 1"))
    table = stored(db)
    assert sorted(created + first) == sorted((table[k][0], k, "outbox") for k in table)
    assert len(table) == 30


def test_two_writers_at_once_each_report_their_own_rows_ids(db, insert):
    # Two planning jobs on two workers COPY at the same moment: each takes its ids from the sequence first,
    # so the ids it reports are its rows' whatever the other took meanwhile.
    import threading

    barrier = threading.Barrier(2)
    results: dict[str, list] = {}

    def job(name: str) -> None:
        with db.session() as s:
            barrier.wait()
            results[name] = insert(s, rows(*(f"reminder:{name}{m}:k:60" for m in range(400))), NOW)

    threads = [threading.Thread(target=job, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    table = stored(db)
    assert len(table) == 800
    for name in ("a", "b"):
        assert len(results[name]) == 400
        assert all(
            key.startswith(f"reminder:{name}") and table[key][0] == row_id for row_id, key, _ in results[name]
        )


def test_values_that_copy_text_must_escape_are_stored_as_given(db, insert):
    # COPY's text format gives a backslash, tab, newline and carriage return a meaning: they are escaped,
    # so a value holding them is stored as it was planned, and a missing one as NULL.
    key = "prompt:1:odd\\key\twith\nbreaks\r"
    odd = rows(key)
    odd[0].update(
        body="Line one\nline two\ttab \\ backslash", twiml_url="https://x.example/\\call", from_number=None
    )
    with db.session() as s:
        created = insert(s, odd, NOW)
    assert [k for _, k, _ in created] == [key]
    with db.session() as s:
        item = s.scalars(select(OutboxItem)).one()
        assert (item.idempotency_key, item.body, item.twiml_url, item.from_number, item.member_id) == (
            key,
            "Line one\nline two\ttab \\ backslash",
            "https://x.example/\\call",
            None,
            None,
        )
        assert item.next_attempt_at == NOW and item.state == "pending"

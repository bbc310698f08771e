"""The fast part of the fault table (`make chaos` runs all of it): the Procfile's web, worker and cron as
real processes, a worker SIGKILLed mid-send while every text arrives three times at once. Nothing lost,
nothing sent twice, every crisis alerted, and the processes' logs carry no phone number or body."""

from tests.faults.harness import CALM, CRISIS, FAST, REMINDER, run_fault, table
from tests.logscan import scan_output, sent_body


def test_a_killed_worker_and_duplicate_texts_lose_nothing_and_send_nothing_twice(database_url, tmp_path):
    # The harness needs PostgreSQL (pg_terminate_backend, a database per row): on the SQLite fallback
    # this fails and says why rather than pass without testing anything.
    assert database_url.startswith("postgresql"), "the fault harness needs PostgreSQL (127.0.0.1:5432)"
    for body in (CRISIS, CALM, REMINDER):
        sent_body(body)
    row = run_fault(FAST, tmp_path, scan=scan_output)
    report = table([row])
    assert row.error is None, report
    assert row.texts_stored == row.texts_sent, report
    assert row.alerts_sent == row.alerts_due, report
    assert row.outbound_sent == row.outbound_due and row.outbound_dup == 0, report
    assert row.lost == 0, report

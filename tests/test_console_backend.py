"""The console messaging backend (the development stand-in for the carrier) keeps the body, since showing
what would have been sent is its purpose, but in a file of its own marked DEVELOPMENT ONLY, with the number
cut to its last digits: a reviewer found it printing full numbers and bodies to the worker's output,
which is the service's log wherever a process manager collects it."""

import stat
from dataclasses import replace
from types import SimpleNamespace

from checkin import outbox
from checkin.bootstrap import build_port
from checkin.cli.dev import ConsoleMessages
from checkin.messaging import OutboundSms
from checkin.messaging.console import FILE_NAME, ConsolePort
from workers import jobs

BODY = "Group is on Tuesday at 6pm."


def test_a_message_goes_to_the_backends_own_file_and_nothing_to_the_process_output(
    runtime, settings, member, capfd
):
    runtime.port = build_port(replace(settings, messaging_backend="console"))
    with runtime.db.session() as s:
        item, _ = outbox.add(s, "reminder:console:1", to=member.phone, body=BODY, member_id=member.id)
    capfd.readouterr()
    assert jobs.deliver(item.id, runtime=runtime) == "sent"
    out, err = capfd.readouterr()
    assert member.phone not in out + err and BODY not in out + err
    written = settings.instance_path / FILE_NAME
    text = written.read_text()
    assert text.startswith("# DEVELOPMENT ONLY")
    assert f"sms outbox={item.id} to=…0101: {BODY}\n" in text and member.phone not in text
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_checkin_dev_shows_the_lines_written_since_it_started(tmp_path):
    path = tmp_path / FILE_NAME
    port = ConsolePort(path)
    port.send_sms(OutboundSms("+12025550101", "before the start", None, None, 1))
    said = []
    follow = ConsoleMessages(SimpleNamespace(instance_path=tmp_path), echo=said.append)
    follow.show()
    assert said == []  # what an earlier run wrote is not shown again
    port.send_sms(OutboundSms("+12025550102", "hola", None, None, 2))
    with open(path, "a") as f:
        f.write("half a line")  # still being written: waits for its end
    follow.show()
    assert len(said) == 1
    assert said[0].startswith("[dev only, not sent] ") and said[0].endswith("sms outbox=2 to=…0102: hola")

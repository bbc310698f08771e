"""`checkin console set-password`: how the first coordinator gets into the console."""

from __future__ import annotations

from checkin.cli import cli
from tests.console_helpers import cheap_password_hashing, make_staff, plain_http, sign_in  # noqa: F401


def test_set_password_asks_twice_and_then_signs_in(app, client, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    result = app.test_cli_runner().invoke(
        cli,
        ["console", "set-password", "Casey@example.org"],
        input="a new long password\na new long password\n",
    )
    assert result.exit_code == 0, result.output
    assert "password set for staff" in result.output and "a new long password" not in result.output
    assert sign_in(client, "casey@example.org", "a new long password").status_code == 302


def test_set_password_generated_is_printed_once(app, client, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    result = app.test_cli_runner().invoke(cli, ["console", "set-password", "casey@example.org", "--generate"])
    assert "to be changed at the first sign-in" in result.output
    password = result.output.strip().rsplit(": ", 1)[1]
    assert sign_in(client, "casey@example.org", password).status_code == 302
    # Someone else read it off the terminal: the console asks for a password of Casey's own first.
    assert client.get("/console/members").headers["Location"] == "/console/account/password"


def test_set_password_errors_are_one_line(app, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["console", "set-password", "nobody@example.org", "--generate"])
    assert result.exit_code == 1 and "no staff user with email 'nobody@example.org'" in result.output
    result = runner.invoke(cli, ["console", "set-password", "casey@example.org"], input="short\nshort\n")
    assert result.exit_code == 1 and "password must be at least 10 characters" in result.output


def test_invite_prints_a_link_that_lets_the_person_choose_a_password(app, client, db):
    make_staff(db, "Casey", "casey@example.org", "coordinator")
    result = app.test_cli_runner().invoke(cli, ["console", "invite", "casey@example.org"])
    assert result.exit_code == 0, result.output
    link = result.output.strip().rsplit(": ", 1)[1]
    path = link[link.index("/console/welcome/") :]
    page = client.get(path).get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    chosen = {
        "password": "my own console password",
        "password2": "my own console password",
        "csrf_token": token,
    }
    assert client.post(path, data=chosen).status_code == 302
    assert sign_in(app.test_client(), "casey@example.org", "my own console password").status_code == 302
    assert sign_in(app.test_client(), "casey@example.org").status_code == 401  # the old one was reset
    missing = app.test_cli_runner().invoke(cli, ["console", "invite", "nobody@example.org"])
    assert missing.exit_code != 0 and "no active staff user" in missing.output

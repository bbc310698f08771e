"""The `checkin` command, built on Flask's CLI. Bad arguments get one line and a non-zero exit.

An entry point like the web app (`webhooks.create_app`) and the workers: it builds its Runtime
through the web app's factory (the composition root, checkin.bootstrap), and may use webhooks,
workers and adapters; nothing else imports it (import contract in pyproject.toml). Its parts:
schedules (`checkin schedule ...`), voice (`simulate call`, `voice phq9`), console
(`console set-password`), dev (`checkin dev`, the whole service on embedded defaults).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid

import click
from flask import current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from sqlalchemy.exc import OperationalError

from config import ConfigError, load_settings


def _create_app():
    from webhooks import create_app

    return create_app(warm_rules=False)  # no webhook is served here


def _runtime():
    return current_app.extensions["checkin"]


# Commands that touch no stored data (or that read the audit log itself): not audit rows.
NOT_AUDITED = {
    ("dev",),
    ("db", "upgrade"),
    ("assess",),
    ("simulate", "sms"),
    ("simulate", "call"),
    ("audit", "verify"),
}


class AuditedGroup(FlaskGroup):
    """Every CLI action is an audit row (action "cli"): the command's name, whether it succeeded, the
    operating-system user, and the member it concerned when the command names one
    (`click.get_current_context().meta["audit_member_id"]`). Never its arguments: they may hold a
    phone number or a name."""

    def invoke(self, ctx):
        path = _command_path(ctx)
        if path is None or path in NOT_AUDITED:
            return super().invoke(ctx)
        outcome = "failed"
        try:
            result = super().invoke(ctx)
            outcome = "ok"
            return result
        except SystemExit as exc:
            outcome = "ok" if exc.code in (0, None) else "failed"
            raise
        finally:
            _audit_cli(ctx, path, outcome)


def _command_path(ctx) -> tuple[str, ...] | None:
    """('members', 'add') for `checkin members add --phone ...`, from the words that name commands."""
    # Click keeps the subcommand's name apart (`protected_args`, deprecated as public in Click 8.2).
    path, group, args = [], ctx.command, list(ctx._protected_args) + list(ctx.args)
    while isinstance(group, click.Group) and args:
        sub = group.get_command(ctx, args[0])
        if sub is None:
            return None
        path.append(args.pop(0))
        group = sub
        while args and args[0].startswith("-"):
            args.pop(0)  # options of a subgroup: not names
    return tuple(path) or None


def _audit_cli(ctx, path: tuple[str, ...], outcome: str) -> None:
    import getpass

    from checkin.accounts import audit

    try:
        app = ctx.ensure_object(ScriptInfo).load_app()
    except ConfigError:
        return  # nothing could run without a configuration; the error is the command's to report
    member_id = ctx.meta.get("audit_member_id")
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    try:
        with app.app_context(), _runtime().db.session() as session:
            detail = f"checkin {' '.join(path)}: {outcome} (os user {user})"
            audit(session, "cli", None, member_id=member_id, detail=detail)
    except Exception as exc:
        click.echo(
            f"checkin: the command ran ({outcome}) but its audit row could not be written: "
            f"{type(exc).__name__}",
            err=True,
        )
        if outcome == "ok":  # a failed command already exits non-zero with its own error
            sys.exit(1)


@click.group(
    cls=AuditedGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli():
    """Checkin: SMS and voice check-ins for peer support groups."""


def _domain_call(fn, *args, **kwargs):
    """Run a directory function in one transaction; a validation error becomes a one-line CLI error."""
    from checkin.directory import ValidationError

    runtime = _runtime()
    try:
        with runtime.db.session() as session:
            return fn(session, *args, **kwargs)
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None


# --- database -------------------------------------------------------------------------------


@cli.group("db")
def db_group():
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade():
    """Apply every migration not yet applied."""
    from migrations import upgrade

    upgrade(load_settings().database_url)
    click.echo("database is up to date")


# --- directory ------------------------------------------------------------------------------


@cli.group("groups")
def groups_group():
    """Support groups."""


@groups_group.command("add")
@click.argument("name")
@click.option("--timezone", "tz", required=True, help="IANA time zone, e.g. America/New_York")
@click.option("--phone", default=None, help="the group's own Twilio number, if it has one")
@with_appcontext
def groups_add(name, tz, phone):
    from checkin.directory import add_group

    group = _domain_call(add_group, name, tz, phone)
    click.echo(f"group {group.id} added: {group.name} ({group.timezone})")


@groups_group.command("list")
@with_appcontext
def groups_list():
    from sqlalchemy import select

    from checkin.models import Group

    with _runtime().db.session() as session:
        for group in session.scalars(select(Group).order_by(Group.name)):
            click.echo(f"{group.id:>4}  {group.name}  {group.timezone}  members={len(group.members)}")


@cli.group("members")
def members_group():
    """Members."""


@members_group.command("add")
@click.option("--group", "group_name", required=True)
@click.option("--phone", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--language", type=click.Choice(["en", "es"]), default="en", show_default=True)
@click.option("--timezone", "tz", default=None, help="defaults to the group's")
@click.option("--channel", type=click.Choice(["sms", "voice"]), default="sms", show_default=True)
@click.option(
    "--welcome/--no-welcome",
    default=True,
    show_default=True,
    help="text them the welcome (who is texting, HELP, STOP, 988) in their daytime, as the console's add "
    "form does; never to a member reached by phone call or whose number has said STOP",
)
@with_appcontext
def members_add(group_name, phone, display_name, language, tz, channel, welcome):
    from checkin.directory import add_member

    def add(session):
        from zoneinfo import ZoneInfo

        from checkin import welcome as welcome_text
        from checkin.db import utcnow
        from checkin.directory import find_group

        member = add_member(
            session, group_name, phone, display_name, language, tz, channel, consent_source="staff:cli"
        )
        group = find_group(session, group_name)
        item = welcome_text.queue(session, member, group, utcnow()) if welcome else None
        zone = member.zone_in(group)
        when = item.next_attempt_at.astimezone(ZoneInfo(zone)) if item else None
        return member.id, group.name, when, member.opted_out

    member_id, name, welcome_at, opted_out = _domain_call(add)
    click.get_current_context().meta["audit_member_id"] = member_id
    click.echo(f"member {member_id} added to {name}")
    if opted_out:
        click.echo(
            "added OPTED OUT: this number texted STOP before it was a member's; nothing is texted to it "
            "until it texts START"
        )
    if welcome_at is not None:
        click.echo(f"welcome text planned for {welcome_at:%a %Y-%m-%d %H:%M %Z} (their daytime)")
    elif welcome:
        click.echo("no welcome text: they are reached by phone call, or their number has said STOP")


@cli.group("staff")
def staff_group():
    """Facilitators and coordinators."""


@staff_group.command("add")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["facilitator", "coordinator"]), required=True)
@click.option("--phone", default=None)
@click.option("--group", "groups", multiple=True, help="group to facilitate (repeatable)")
@click.option("--backup", is_flag=True, help="a backup rather than first on call")
@with_appcontext
def staff_add(name, email, role, phone, groups, backup):
    from checkin.directory import add_staff

    staff = _domain_call(add_staff, name, email, role, phone, list(groups), "backup" if backup else "primary")
    click.echo(f"staff {staff.id} added: {staff.name} ({staff.role})")


# --- outbox ---------------------------------------------------------------------------------


@cli.command("outbox")
@click.option(
    "--state", type=click.Choice(["pending", "sending", "sent", "failed", "cancelled"]), default=None
)
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@with_appcontext
def outbox_cmd(state, limit):
    """What is pending, sent, failed and why."""
    from sqlalchemy import func, select

    from checkin.models import OutboxItem

    with _runtime().db.session() as session:
        counts = dict(
            session.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all()
        )
        click.echo(
            "  ".join(
                f"{k}={counts.get(k, 0)}" for k in ("pending", "sending", "sent", "failed", "cancelled")
            )
        )
        query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
        if state:
            query = query.where(OutboxItem.state == state)
        for item in session.scalars(query):
            why = f"  {item.last_error_code or ''} {item.last_error}".rstrip() if item.last_error else ""
            click.echo(
                f"{item.id:>6}  {item.state:<9} {item.purpose:<10} {item.idempotency_key}  attempts={item.attempts}{why}"
            )


# --- simulate -------------------------------------------------------------------------------


@cli.group("simulate")
def simulate_group():
    """Play Twilio against a running server: signed requests, as Twilio sends them."""


@simulate_group.command("sms")
@click.option("--from", "from_", required=True, help="the member's phone number")
@click.option(
    "--to", "to", default=None, help="the number texted (default: TWILIO_FROM_NUMBER or the demo number)"
)
@click.option(
    "--url",
    default=None,
    help="server address if not PUBLIC_BASE_URL; signed for it too unless PUBLIC_BASE_URL is set "
    "(behind a proxy, set PUBLIC_BASE_URL to the address Twilio calls)",
)
@click.option(
    "--sid",
    default=None,
    help="the MessageSid (SM or MM and 32 hex digits; default: a new one): give one already used to "
    "replay a duplicate delivery",
)
@click.argument("text", nargs=-1, required=True)
def simulate_sms(from_, to, url, sid, text):
    """Text TEXT to the service from NUMBER and print the reply."""
    from checkin.phones import InvalidPhone, normalize_phone
    from webhooks.simulate import MESSAGE_SID, post_sms, refusal

    settings = load_settings()
    if url and not os.environ.get("PUBLIC_BASE_URL", "").strip():
        # No PUBLIC_BASE_URL here: the service's is most likely its own address (the default), so sign
        # for the address given (`checkin dev` with PORT=5088, then `--url http://127.0.0.1:5088`).
        settings = dataclasses.replace(settings, public_base_url=url.rstrip("/"))
    try:
        from_ = normalize_phone(from_)
    except InvalidPhone as exc:
        raise click.BadParameter(str(exc), param_hint="--from") from None
    if sid is not None and not MESSAGE_SID.fullmatch(sid):
        # Checked here, not only by the service: a typo would otherwise be a 400 that reads like a bug.
        raise click.BadParameter(
            f"{sid!r} is not a Twilio message SID (SM or MM and 32 hex digits)", param_hint="--sid"
        )
    sid = sid or "SM" + uuid.uuid4().hex
    try:
        replies = post_sms(
            settings, from_, to or settings.twilio_from_number or "+15005550006", " ".join(text), url, sid=sid
        )
    except OSError as exc:  # an HTTP error status too (urllib's HTTPError): the service answered, and refused
        raise click.ClickException(
            refusal(exc, settings) or f"cannot reach the service at {url or settings.public_base_url}: {exc}"
        ) from None
    if not replies:  # a routine text: a worker decides it and its reply goes by REST (checkin.intake)
        replies = _answer_by_rest(sid)
    for reply in replies:
        click.echo(reply)
    if not replies:
        click.echo("(no reply)")


def _answer_by_rest(sid: str, wait_seconds: float = 10.0) -> list[str]:
    """The reply a worker decided for the text `sid`, waited for a few seconds (none: no worker runs)."""
    import time

    from checkin import intake

    runtime = _runtime()
    deadline = time.monotonic() + wait_seconds
    while True:
        with runtime.db.session() as session:
            found = intake.answer_for(session, sid)
        if found is not None or time.monotonic() > deadline:
            return [found] if found is not None else []
        time.sleep(0.2)


# --- rules ----------------------------------------------------------------------------------

from checkin.rules.cli import assess_command  # noqa: E402

cli.add_command(assess_command, "assess")


# --- schedules, voice, console: each part keeps its commands in its own module -------------

from checkin.cli import announce as cli_announce  # noqa: E402
from checkin.cli import audit as cli_audit  # noqa: E402
from checkin.cli import console as cli_console  # noqa: E402
from checkin.cli import members_data as cli_members_data  # noqa: E402
from checkin.cli import retention as cli_retention  # noqa: E402
from checkin.cli import schedules as cli_schedules  # noqa: E402
from checkin.cli import spool as cli_spool  # noqa: E402
from checkin.cli import voice as cli_voice  # noqa: E402

for _part in (
    cli_schedules,
    cli_voice,
    cli_console,
    cli_spool,
    cli_retention,
    cli_announce,
    cli_members_data,
    cli_audit,
):
    _part.register(cli)


# --- development ----------------------------------------------------------------------------


@cli.command("dev")
def dev_cmd():
    """Run everything on embedded defaults: migrate, Valkey, demo data, web + worker + cron."""
    from checkin.cli.dev import run_dev

    sys.exit(run_dev())


def main(argv=None):
    try:
        return cli.main(args=argv, prog_name="checkin")
    except ConfigError as exc:
        click.echo(f"checkin: {exc}", err=True)
        sys.exit(2)
    except OperationalError as exc:
        # The database down or unreachable: one line that says so (the driver's own words name the host
        # and port, never a password), not ~160 lines of chained traceback.
        said = str(exc.orig or exc).strip().splitlines()[0]
        click.echo(
            f"checkin: the database cannot be reached ({type(exc).__name__}: {said}); "
            "is it running, and is DATABASE_URL right?",
            err=True,
        )
        sys.exit(1)

"""`checkin members erase|export|provider-cleanup`: a member's erasure and a member's copy from the command line.

Each names the coordinator who answers for it (`--by EMAIL`), whom the audit log records."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


def register(cli) -> None:
    """Add this module's commands to the `checkin members` group."""
    from checkin.cli import _domain_call, _runtime

    members = cli.commands["members"]

    @members.command("erase")
    @click.option("--phone", required=True, help="the member's phone number")
    @click.option("--by", "by_email", required=True, help="the coordinator's email, for the audit log")
    @click.option("--yes", is_flag=True, help="do not ask to confirm")
    @with_appcontext
    def erase_cmd(phone, by_email, yes):
        """Erase a member: an anonymous row remains (counts, consent history without the number, audit);
        their number, name, words, notes, recordings and Twilio's copies go."""
        from checkin.member_data import erase, provider

        member_id, alias_now = _domain_call(_member_and_alias, phone, by_email)
        if not yes:
            click.confirm(
                f"Erase member {member_id}? Their name, number and words are gone for good "
                f"(they become {alias_now!r})",
                abort=True,
            )

        def apply(session):
            member = erase.find_by_phone(session, phone)
            return erase.erase(session, member, by=erase.find_staff(session, by_email), via="cli")

        done = _domain_call(apply)
        click.echo(f"member {done.member_id} erased: now {done.alias!r}; {done.summary()}")
        runtime = _runtime()
        click.echo(
            provider.run_pending(runtime.db, runtime.provider_data, member_id=done.member_id).summary()
        )

    @members.command("export")
    @click.option("--phone", required=True, help="the member's phone number")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["json", "csv"]),
        default="json",
        show_default=True,
        help="json: one readable file; csv: a zip of one CSV per section",
    )
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(dir_okay=False, allow_dash=True),
        help="the file to write (- for standard output, json only)",
    )
    @click.option("--by", "by_email", required=True, help="the coordinator's email, for the audit log")
    @with_appcontext
    def export_cmd(phone, fmt, out, by_email):
        """A member's copy of everything held about them: messages both ways, calls, check-ins, cases
        with notes, consents, and who looked at their record."""
        from checkin.member_data import erase, export

        if out == "-" and fmt == "csv":
            raise click.BadParameter("a zip cannot go to standard output: name a file", param_hint="--out")

        def apply(session):
            member = erase.find_by_phone(session, phone)
            return export.export(session, member, fmt, by=erase.find_staff(session, by_email), via="cli")

        content, name = _domain_call(apply)
        if out == "-":
            sys.stdout.write(content.decode("utf-8"))
            return
        try:
            with open(out, "wb") as handle:
                handle.write(content)
        except OSError as exc:
            raise click.ClickException(f"--out: cannot write {out}: {exc.strerror}") from None
        click.echo(f"wrote {out} ({name}, {len(content)} bytes)")

    @members.command("provider-cleanup")
    @with_appcontext
    def provider_cleanup_cmd():
        """Delete at Twilio what erasures asked for and Twilio could not delete at the time."""
        from checkin.member_data import provider

        runtime = _runtime()
        click.echo(provider.run_pending(runtime.db, runtime.provider_data).summary())


def _member_and_alias(session, phone, by_email):
    from checkin.member_data import erase

    member = erase.find_by_phone(session, phone)
    erase.find_staff(session, by_email)
    return member.id, erase.alias(member.id)

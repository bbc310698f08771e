"""`checkin` subcommands for the console: give a staff user a console password, or a link to choose one."""

from __future__ import annotations

import click
from flask.cli import with_appcontext


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""
    from checkin.cli import _domain_call

    @cli.group("console")
    def console_group():
        """The staff console."""

    @console_group.command("set-password")
    @click.argument("email")
    @click.option(
        "--generate", is_flag=True, help="make a random password and print it, instead of asking for one"
    )
    @with_appcontext
    def set_password(email, generate):
        """Set EMAIL's console password (asked twice, not echoed), e.g. for the first coordinator."""
        from sqlalchemy import func, select

        from checkin import accounts
        from checkin.accounts.passwords import generate_password
        from checkin.directory import ValidationError
        from checkin.models import StaffUser

        password = (
            generate_password()
            if generate
            else click.prompt("New password", hide_input=True, confirmation_prompt=True)
        )

        def apply(session):
            staff = session.scalar(
                select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
            )
            if staff is None:
                raise ValidationError(
                    f"no staff user with email {email!r} (add one with `checkin staff add`)"
                )
            accounts.set_password(session, staff, password)
            # A generated password is read off a terminal by someone else: it must be changed at sign-in.
            staff.must_change_password = generate
            return staff

        staff = _domain_call(apply)
        click.echo(
            f"password set for staff {staff.id} ({staff.role})"
            + (f", to be changed at the first sign-in: {password}" if generate else "")
        )

    @console_group.command("invite")
    @click.argument("email")
    @with_appcontext
    def invite(email):
        """Print a link with which EMAIL chooses their own console password (works once; a reset if they
        have a password already: it stops working). E.g. for the first coordinator."""
        from datetime import timedelta

        from flask import current_app
        from sqlalchemy import func, select

        from checkin import accounts
        from checkin.accounts import invitations
        from checkin.directory import ValidationError
        from checkin.models import StaffUser

        settings = current_app.extensions["checkin"].settings

        def apply(session):
            staff = session.scalar(
                select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
            )
            if staff is None or not staff.active:
                raise ValidationError(
                    f"no active staff user with email {email!r} (add one with `checkin staff add`)"
                )
            _, token = accounts.invite(
                session,
                staff,
                by=None,
                lifetime=timedelta(hours=settings.invite_hours),
                reset=bool(staff.password_hash),
            )
            return staff, token

        staff, token = _domain_call(apply)
        click.echo(
            f"link for staff {staff.id} ({staff.role}), works once for {settings.invite_hours} hours: "
            f"{settings.public_base_url}{invitations.PATH}{token}"
        )

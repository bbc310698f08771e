"""`checkin spool`: what waits in this host's intake spool, and replaying it now (webhooks.intake)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""

    @cli.group("spool")
    def spool_group():
        """Signed requests that could not be stored, waiting to be (CHECKIN_SPOOL_DIR)."""

    @spool_group.command("list")
    @with_appcontext
    def spool_list():
        """One line per waiting request, oldest first: name, received, path, SID, why (ids only)."""
        spool = current_app.extensions["checkin"].spool
        waiting = 0
        for entry in spool:
            waiting += 1
            click.echo(
                f"{entry.key}  {entry.received_at:%Y-%m-%d %H:%M:%S}Z  {entry.path}  {entry.sid or '-'}  "
                f"{entry.reason or '-'}"
            )
        click.echo(f"{waiting} request(s) waiting in {spool.path}")

    @spool_group.command("replay")
    @with_appcontext
    def spool_replay():
        """Store what the spool holds now, each once (exit 1 if anything is left)."""
        from webhooks.intake import replay

        result = replay(current_app)
        if result.busy:
            click.echo("another process is replaying this spool now; try again in a moment", err=True)
            sys.exit(1)
        if result.storage_down:
            click.echo(f"the database does not answer: {result.failed} request(s) still waiting", err=True)
            sys.exit(1)
        click.echo(f"stored {result.stored}, set aside {result.refused}, still waiting {result.failed}")
        if result.failed:
            sys.exit(1)

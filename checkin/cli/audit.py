"""`checkin audit verify`: walk the audit log's hash chain and name the first missing or altered row."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""

    @cli.group("audit")
    def audit_group():
        """The audit log: append-only and hash-chained (see README, *Audit trail*)."""

    @audit_group.command("verify")
    @with_appcontext
    def audit_verify():
        """Check every audit row against the one before it; exit 1 at the first broken or missing row."""
        from checkin.accounts import audit_chain

        with current_app.extensions["checkin"].db.session() as session:
            result = audit_chain.verify(session)
        if result.ok:
            click.echo(f"audit chain verifies: {result.rows} row(s)")
            return
        where = f"seq {result.broken_seq}" + (f" (id {result.broken_id})" if result.broken_id else "")
        click.echo(
            f"audit chain BROKEN at {where}: {result.reason}; {result.rows} row(s) before it verify", err=True
        )
        sys.exit(1)

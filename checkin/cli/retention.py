"""`checkin retention` (what is kept how long, a run now or its preview, past runs) and
`checkin keys` (re-encrypt everything under the newest key)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""

    @cli.group("retention")
    def retention_group():
        """How long members' data is kept (config/retention.toml, CHECKIN_RETENTION_<KIND>)."""

    @retention_group.command("run")
    @click.option("--dry-run", is_flag=True, help="Print what would be removed; change nothing.")
    @with_appcontext
    def retention_run(dry_run):
        """Remove what has outlived its period now (the nightly job does the same)."""
        from checkin.retention import run as retention

        runtime = current_app.extensions["checkin"]
        periods = runtime.settings.retention
        if dry_run:
            counts = retention.preview(runtime.db, periods)
            for kind in retention.STEPS:
                click.echo(f"{kind} ({periods.describe(kind)})")
                for name, n in sorted(counts.items()):
                    if name.startswith(kind + "."):
                        click.echo(f"  {name.split('.', 1)[1]}: {n} would go")
            click.echo("(dry run: nothing was changed; the provider's copies would be deleted with them)")
            return
        report = retention.run(runtime.db, runtime.provider_data, periods)
        _print_counts(report.counts)
        click.echo(
            f"run {report.run_id}: provider deleted {report.provider_deleted}, "
            f"failed {report.provider_failed} (kept for the next run)"
        )

    @retention_group.command("show")
    @click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 100))
    @with_appcontext
    def retention_show(limit):
        """The periods in force, and the last runs with what each removed."""
        from checkin.retention import run as retention

        runtime = current_app.extensions["checkin"]
        periods = runtime.settings.retention
        for kind in retention.STEPS:
            click.echo(f"{kind}: {periods.describe(kind)}")
        with runtime.db.session() as s:
            runs = retention.last_runs(s, limit)
        if not runs:
            click.echo("no retention run yet")
        for r in runs:
            state = (
                f"FAILED ({r.error})"
                if r.error
                else (f"done {r.finished_at:%Y-%m-%d %H:%M}Z" if r.finished_at else "running")
            )
            click.echo(
                f"run {r.id}: started {r.started_at:%Y-%m-%d %H:%M}Z, {state}, "
                f"provider deleted {r.provider_deleted}, failed {r.provider_failed}"
                + (f", audit starts at id {r.audit_first_id}" if r.audit_first_id else "")
            )
            _print_counts(r.counts or {})

    @cli.group("keys")
    def keys_group():
        """Encryption keys (CHECKIN_ENCRYPTION_KEY: newest first)."""

    @keys_group.command("reencrypt")
    @click.option("--dry-run", is_flag=True, help="Count what is not under the newest key; change nothing.")
    @click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10000))
    @with_appcontext
    def keys_reencrypt(dry_run, batch):
        """Re-encrypt every stored value under the newest key, so that older keys can be retired."""
        from checkin import keys

        runtime = current_app.extensions["checkin"]
        total = 0
        for p in keys.reencrypt(
            runtime.db, runtime.settings.encryption_keys[0], batch=batch, dry_run=dry_run
        ):
            total += p.reencrypted
            verb = "under an older key" if dry_run else "re-encrypted"
            click.echo(f"{p.column}: {p.checked} checked, {p.reencrypted} {verb}")
        if dry_run:
            click.echo(f"{total} value(s) still need the older key(s)")
        else:
            click.echo(
                f"done: {total} value(s) re-encrypted; every stored value now opens with the newest key alone"
            )


def _print_counts(counts) -> None:
    for name, n in sorted(counts.items()):
        click.echo(f"  {name}: {n}")

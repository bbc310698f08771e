"""``checkin assess``: assess messages from stdin, or evaluate a labelled TSV file."""

from __future__ import annotations

import json
import sys

import click

from .engine import assess
from .evaluate import EvalFileError, evaluate, format_report


@click.command("assess")
@click.option(
    "--eval",
    "eval_file",
    metavar="FILE.tsv",
    default=None,
    help="Evaluate a labelled TSV file (header 'level<TAB>text', extra columns allowed) and print the report.",
)
@click.option(
    "--language",
    type=click.Choice(["en", "es"]),
    default=None,
    help="Only run this language's rules (default: English and Spanish).",
)
@click.option(
    "--errors/--no-errors",
    "show_errors",
    default=False,
    help="With --eval, also list the lines that were assessed differently.",
)
def assess_command(eval_file: str | None, language: str | None, show_errors: bool) -> None:
    """Assess risk in messages read one per line from stdin (JSON lines out)."""
    if eval_file is not None:
        try:
            report = evaluate(eval_file, language=language)
        except EvalFileError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(format_report(report, show_errors=show_errors))
        return
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        a = assess(text, language=language)
        click.echo(
            json.dumps(
                {"level": a.level, "rules": list(a.rules), "matches": list(a.matches)}, ensure_ascii=False
            )
        )
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover
    assess_command()

"""`checkin simulate call` (walk a call against the running server and print what the caller
hears, with webhooks.call_walker) and `checkin voice phq9` (switch the PHQ-9 item 9 question per group)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import click

from webhooks.call_walker import CallWalker, http_post, walk


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""
    from flask.cli import with_appcontext

    from config import load_settings

    simulate = cli.commands["simulate"]

    @simulate.command("call")
    @click.option("--from", "from_", required=True, help="the caller's phone number")
    @click.option(
        "--to", "to", default=None, help="the number called (default: TWILIO_FROM_NUMBER or the demo number)"
    )
    @click.option(
        "--digits",
        default="",
        help="keys for each prompt in turn, comma-separated, e.g. 1,4,#  "
        "(# at a recording leaves one; '-' is silence; say:WORDS speaks)",
    )
    @click.option(
        "--say", "says", multiple=True, help="words spoken at the next prompt after the digits (repeatable)"
    )
    @click.option(
        "--dial-status",
        type=click.Choice(["no-answer", "busy", "completed"]),
        default="no-answer",
        show_default=True,
        help="what happens when a facilitator is rung",
    )
    @click.option("--url", default=None, help="server address if not PUBLIC_BASE_URL (e.g. behind a proxy)")
    def simulate_call(from_, to, digits, says, dial_status, url):
        """Call the service from NUMBER, answer its prompts, and print what the caller hears."""
        from checkin.phones import InvalidPhone, normalize_phone

        settings = load_settings()
        try:
            from_ = normalize_phone(from_)
        except InvalidPhone as exc:
            raise click.BadParameter(str(exc), param_hint="--from") from None
        inputs = [d.strip() for d in digits.split(",")] if digits.strip() else []
        inputs += [f"say:{s}" for s in says]
        walker = CallWalker(
            http_post(settings, url),
            settings.public_base_url,
            from_,
            to or settings.twilio_from_number or "+15005550006",
            settings.twilio_account_sid,
        )
        try:
            walk(walker, inputs, dial_status, click.echo)
            walker.hang_up()  # else the member's timeline shows the call as still in progress
        except OSError as exc:  # an HTTP error status too: the service answered, and refused
            from webhooks.simulate import refusal

            raise click.ClickException(
                refusal(exc, settings)
                or f"cannot reach the service at {url or settings.public_base_url}: {exc}"
            ) from None
        except ET.ParseError:
            raise click.ClickException("the service did not answer with TwiML") from None

    @cli.group("voice")
    def voice_group():
        """Voice options."""

    @voice_group.command("phq9")
    @click.option("--group", "group_name", required=True)
    @click.argument("state", type=click.Choice(["on", "off"]))
    @with_appcontext
    def voice_phq9(group_name, state):
        """Ask (on) or stop asking (off) the PHQ-9 item 9 question after a voice check-in."""
        from flask import current_app

        from checkin.directory import ValidationError, find_group
        from checkin.voice.calls import set_phq9

        try:
            with current_app.extensions["checkin"].db.session() as session:
                set_phq9(session, find_group(session, group_name).id, state == "on")
        except ValidationError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"PHQ-9 item 9 question {state} for {group_name}")

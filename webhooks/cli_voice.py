"""`checkin` subcommands for voice."""

from __future__ import annotations


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""

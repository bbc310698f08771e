"""`checkin announce --group NAME "text" [--text-es "texto"]`: a group announcement from the command line.

It prints who gets it and when (as the console's preview does) and sends it, once: the same words to the
same group on the same day (the group's date) are one announcement, so running the command again (or
twice by accident) sends nothing more; `--again` sends the same words once more on purpose.
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext


def register(cli) -> None:
    @cli.command("announce")
    @click.option("--group", "group_name", required=True, help="the group's name")
    @click.argument("text")
    @click.option(
        "--text-es", default=None, help="the Spanish text (required when the group has Spanish speakers)"
    )
    @click.option("--preview", is_flag=True, help="only show who would get it and when; send nothing")
    @click.option("--again", is_flag=True, help="send these words again although they went out today")
    @with_appcontext
    def announce(group_name, text, text_es, preview, again):
        """One message to every active member of a group, in their language, after their night."""
        from checkin.announcements import service as announcements
        from checkin.cli import _domain_call, _runtime
        from checkin.db import utcnow
        from checkin.directory import find_group

        runtime = _runtime()

        def run(session):
            group = find_group(session, group_name)
            now = utcnow()
            planned = announcements.preview(session, group, text, text_es, now)
            if preview:
                return group, planned, None, False
            day = now.astimezone(ZoneInfo(group.timezone)).date().isoformat()
            key = announcements.request_key_for(group.id, text.strip(), (text_es or "").strip() or None, day)
            if again:
                key = f"cli:{uuid.uuid4().hex}"
            found, created = announcements.send(
                session,
                group,
                text,
                text_es,
                request_key=key,
                now=now,
                base_url=runtime.settings.public_base_url,
                bulk_insert=runtime.bulk_outbox_insert,
            )
            return group, planned, found.id, created

        group, planned, announcement_id, created = _domain_call(run)
        click.echo(f"{group.name}: {planned.summary()}")
        if announcement_id is None:
            for r in planned.recipients:  # ids and first names, as the console's preview shows them
                how = "call" if r.channel == "voice" else "text"
                if r.skipped:
                    when = f"skipped ({r.skipped})"
                elif r.send_at <= planned.now:
                    when = "now"
                else:
                    when = f"{r.local:%a %Y-%m-%d %H:%M %Z} (quiet hours)"
                click.echo(f"  {r.name} (member {r.member_id}, {r.language}, {how}): {when}")
            click.echo("preview only: nothing sent")
        elif created:
            click.echo(
                f"announcement {announcement_id} queued: the workers send it, none in a member's night; progress: "
                f"{runtime.settings.public_base_url}/console/groups/{group.id}/announcements/{announcement_id}"
            )
        else:
            click.echo(
                f"announcement {announcement_id} already has these words today: nothing sent again (--again to resend)"
            )


__all__ = ["register"]

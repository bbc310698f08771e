"""`checkin schedule ...`: set a group's meetings, cancel or move one, tune its plan, preview the sends."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click
from flask.cli import with_appcontext


def _hhmm(value: str, what: str) -> time:
    try:
        return datetime.strptime(value.strip(), "%H:%M").time()  # noqa: DTZ007 - a wall-clock time, zoned by the caller
    except ValueError:
        raise click.ClickException(f"{what}: expected a time as HH:MM, e.g. 18:00, not {value!r}") from None


def _day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise click.ClickException(f"{what}: expected a date as YYYY-MM-DD, not {value!r}") from None


def _local(value: str, what: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M")  # noqa: DTZ007 - local time in the group's zone, zoned by the caller
    except ValueError:
        raise click.ClickException(
            f"{what}: expected a local date and time as 'YYYY-MM-DD HH:MM', not {value!r}"
        ) from None


def _in_group(fn):
    """Run fn(session, group, ...) in one transaction; a validation error becomes a one-line error."""
    from checkin.cli import _domain_call

    def call(session, group_name, *args, **kwargs):
        from checkin.directory import find_group

        return fn(session, find_group(session, group_name), *args, **kwargs)

    return lambda group_name, *a, **kw: _domain_call(call, group_name, *a, **kw)


def register(cli) -> None:
    """Add this module's commands to the `checkin` group."""

    @cli.group("schedule")
    def schedule_group():
        """Meetings, reminders and check-in prompts."""
        from checkin.schedules import PlanError, load_config

        try:
            load_config()  # a malformed config/plan.toml is named before anything runs
        except PlanError as exc:
            raise click.ClickException(str(exc)) from None

    @schedule_group.command("set")
    @click.option("--group", "group_name", required=True)
    @click.option(
        "--rrule", required=True, help="RFC 5545 rule, e.g. FREQ=WEEKLY;BYDAY=TU or FREQ=MONTHLY;BYDAY=+2TU"
    )
    @click.option("--start", required=True, help="local start time in the group's zone, HH:MM")
    @click.option("--duration", type=int, required=True, help="minutes")
    @click.option("--address", default=None)
    @click.option("--dial-in", "dial_in", default=None)
    @click.option(
        "--from", "starts_on", default=None, help="first day of the rule, YYYY-MM-DD (default today)"
    )
    @with_appcontext
    def schedule_set(group_name, rrule, start, duration, address, dial_in, starts_on):
        """Set (or replace) a group's recurring meeting."""
        from checkin.schedules import next_meeting, set_schedule

        start_time = _hhmm(start, "--start")
        first = _day(starts_on, "--from") if starts_on else None

        def run(session, group):
            from checkin.db import utcnow

            saved = set_schedule(
                session,
                group.id,
                rrule=rrule,
                start_local=start_time,
                duration_minutes=duration,
                location=address,
                dial_in=dial_in,
                starts_on=first,
            )
            begin = max(utcnow(), datetime.combine(saved.starts_on, time(0), ZoneInfo(group.timezone)))
            return group, next_meeting(session, group.id, begin)

        group, upcoming = _in_group(run)(group_name)
        nxt = f"; next {upcoming.local_start:%a %Y-%m-%d %H:%M %Z}" if upcoming else "; no upcoming meeting"
        from checkin.db import utcnow

        if first is not None and first < utcnow().astimezone(ZoneInfo(group.timezone)).date():
            # Kept (the rule counts from it: every other week keeps its weeks); the next date is the one used.
            nxt += f" (--from {first} has passed: the rule counts from it, and that is the next meeting)"
        click.echo(f"schedule set for {group.name}{nxt}")

    @schedule_group.command("cancel")
    @click.option("--group", "group_name", required=True)
    @click.option("--date", "day", required=True, help="the meeting's local date, YYYY-MM-DD")
    @with_appcontext
    def schedule_cancel(group_name, day):
        """Cancel one meeting; members are told once."""
        from checkin.schedules import cancel_occurrence, find_occurrence

        when = _day(day, "--date")

        def run(session, group):
            occ = find_occurrence(session, group.id, when)
            cancel_occurrence(session, group.id, occ.key)
            return occ

        occ = _in_group(run)(group_name)
        click.echo(
            f"cancelled {group_name} on {occ.original_start.astimezone(occ.local_start.tzinfo):%a %Y-%m-%d %H:%M}"
        )

    @schedule_group.command("move")
    @click.option("--group", "group_name", required=True)
    @click.option("--date", "day", required=True, help="the meeting's original local date, YYYY-MM-DD")
    @click.option("--to", "to", required=True, help="new local start, 'YYYY-MM-DD HH:MM'")
    @with_appcontext
    def schedule_move(group_name, day, to):
        """Move one meeting; members are told once."""
        from checkin.schedules import find_occurrence, move_occurrence

        when, new_start = _day(day, "--date"), _local(to, "--to")

        def run(session, group):
            occ = find_occurrence(session, group.id, when)
            move_occurrence(session, group.id, occ.key, new_start)
            return occ

        _in_group(run)(group_name)
        click.echo(f"moved {group_name} meeting of {when:%Y-%m-%d} to {new_start:%a %Y-%m-%d %H:%M}")

    @schedule_group.command("plan")
    @click.option("--group", "group_name", required=True)
    @click.option(
        "--template",
        "texts",
        multiple=True,
        metavar="LANG.NAME=TEXT",
        help="the group's own text, e.g. es.reminder='...'; LANG.NAME= returns it to config/plan.toml's",
    )
    @click.argument("settings", nargs=-1)
    @with_appcontext
    def schedule_plan(group_name, texts, settings):
        """Show the group's reminder plan and own texts, or override keys: KEY=VALUE (KEY= returns it to the default)."""
        from checkin.schedules import get_plan, get_templates, load_config, set_plan, set_templates

        overrides = {}
        for item in settings:
            key, sep, value = item.partition("=")
            if not sep:
                raise click.ClickException(f"expected KEY=VALUE, not {item!r}")
            overrides[key.strip()] = value.strip() or None
        changes: dict[str, dict[str, str | None]] = {}
        for item in texts:
            name, sep, value = item.partition("=")
            lang, dot, key = name.strip().partition(".")
            if not sep or not dot:
                raise click.ClickException(
                    f"--template: expected LANG.NAME=TEXT, e.g. es.reminder='...', not {item!r}"
                )
            changes.setdefault(lang, {})[key] = value

        def run(session, group):
            # One transaction: a refused text leaves the plan keys unsaved too.
            if changes:
                set_templates(session, group.id, changes)
            plan = set_plan(session, group.id, **overrides) if overrides else get_plan(session, group.id)
            return plan, get_templates(session, group.id)

        plan, own = _in_group(run)(group_name)
        for key, value in plan.as_config().items():
            click.echo(f"{key} = {value}")
        defaults = load_config().templates
        for lang, table in own.items():
            for key, text in table.items():
                if text != defaults[lang][key]:
                    click.echo(f"template {lang}.{key} = {text}")

    @schedule_group.command("pause")
    @click.option("--phone", required=True, help="the member's phone number")
    @click.option(
        "--until",
        "until",
        default=None,
        help="last paused day, YYYY-MM-DD in the member's zone (sends resume the day after)",
    )
    @click.option("--resume", is_flag=True, help="resume now")
    @with_appcontext
    def schedule_pause(phone, until, resume):
        """Pause a member's reminders, prompts and nudges through a date (replies and crisis help never pause)."""
        from checkin.cli import _domain_call
        from checkin.schedules.service import pause_member

        if resume == bool(until):
            raise click.ClickException("give either --until YYYY-MM-DD or --resume")
        day = None if resume else _day(until, "--until")
        member = _domain_call(pause_member, phone, day)
        click.echo(f"member {member.id} " + ("resumed" if resume else f"paused through {day:%Y-%m-%d}"))

    @schedule_group.command("preview")
    @click.option("--group", "group_name", required=True)
    @click.option("--days", type=click.IntRange(1, 92), default=14, show_default=True)
    @click.option(
        "--from", "start", default=None, help="first day, YYYY-MM-DD in the group's zone (default now)"
    )
    @with_appcontext
    def schedule_preview(group_name, days, start):
        """Every send the plan will make, per member in local time; what is held back and why."""
        from checkin.cli import _runtime
        from checkin.db import utcnow
        from checkin.schedules import preview

        first = _day(start, "--from") if start else None
        base_url = _runtime().settings.public_base_url

        def run(session, group):
            from checkin.answers import rsvp
            from checkin.schedules import occurrences

            zone = ZoneInfo(group.timezone)
            # In the group's zone: at 8 pm in Chicago the UTC date is already tomorrow's.
            begin = datetime.combine(first, time(0), zone) if first else utcnow().astimezone(zone)
            meetings = occurrences(session, group.id, begin, begin + timedelta(days=days))
            answers = rsvp.counts(session, group.id, [occ.key for occ in meetings])
            rows = [(occ.local_start, occ.status, answers.get(occ.key, {})) for occ in meetings]
            return group, begin, preview(session, group.id, begin, days, base_url=base_url), rows

        group, begin, sends, meetings = _in_group(run)(group_name)
        click.echo(format_preview(group.name, begin, days, sends, meetings))


def format_preview(group_name: str, start: datetime, days: int, sends, meetings=()) -> str:
    """The preview as text: the meetings with their RSVPs so far, then one line per send, grouped by
    member, held ones marked. `meetings`: (local start, status, {"yes": n, "no": n}) per meeting."""
    lines = [f"{group_name}: {len(sends)} send(s) from {start:%Y-%m-%d} for {days} day(s)"]
    for local_start, status, answers in meetings:
        said = (
            "cancelled"
            if status == "cancelled"
            else (f"{answers.get('yes', 0)} coming, {answers.get('no', 0)} not coming")
        )
        lines.append(f"meeting {local_start:%a %Y-%m-%d %H:%M %Z}: {said}")
    by_member: dict[tuple[str, int], list] = {}
    for send in sends:
        by_member.setdefault((send.member_name, send.member_id), []).append(send)
    for (name, member_id), items in sorted(by_member.items()):
        lines.append(f"{name} (member {member_id}, {items[0].local_time.tzinfo}, {items[0].channel})")
        for send in items:
            mark = f"HELD: {send.held_reason}" if send.held_reason else "send"
            if send.delayed_from is not None and not send.held_reason:
                mark += f" (quiet hours: due {send.delayed_from:%H:%M})"
            what = send.body if send.body is not None else "(voice call)"
            lines.append(f"  {send.local_time:%a %Y-%m-%d %H:%M %Z}  {send.kind:<8} {mark}  {what}")
    if not sends:
        lines.append("  nothing to send")
    return "\n".join(lines)


__all__ = ["format_preview", "register"]

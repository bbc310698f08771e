"""Plain words for what the console shows: one clock ("6:30 pm") and one date ("Tue, Dec 8") for
English, time zones by city ("Chicago time"), the rules' reasons instead of their ids, placeholders by
name, and audit rows as sentences. Ids and raw values stay available inside a <details> toggle.

Every page formats times through these functions (as Jinja filters: see templating.register), so a
page cannot mix a 24-hour and a 12-hour clock.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from checkin import timezones

# --- clocks and dates (English) ------------------------------------------------------------------


def clock(value: time | datetime | None) -> str:
    """'6:30 pm', '12:00 pm', '9:05 am'."""
    if value is None:
        return "-"
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d} {'am' if value.hour < 12 else 'pm'}"


def day(value: date | datetime | None, year: bool = False) -> str:
    """'Tue, Dec 8' (with year: 'Tue, Dec 8, 2026')."""
    if value is None:
        return "-"
    text = f"{value:%a}, {value:%b} {value.day}"
    return f"{text}, {value.year}" if year else text


def zone_name(tz: str | None) -> str:
    """'America/Chicago' -> 'Chicago time'; 'UTC' -> 'UTC'."""
    if not tz or tz.upper() in ("UTC", "ETC/UTC"):
        return "UTC"
    return f"{timezones.city(tz)} time"


def when(value: datetime | None, tz: str | None = None, *, year: bool = False, zone: bool = True) -> str:
    """An instant in a zone: 'Tue, Dec 8, 6:30 pm CST' (the clock is named: a member may live in
    another zone than the reader)."""
    if value is None:
        return "-"
    local = value.astimezone(ZoneInfo(tz or "UTC"))
    text = f"{day(local, year)}, {clock(local)}"
    return f"{text} {local:%Z}" if zone else text


def earlier_stop(source: str, at: datetime | None, tz: str | None) -> str:
    """Why a member was added opted out, from the earlier opt-out's source and time (checkin.consent.
    added_opted_out): 'their number texted STOP on Thu, Dec 3, 2026, 6:09 pm New York time, before they
    were added'."""
    if source.startswith("keyword:"):
        how = f"texted {source.removeprefix('keyword:')}"
    elif source == "phrase":
        how = 'asked by text to get no more texts (such as "stop texting me")'
    elif source.startswith("carrier:"):
        how = "was reported by its phone company as blocking our texts"
    else:
        how = "said STOP"
    # The zone is named: a coordinator elsewhere reads "6:09 pm" as their own clock otherwise.
    said = f" on {when(at, tz, year=True, zone=False)} {zone_name(tz)}" if at is not None else ""
    return f"their number {how}{said}, before they were added"


def clock_in(value: datetime | None, tz: str | None = None) -> str:
    """Only the time of an instant in a zone: '6:30 pm'."""
    return clock(value.astimezone(ZoneInfo(tz or "UTC"))) if value is not None else "-"


# --- schedules in words --------------------------------------------------------------------------

_WEEKDAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last", -2: "second to last"}
_EVERY_NTH = {2: "every other", 3: "every third", 4: "every fourth"}
_UNITS = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _nth(n: int) -> str:
    if n in _ORDINALS:
        return _ORDINALS[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rule_words(rrule: str | None, at: str = "") -> str:
    """An RFC 5545 RRULE as a person says it: 'every other Tuesday', 'the second Thursday of each
    month', 'every day'. Covers what the builder writes and the common shapes the CLI can write
    (several days, a day of the month, COUNT/UNTIL); anything else ends in "(and more conditions)"
    so nobody mistakes a partial reading for the whole rule."""
    text = (rrule or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        key, _, value = piece.partition("=")
        if key.strip():
            parts[key.strip().upper()] = value.strip().upper()
    freq = parts.pop("FREQ", "")
    custom = "on a custom schedule" + at
    if freq not in _UNITS:
        return custom
    try:
        interval = int(parts.pop("INTERVAL", "1") or 1)
    except ValueError:
        return custom
    parts.pop("WKST", None)
    unit = _UNITS[freq]
    every = "every" if interval == 1 else _EVERY_NTH.get(interval, f"every {interval}")
    days, nths = [], []
    for token in filter(None, parts.pop("BYDAY", "").split(",")):
        match = re.fullmatch(r"([+-]?\d+)?(MO|TU|WE|TH|FR|SA|SU)", token)
        if not match:
            return custom
        if match.group(1):
            nths.append(f"{_nth(int(match.group(1)))} {_WEEKDAYS[match.group(2)]}")
        else:
            days.append(_WEEKDAYS[match.group(2)])
    monthdays = [int(d) for d in parts.pop("BYMONTHDAY", "").split(",") if re.fullmatch(r"-?\d+", d)]
    months = [
        _MONTHS[int(m) - 1] for m in parts.pop("BYMONTH", "").split(",") if m.isdigit() and 0 < int(m) <= 12
    ]
    if freq == "WEEKLY" and days and not nths:
        words = (
            f"{every} {_and(days)}"
            if interval in _EVERY_NTH or interval == 1
            else f"{every} weeks on {_and(days)}"
        )
    elif freq == "MONTHLY" and nths and not days:
        of = (
            "each month"
            if interval == 1
            else f"{every} month"
            if interval in _EVERY_NTH
            else f"every {interval} months"
        )
        words = f"the {_and(nths)} of {of}"
    elif freq == "MONTHLY" and monthdays and not (days or nths):
        of = (
            "each month"
            if interval == 1
            else f"{every} month"
            if interval in _EVERY_NTH
            else f"every {interval} months"
        )
        words = (
            f"the {_and([_nth(d) if d > 0 else 'last' if d == -1 else _nth(d) for d in monthdays])} of {of}"
        )
    elif freq == "DAILY" and not (days or nths or monthdays):
        words = (
            "every day"
            if interval == 1
            else f"{every} day"
            if interval in _EVERY_NTH
            else f"every {interval} days"
        )
    elif freq == "DAILY" and days and not nths:
        words = f"every {_and(days)}"
    elif not (days or nths or monthdays):
        words = f"{every} {unit}" if interval == 1 or interval in _EVERY_NTH else f"every {interval} {unit}s"
    else:
        return custom
    words += at
    if months:
        words += f", in {_and(months)}"
    count, until = parts.pop("COUNT", None), parts.pop("UNTIL", None)
    if count and count.isdigit():
        words += f", {count} times"
    if until and re.fullmatch(r"\d{8}(T\d{6}Z?)?", until):
        end = date(int(until[:4]), int(until[4:6]), int(until[6:8]))
        words += f", until {day(end, year=True)}"
    if parts:
        words += " (and more conditions)"
    return words


def schedule_words(rrule: str | None, start: time | None, tz: str | None) -> str:
    """'every other Tuesday at 6:30 pm, Chicago time'."""
    words = rule_words(rrule, f" at {clock(start)}" if start is not None else "")
    return f"{words}, {zone_name(tz)}"


# --- rule reasons --------------------------------------------------------------------------------

# Rules that are not in the rules files: the engine's own (scores, history, help) and the call flow's.
EXTRA_REASONS = {
    "history.score_1": "scored 1 of 5 on a check-in",
    "history.two_lowest": "scored 1 of 5 twice in a row",
    "history.drop": "a check-in score well below their recent ones",
    "history.missed_3": "missed three check-ins in a row",
    "help.request": "asked for help",
    "engine.error": "the rules could not read this message, so it went to a person",
    "voice.help_request": "asked for help during a call",
    "voice.phq9_item9": "on a call, said they had thoughts of being better off dead or of hurting themselves",
    "voice.no_facilitator_answered": "called to talk to a facilitator and nobody answered",
}
UNKNOWN_RULE = "a rule that is no longer in use"


@lru_cache(maxsize=1)
def _reasons() -> dict[str, str]:
    from checkin.rules import classifier, default_ruleset

    rules = default_ruleset()
    reasons = {r.id: r.reason for r in rules.rules if r.reason} | {
        c.id: c.reason for c in rules.combines if c.reason
    }
    return {k: what_it_recognised(v) for k, v in (EXTRA_REASONS | reasons | classifier.REASONS).items()}


# "pills saved up on purpose: 60 saved up, been stashing my meds": a rule's reason names what it
# recognises, then examples of wording it matches. Shown next to a member's case, the examples read as
# the member's own words (they may never have written them): only the part before them is shown.
_EXAMPLES = re.compile(r":\s(?![^()]*\))")
_QUOTED = re.compile(r"\s*\([^()]*['\"‘“][^()]*\)")  # "venganza ('va a pagar', 'make him pay')"


def what_it_recognised(reason: str) -> str:
    """A rule's reason without its example wording (a colon inside brackets is part of the name:
    "no reason to keep going (C-SSRS: wish to be dead)"), nor quoted examples in brackets."""
    said = _QUOTED.sub("", _EXAMPLES.split(reason, maxsplit=1)[0]).strip()
    # A reason that is only quoted wording ("'last text from me'") says it is the rule's, not theirs.
    return f"wording like {said}" if said[:1] in "'\"‘“" else said


def rule_ids() -> frozenset[str]:
    """Every rule id a page could show by mistake (the browser tests search for them)."""
    return frozenset(_reasons())


def _ids(ids) -> list[str]:
    if isinstance(ids, str):
        ids = ids.split(",")
    return [i.strip() for i in ids or () if i and i.strip()]


def rule_reasons(ids) -> str:
    """'si.kill_self,history.drop' (what an assessment stores) as the rules' reasons, one sentence
    each, for people who do not read rule files."""
    return "; ".join(_reason_list(ids))


def _reason_list(ids) -> list[str]:
    reasons = []
    for rule_id in _ids(ids):
        reason = _reasons().get(rule_id, UNKNOWN_RULE)
        if reason not in reasons:
            reasons.append(reason)
    return reasons


_RANK = {"crisis": 3, "urgent": 2, "watch": 1}


@lru_cache(maxsize=1)
def _rule_facts() -> dict[str, tuple[str, str]]:
    """Each rule's (language, level): "any", "en" or "es"; what it raises the message to."""
    from checkin.rules import default_ruleset

    rules = default_ruleset()
    return {r.id: (r.language, r.level) for r in [*rules.rules, *rules.combines]}


def rule_why(ids, language: str = "en") -> str:
    """One concise why for a case: the most serious of the reasons, in `language` (the staff's, the
    console's English) when a rule of that language or of any fired, else in the message's own (a
    Spanish text read by Spanish rules only); never a mixture. "(and 2 more signs)" counts the other
    reasons, deduplicated; all of them are under Rule ids (rule_details)."""
    facts, reasons = _rule_facts(), _reasons()
    found = []
    for order, rule_id in enumerate(_ids(ids)):
        lang, level = facts.get(rule_id, ("any", None))
        found.append((-_RANK.get(level, 0), order, lang, reasons.get(rule_id, UNKNOWN_RULE)))
    if not found:
        return ""
    own = [f for f in found if f[2] in ("any", language)]
    chosen = []
    for _rank, _order, _lang, reason in sorted(own or found):
        if reason not in chosen:
            chosen.append(reason)
    more = len(chosen) - 1
    return chosen[0] + (f" (and {more} more sign{'s' if more != 1 else ''})" if more else "")


_TIER_AS = {
    "primary": "as the facilitator on call",
    "backup": "as a backup",
    "coordinator": "as a coordinator",
}


def event_detail(detail: str | None) -> str:
    """An escalation event's stored detail in plain words ("coordinator tier, round 1" was the engine's)."""
    text = detail or ""
    paged = re.fullmatch(r"(\w+) tier, round (\d+)(?: \((.*)\))?", text)
    if paged:
        tier, round_, why = paged.group(1), int(paged.group(2)), paged.group(3)
        words = "paged " + _TIER_AS.get(tier, tier)
        if round_ > 1:
            words += f", again (round {round_} of paging)"
        return words + (f" ({why})" if why else "")
    nobody = re.fullmatch(
        r"nobody on call in the rota at (.*); alerting (\d+) coordinator\(s\) instead", text
    )
    if nobody:
        n = int(nobody.group(2))
        who = "a coordinator was" if n == 1 else f"{n} coordinators were"
        return f"Nobody was on call at {nobody.group(1)}, so {who} alerted instead."
    reach = re.fullmatch(r"the policy reaches nobody; paging (\d+) reachable staff instead", text)
    if reach:
        n = int(reach.group(1))
        who = "the one staff member who can be" if n == 1 else f"the {n} staff members who can be"
        return f"Nobody the policy names can be reached now, so {who} reached is paged instead."
    cancelled = re.fullmatch(r"cancelled (\d+) pending alert\(s\)", text)
    if cancelled:  # on taking a case: the alerts not yet gone out are stopped
        n = int(cancelled.group(1))
        if n == 0:
            return ""  # nothing was waiting: nothing to say
        return (
            "1 alert still waiting to go out was stopped"
            if n == 1
            else f"{n} alerts still waiting to go out were stopped"
        )
    return text


# How a staff member acted on a case (EscalationEvent.channel), as its timeline says it.
_CHANNEL_WORDS = {"sms": "by text", "voice": "by phone call", "console": "on the website"}


def channel_words(channel: str | None) -> str:
    return _CHANNEL_WORDS.get(channel or "", f"by {channel}" if channel else "")


def rule_details(ids) -> Markup:
    """The ids behind the reasons, in a closed toggle, for whoever tunes the rules."""
    shown = _ids(ids)
    if not shown:
        return Markup("")
    codes = " ".join(f"<code>{escape(i)}</code>" for i in shown)
    # Every sign behind the one reason a case page says (rule_why), deduplicated, with the ids.
    signs = "".join(f"<li>{escape(r)}</li>" for r in _reason_list(shown))
    html = f'<details class="ids"><summary>Rule ids</summary>{codes}<ul class="signs">{signs}</ul></details>'
    return Markup(html)  # noqa: S704 - escaped


# --- placeholders --------------------------------------------------------------------------------

PLACEHOLDER_NAMES = {
    "name": "Member's first name",
    "group": "Group name",
    "when": "Today or tomorrow (if it is)",
    "date": "Meeting date",
    "time": "Meeting time",
    "weekday": "Meeting weekday",
    "where": "Where (address or dial-in line)",
    "new_date": "New meeting date",
    "new_time": "New meeting time",
    "address": "Meeting address",
    "dial_in": "Dial-in number",
}


def placeholder_name(key: str) -> str:
    return PLACEHOLDER_NAMES.get(key, key.replace("_", " ").capitalize())


# --- texts and sends ----------------------------------------------------------------------------

SEND_KINDS = {
    "reminder": "Meeting reminder",
    "prompt": "Check-in prompt",
    "nudge": "Nudge (prompt not answered)",
    "change": "Meeting cancelled or moved",
    "welcome": "Welcome text",
}

HELD = {
    "opted out": "not sent: opted out",
    "paused": "not sent: paused",
    "live exchange": "waits: the member is texting with us right now",
    "quiet hours until stale": "not sent: their night lasts past the time this prompt is useful",
    "quiet hours until the meeting": "not sent: their night lasts until the meeting",
    "quiet hours until the next reminder": "not sent: their night lasts until the next reminder",
    "meeting started": "not sent: the meeting has started",
}


def held_words(reason: str | None) -> str:
    """Why the planner holds a send, as the preview says it."""
    if not reason:
        return ""
    if reason.startswith("paused through "):
        try:
            return f"not sent: paused through {day(date.fromisoformat(reason[15:]))}"
        except ValueError:
            pass
    return HELD.get(reason, f"not sent: {reason}")


def text_length(body: str) -> str:
    """'1 text message long' / '3 text messages long; this text uses "á", which makes each text hold
    70 characters instead of 160' (the same count as checkin.templates.segments and segments.js)."""
    from checkin.templates import segments

    encoding, _units, count = segments(body)
    words = f"{count} text message{'s' if count != 1 else ''} long"
    if encoding != "GSM-7":
        odd = next((ch for ch in body if segments(ch)[0] != "GSM-7"), "")
        words += f"; this text uses \u201c{odd}\u201d, which makes each text hold {67 if count > 1 else 70} characters instead of 160"
    return words


_SEGMENTS = re.compile(
    r"(\d+) SMS segments \((\d+) (GSM-7|UCS-2) characters with sample values\); at most (\d+) allowed"
)


def plain_error(error) -> str:
    """A refusal from the planner in a volunteer's words: '3 SMS segments (259 UCS-2 characters with
    sample values); at most 2 allowed' -> '3 text messages long with sample values (at most 2); it
    uses an accent or symbol that makes each text hold 70 characters instead of 160'."""

    def say(m: re.Match) -> str:
        count, _chars, encoding, limit = m.groups()
        words = f"{count} text messages long with sample values (at most {limit})"
        if encoding == "UCS-2":
            words += "; it uses an accent or symbol that makes each text hold 67 characters instead of 153"
        return words

    said = _SEGMENTS.sub(say, str(error))
    return _UNKNOWN.sub(
        lambda m: (
            f"{{{m.group(1)}}} is not something we can fill in; use the buttons: "
            + ", ".join(placeholder_name(a) for a in re.findall(r"\{(\w+)\}", m.group(2)))
        ),
        said,
    )


_UNKNOWN = re.compile(r"unknown placeholder \{(\w+)\} \(allowed: ([^)]*)\)")


# --- audit rows ----------------------------------------------------------------------------------


def changes(before: dict[str, str], after: dict[str, str]) -> str:
    """What an edit changed, for its audit row: "name: Tuesday → Wednesday; time zone: New York → Chicago"
    (fields in `before`'s order; "" if nothing changed)."""
    return "; ".join(
        f"{field}: {before[field]} → {after[field]}" for field in before if before[field] != after[field]
    )


AUDIT_VERBS = {
    "signin": "signed in",
    "signin_failed": "failed to sign in",
    "signout": "signed out",
    "password_reset": "reset a password",
    "view_messages": "read {member}'s messages",
    "view_paged_case": "opened a case they were paged for",
    "member_added": "added {member}",
    "member_edited": "changed {member}'s details",
    "consent": "recorded {member}'s consent",
    "import": "imported a roster",
    "staff_added": "added or reactivated a staff account",
    "staff_removed": "deactivated a staff account",
    "staff_edited": "changed a staff account",
    "on_call": "changed the on-call rota",
    "inbox_take": "took {member}'s conversation",
    "inbox_done": "closed {member}'s conversation",
    "reply": "replied to {member}",
    "reply_refused": "tried to reply to {member} (not sent)",
    "canned_replies": "saved the canned replies",
    "member_erased": "erased a member",
    "member_export": "downloaded {member}'s data",
    "view_member": "opened {member}'s page",
    "view_escalation": "opened a case",
    "case_taken": "took {member}'s case",
    "case_resolved": "resolved {member}'s case",
    "reveal_phone": "revealed {member}'s phone number",
    "simulate": "used the simulator",
    "setting_changed": "changed a setting",
    "cli": "used the checkin command",
    "export": "exported data",
    "erase": "erased data",
    "retention": "removed old records as the retention rules say",
    "announce": "sent an announcement",
}
_TOKEN = re.compile(r"\b(group|staff|window):(\d+)\b")


def _first(name: str) -> str:
    return name.split()[0] if name else name


_LINK = re.compile(r"\b(invite|reset) link:\d+(?: for (\d+) h)?")
_LEFT = re.compile(r"recovery code \((\d+) left\)")


def _account_sentence(action: str, detail: str, person: str | None) -> str | None:
    """Staff-account actions as a sentence (the coded detail stays in the row's "Recorded fields")."""
    link = _LINK.search(detail)
    if action == "invite_sent" and link:
        hours = f" (works {link.group(2)} hours)" if link.group(2) else ""
        if link.group(1) == "reset":
            return f"sent {person or 'someone'} a link to choose a new password{hours}"
        return f"invited {person or 'someone'} to the console: a link to choose a password{hours}"
    if action == "invite_used" and link:
        return (
            "chose a new password with a reset link"
            if link.group(1) == "reset"
            else ("accepted the invitation and chose a password")
        )
    if action == "signin_password":
        return "signed in with a password; asked for the app's code"
    if action == "signin_code_failed":
        return (
            "typed an app code that was already used"
            if "already used" in detail
            else "typed a wrong app code"
        )
    if action == "signin" and "authenticator app" in detail:
        return "signed in with a password and the app's code"
    if action == "signin" and (left := _LEFT.search(detail)):
        return f"signed in with a recovery code ({left.group(1)} left)"
    return None


AUDIT_ACCOUNT_VERBS = {
    "2fa_on": "turned on the authenticator app",
    "2fa_off": "turned off the authenticator app",
    "2fa_reset": "reset {person}'s authenticator app (they set it up again)",
    "invite_sent": "sent {person} a link to choose a password",
    "invite_used": "chose a password with a link",
    "invite_revoked": "cancelled {person}'s link to choose a password",
    "invite_texted": "texted {person} their link to choose a password",
    "password_changed": "changed their own password (other browsers signed out)",
    "password_reset": "set a password for {person}",
    "recovery_codes_new": "made new recovery codes (the old ones stop working)",
    "signin_password": "signed in with a password; asked for the app's code",
    "signin_code_failed": "typed a wrong app code",
}


_IMPORTED = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) row\(s\) skipped")
_REPORT_WEEKS = re.compile(r"weeks:(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)")
_ROWS = re.compile(r"\b(\d+) row\(s\)")
_ANNOUNCED = re.compile(r"announcement (\d+) to group (\d+): (\d+) member\(s\)")
MEMBER_FIELDS = {
    "name": "name",
    "language": "language",
    "channel": "how to reach them",
    "timezone": "time zone",
    "phone": "phone number",
    "consent": "consent source",
    "consent_source": "consent source",
    "consent_date": "consent date",
}


def _rows(n: str) -> str:
    return f"{n} row" if n == "1" else f"{n} rows"


def _roster_sentence(event, member_words: str, groups: dict) -> str | None:
    """The roster's rows (imports, exports, an import's edits) as sentences, or None for another row."""
    detail = event.detail or ""
    group = re.search(r"\bgroup:(\d+)", detail)
    group_name = groups.get(int(group.group(1)), "a group") if group else None
    if event.action == "import" and (counts := _IMPORTED.search(detail)):
        added, updated, unchanged, skipped = counts.groups()
        said = f"imported a roster: {added} added, {updated} updated, {skipped} skipped"
        return said + (f" ({unchanged} unchanged)" if unchanged != "0" else "")
    if event.action == "report_export" and (weeks := _REPORT_WEEKS.search(detail)):
        first, last = (date.fromisoformat(d) for d in weeks.groups())

        def short(d: date, year: bool = False) -> str:
            return f"{d:%b} {d.day}" + (f", {d.year}" if year else "")

        span = short(first) if first == last else f"{short(first, first.year != last.year)} – {short(last)}"
        return f"downloaded the weekly report{' for ' + group_name if group_name else ''}, weeks of {span}"
    if event.action == "export" and detail.startswith("check-ins CSV"):
        rows = _ROWS.search(detail)
        period = detail.rsplit("row(s), ", 1)[-1] if "row(s), " in detail else ""
        said = f"downloaded the check-ins of {group_name or 'a group'} ({_rows(rows.group(1)) if rows else 'CSV'}"
        return said + (f", {period})" if period else ")")
    if event.action == "export" and detail.startswith("members CSV"):
        rows = _ROWS.search(detail)
        filters = detail.split(";", 1)[1].strip() if ";" in detail else ""
        filters = re.sub(r"\bgroup:(\d+)", lambda m: groups.get(int(m.group(1)), "a group"), filters)
        said = f"downloaded the members list ({_rows(rows.group(1)) if rows else 'CSV'}"
        return said + (f"; filter: {filters})" if filters and filters != "no filter" else ")")
    if event.action == "announce" and (sent := _ANNOUNCED.match(detail)):
        number, group_id, members = sent.groups()
        return (
            f"sent announcement #{number} to {groups.get(int(group_id), 'a group')} "
            f"({members} member{'' if members == '1' else 's'})"
        )
    if event.action == "member_added" and detail.startswith("import:"):
        return f"added {member_words} (import)"
    if event.action == "member_edited" and detail.startswith("import:"):
        fields, moves = [], []
        for part in detail.removeprefix("import:").split(","):
            if part.startswith("group+") and part[6:].isdigit():
                moves.append("added them to " + groups.get(int(part[6:]), "a group"))
            elif part:
                fields.append(MEMBER_FIELDS.get(part, part.replace("_", " ")))
        said = [f"changed {member_words}'s {_and(fields)}"] if fields else []
        if moves:
            said.append(moves[0] if said else f"added {member_words} to {moves[0].split(' to ', 1)[1]}")
        return (" and ".join(said) or f"changed {member_words}'s details") + " (import)"
    return None


def audit_sentence(event, who: str | None, member: str | None, groups: dict, staff: dict) -> str:
    """'Casey Coordinator changed Frankie's on-call times for Tuesday Group: window added: ...'.
    `groups` and `staff` map ids to names, for the ids a detail carries ("group:2 staff:1")."""
    actor = who or ("The checkin command" if event.action == "cli" else "Someone")
    if event.action in AUDIT_ACCOUNT_VERBS or event.action == "signin":
        detail = event.detail or ""
        named = {kind: int(n) for kind, n in _TOKEN.findall(detail)}
        person = staff.get(named["staff"]) if "staff" in named else None
        sentence = _account_sentence(event.action, detail, person)
        if sentence is None and event.action in AUDIT_ACCOUNT_VERBS:
            sentence = AUDIT_ACCOUNT_VERBS[event.action].format(person=person or "someone")
        if sentence is not None:
            return f"{actor} {sentence}"
    member_words = member or (f"member #{event.member_id}" if event.member_id else "a member")
    said = _roster_sentence(event, member_words, groups)
    if said is not None:
        return f"{actor} {said}"
    verb = AUDIT_VERBS.get(event.action, event.action.replace("_", " ")).format(member=member_words)
    detail = event.detail or ""
    named = {kind: int(n) for kind, n in _TOKEN.findall(detail)}
    rest = _TOKEN.sub("", detail).strip(" :,;")
    if event.action == "on_call" and "staff" in named and "group" in named:
        person = _first(staff.get(named["staff"], "someone"))
        verb = f"changed {person}'s on-call times for {groups.get(named['group'], 'a group')}"
    elif "group" in named and event.action == "setting_changed" and rest.startswith("created"):
        # "created Evening Group: name: Evening Group; time zone: Chicago; number: none"
        verb, rest = (
            f"created {groups.get(named['group'], 'a group')}",
            rest.removeprefix("created").strip(" :"),
        )
    elif "group" in named:
        verb += f" for {groups.get(named['group'], 'a group')}"
    elif "staff" in named:
        verb += f" ({staff.get(named['staff'], 'a staff member')})"
    if event.escalation_id:
        verb += f" (case #{event.escalation_id})"
    rest = plurals(rest.replace("_", " ").replace("=", ": "))
    return f"{actor} {verb}" + (f": {rest}" if rest else "")


_COUNTED = re.compile(r"\b(\d+) ([a-z-]+)\(s\)")


def plurals(text: str) -> str:
    """A stored detail's "1 message(s)" / "3 line(s)" as a person writes it: "1 message", "3 lines"."""
    return _COUNTED.sub(lambda m: f"{m.group(1)} {m.group(2)}{'' if m.group(1) == '1' else 's'}", text)

"""Adding groups, members and staff, with the validation the CLI and the console share."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import consent, languages, timezones
from checkin.errors import ValidationError
from checkin.models import (
    CHANNELS,
    STAFF_ROLES,
    ConsentEvent,
    Group,
    GroupStaff,
    Member,
    StaffUser,
)
from checkin.phones import InvalidPhone, normalize_phone


def check_timezone(name: str) -> str:
    if not name or name not in available_timezones():
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"unknown time zone {name!r} (use an IANA name such as America/New_York)"
            ) from None
    return name


class Refused(ValidationError):
    """A refusal that names the input at fault (`field`), so a form can mark that field and say it in
    its own words: `holder` is the staff user who already has the email or phone number asked for,
    `advice` what to type instead of a phone number that is not one."""

    def __init__(
        self, message: str, field: str, *, holder: StaffUser | None = None, advice: str | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.holder = holder
        self.advice = advice


def _phone(raw: str, what: str = "phone") -> str:
    try:
        return normalize_phone(raw)
    except InvalidPhone as exc:
        raise Refused(f"{what}: {exc}", "phone", advice=exc.advice) from None


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise Refused(f"{what} must be one of {', '.join(allowed)}, not {value!r}", what)
    return value


def find_group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise ValidationError(f"no group named {name!r}")
    return group


def is_group_number(session: Session, number: str) -> bool:
    """Whether `number` (E.164) is a group's own number."""
    return session.scalar(select(Group.id).where(Group.phone_number == number)) is not None


def add_group(session: Session, name: str, timezone: str, phone_number: str | None = None) -> Group:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError("group name must be 1-120 characters")
    timezone = timezones.resolve(timezone)
    if session.scalar(select(Group.id).where(Group.name == name)):
        raise ValidationError(f"a group named {name!r} already exists")
    number = _phone(phone_number, "group phone") if phone_number else None
    if number and session.scalar(select(Group.id).where(Group.phone_number == number)):
        raise ValidationError("another group already uses that phone number")
    group = Group(name=name, timezone=timezone, phone_number=number)
    session.add(group)
    session.flush()
    return group


def add_member(
    session: Session,
    group_name: str,
    phone: str,
    display_name: str,
    language: str = "en",
    timezone: str | None = None,
    channel: str = "sms",
    consent_source: str = "staff",
) -> Member:
    group = find_group(session, group_name)
    number = _phone(phone)
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 80:
        raise ValidationError("name must be 1-80 characters")
    language = languages.code(language, default="en")
    _choice(channel, CHANNELS, "channel")
    if timezone:
        timezone = timezones.resolve(timezone)
    if session.scalar(select(Member.id).where(Member.phone == number)):
        raise ValidationError("a member with that phone number already exists")
    member = Member(
        phone=number,
        display_name=display_name,
        language=language,
        timezone=timezone,
        channel=channel,
        status="active",
    )
    member.groups.append(group)
    session.add(member)
    session.flush()
    # Adding someone is recorded as their opt-in, with who added them.
    session.add(ConsentEvent(member_id=member.id, kind="opt_in", source=consent_source))
    session.flush()
    # Their number said STOP before they were a member: added opted out (`member.opted_out` tells the adder).
    consent.apply_number_opt_out(session, member)
    return member


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def set_staff_phone(session: Session, staff: StaffUser, phone: str | None) -> None:
    """The number a staff member is alerted on; none means they get no alerts (the console says so)."""
    number = _phone(phone, "phone for alerts") if phone else None
    if number and session.scalar(
        select(StaffUser.id).where(StaffUser.phone == number, StaffUser.id != staff.id)
    ):
        raise ValidationError("phone for alerts: another staff user has that number")
    staff.phone = number


def add_staff(
    session: Session,
    name: str,
    email: str,
    role: str,
    phone: str | None = None,
    group_names: list[str] | tuple[str, ...] = (),
    tier: str = "primary",
    password_hash: str | None = None,
) -> StaffUser:
    """A staff user. Every check comes before anything is added to the session: a refusal (Refused,
    naming the field; ValidationError for an unknown group) leaves nothing to roll back."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise Refused("name must be 1-80 characters", "name")
    email = (email or "").strip().lower()
    if not EMAIL.match(email):
        raise Refused(f"{email!r} is not an email address", "email")
    _choice(role, STAFF_ROLES, "role")
    _choice(tier, ("primary", "backup"), "tier")
    holder = session.scalar(select(StaffUser).where(StaffUser.email == email))
    if holder is not None:
        raise Refused("a staff user with that email already exists", "email", holder=holder)
    number = _phone(phone) if phone else None
    holder = session.scalar(select(StaffUser).where(StaffUser.phone == number)) if number else None
    if holder is not None:
        raise Refused("a staff user with that phone number already exists", "phone", holder=holder)
    groups = [find_group(session, g) for g in group_names]
    staff = StaffUser(name=name, email=email, role=role, phone=number, password_hash=password_hash)
    session.add(staff)
    session.flush()
    for group in groups:
        session.add(GroupStaff(group_id=group.id, staff_id=staff.id, tier=tier, on_call=True))
    session.flush()
    return staff

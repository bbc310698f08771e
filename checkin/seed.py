"""Demo data for `checkin dev` on an empty database."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin.directory import add_group, add_member, add_staff
from checkin.models import Group, StaffUser
from checkin.schedules import set_schedule

DEMO_GROUP = "Tuesday Evening Group"
DEMO_GROUP_NUMBER = "+15005550006"  # Twilio's magic test number: never a real phone
DEMO_MEMBERS = (("+12025550101", "Sam Rivera", "en"), ("+12025550102", "Rosa Medina", "es"))
DEMO_FACILITATOR = ("Alex Chen", "alex@example.org", "+12025550199")
# The coordinator has a phone: the last step of every escalation (and an unknown number's crisis) pages them.
DEMO_COORDINATOR = ("Jordan Lee", "jordan@example.org", "+12025550198")


def seed_if_empty(session: Session) -> bool:
    if session.scalar(select(Group.id).limit(1)) is not None:
        return False
    group = add_group(session, DEMO_GROUP, "America/New_York", DEMO_GROUP_NUMBER)
    set_schedule(
        session,
        group.id,
        rrule="FREQ=WEEKLY;BYDAY=TU",
        start_local=time(18, 0),
        duration_minutes=90,
        location="12 Main St",
    )
    for phone, name, lang in DEMO_MEMBERS:
        add_member(session, DEMO_GROUP, phone, name, lang, consent_source="seed")
    name, email, phone = DEMO_FACILITATOR
    add_staff(session, name, email, "facilitator", phone, [DEMO_GROUP])
    name, email, phone = DEMO_COORDINATOR
    add_staff(session, name, email, "coordinator", phone)
    return True


def set_demo_passwords(session: Session, password: str) -> None:
    """Give the demo coordinator and facilitator a console password, unless they already have one."""
    from checkin.accounts.passwords import hash_password

    emails = (DEMO_COORDINATOR[1], DEMO_FACILITATOR[1])
    for staff in session.scalars(select(StaffUser).where(StaffUser.email.in_(emails))):
        if not staff.password_hash:
            staff.password_hash = hash_password(password)

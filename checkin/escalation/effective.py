"""The policy that pages a group's cases: the one function the engine, the digest, the reach check
and the console's preview all read it through.

config/escalation.toml is the default (its [default] section, or the group's own section there); a
group whose coordinators set its policy in the console has a row in escalation_policy_overrides, and
that row, checked by the same validation as the file, is the group's policy until "reset to default"
deletes it.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from checkin import unit_of_work
from checkin.escalation.models import PolicyOverride
from checkin.escalation.policy import GroupPolicy, Policy, PolicyError, group_from_settings
from checkin.models import Group

log = logging.getLogger("checkin.escalation")

_MISSING = object()


def _note_key(group_id: int) -> tuple:
    return ("escalation.policy", group_id)


def file_policy(policy: Policy, group: Group | None) -> GroupPolicy:
    """What config/escalation.toml says for the group (what "reset to default" returns it to)."""
    return policy.for_group(group.name if group is not None else None)


def group_policy(session: Session, policy: Policy, group: Group | int | None) -> GroupPolicy:
    """The group's effective escalation policy: its console override if it has one, else the file's.
    Read once per unit of work and group (every alert of a case asks)."""
    if group is None:
        return policy.default
    group_id = group if isinstance(group, int) else group.id
    cached = unit_of_work.noted(session, _note_key(group_id), _MISSING)
    if cached is not _MISSING:
        return cached
    if isinstance(group, int):
        group = session.get(Group, group)
        if group is None:
            return policy.default
    base = file_policy(policy, group)
    settings = session.scalar(select(PolicyOverride.settings).where(PolicyOverride.group_id == group_id))
    out = base
    if settings is not None:
        try:
            out = group_from_settings(settings, base)
        except PolicyError as exc:
            # A row the console could not have written (edited by hand): the file still pages people.
            log.error(
                "group=%s escalation policy override is not valid (%s); using the file's", group_id, exc
            )
    unit_of_work.note(session, _note_key(group_id), out)
    return out


def override_of(session: Session, group_id: int) -> PolicyOverride | None:
    return session.get(PolicyOverride, group_id)


def forget(session: Session, group_id: int) -> None:
    """Drop what this unit of work remembered of the group's policy (after saving or resetting it)."""
    unit_of_work.note(session, _note_key(group_id), _MISSING)


def override_policies(session: Session, policy: Policy) -> list[GroupPolicy]:
    """Every group override's policy, over the file's default (for the reach check's shortcut)."""
    out = []
    for settings in session.scalars(select(PolicyOverride.settings)):
        try:
            out.append(group_from_settings(settings, policy.default))
        except PolicyError:
            continue  # group_policy logs it and uses the file's
    return out

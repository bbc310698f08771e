"""Group announcements: one message to every active member, in their language, after their night.

The names below are loaded on first use: `checkin.models` imports this package's models while the
outbox (which the service needs) may itself be importing `checkin.models`."""

from __future__ import annotations

__all__ = [
    "PURPOSE",
    "Announcement",
    "AnnouncementError",
    "KeyUsed",
    "Preview",
    "Progress",
    "preview",
    "progress",
    "request_key_for",
    "send",
    "send_gate",
]


def __getattr__(name: str):
    if name == "Announcement":
        from checkin.announcements.models import Announcement

        return Announcement
    if name in __all__:
        from checkin.announcements import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

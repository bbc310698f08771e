"""Group announcements: one message to every active member, in their language, after their night."""

from checkin.announcements.models import Announcement
from checkin.announcements.service import (
    PURPOSE,
    AnnouncementError,
    KeyUsed,
    Preview,
    Progress,
    preview,
    progress,
    request_key_for,
    send,
    send_gate,
)

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

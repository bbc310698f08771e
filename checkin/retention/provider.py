"""The port through which retention and erasure remove what the messaging provider keeps: message
resources (their bodies), call recordings with their transcriptions, and call records.

Every method treats "already gone" as done, so a run that stopped half-way is simply run again."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

# Twilio's SIDs: only these name something the provider holds (a voice step's stored "CA...:menu" does not).
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
CALL_SID = re.compile(r"CA[0-9a-f]{32}")
RECORDING_SID = re.compile(r"RE[0-9a-f]{32}")
_RECORDING_IN_URL = re.compile(r"/Recordings/(RE[0-9a-f]{32})(?:\.\w+)?$")


class ProviderCleanupError(Exception):
    """The provider refused or could not be reached: the rows stay, and the next run tries again."""


class ProviderData(Protocol):
    name: str

    def delete_message(self, sid: str) -> int:
        """1 if deleted now, 0 if the provider had no such message (already gone)."""
        ...

    def delete_call_recordings(self, call_sid: str | None, recording_sids: Iterable[str]) -> int:
        """Delete the call's recordings (those listed for it, and `recording_sids`), each one's
        transcriptions first. Returns how many resources were deleted."""
        ...

    def delete_call(self, sid: str) -> int:
        """1 if deleted now, 0 if the provider had no such call."""
        ...


class NoProviderData:
    """The console backend keeps nothing anywhere else."""

    name = "none"

    def delete_message(self, sid: str) -> int:
        return 0

    def delete_call_recordings(self, call_sid: str | None, recording_sids: Iterable[str]) -> int:
        return 0

    def delete_call(self, sid: str) -> int:
        return 0


def recording_sid(url: str | None) -> str | None:
    """The recording's SID in a RecordingUrl Twilio posted (".../Recordings/RE..."), if it is one."""
    match = _RECORDING_IN_URL.search(url or "")
    return match.group(1) if match else None

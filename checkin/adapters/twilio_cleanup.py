"""Twilio's side of retention and erasure (checkin.retention.provider.ProviderData): DELETE of messages, call
recordings, their transcriptions and calls through the twilio library. A 404 means already deleted."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from twilio.base.exceptions import TwilioException, TwilioRestException

from checkin.adapters.twilio_rest import make_client
from checkin.retention.provider import CALL_SID, RECORDING_SID, ProviderCleanupError


class TwilioDataCleanup:
    name = "twilio"

    def __init__(self, settings, timeout: float = 10.0):
        self.client = make_client(settings, timeout)

    def delete_message(self, sid: str) -> int:
        return _gone(lambda: self.client.messages(sid).delete())

    def delete_call_recordings(self, call_sid: str | None, recording_sids: Iterable[str]) -> int:
        sids = {s for s in recording_sids if RECORDING_SID.fullmatch(s)}
        if call_sid and CALL_SID.fullmatch(call_sid):
            sids |= {r.sid for r in _listed(lambda: self.client.calls(call_sid).recordings.list())}
        deleted = 0
        for sid in sorted(sids):
            # Deleting a recording leaves its transcriptions at Twilio: they go first, each by itself.
            for transcription in _listed(lambda sid=sid: self.client.recordings(sid).transcriptions.list()):
                deleted += _gone(lambda t=transcription.sid: self.client.transcriptions(t).delete())
            deleted += _gone(lambda sid=sid: self.client.recordings(sid).delete())
        return deleted

    def delete_call(self, sid: str) -> int:
        return _gone(lambda: self.client.calls(sid).delete())


def _gone(delete: Callable[[], object]) -> int:
    """1 if deleted now, 0 if it was already gone; ProviderCleanupError otherwise."""
    try:
        delete()
    except TwilioRestException as exc:
        if exc.status == 404:
            return 0
        raise ProviderCleanupError(f"{exc.status} {exc.code}") from None
    except (TwilioException, OSError) as exc:
        raise ProviderCleanupError(type(exc).__name__) from None
    return 1


def _listed(list_: Callable[[], list]) -> list:
    """A list of what is left; empty when its parent (a call, a recording) is gone."""
    try:
        return list_()
    except TwilioRestException as exc:
        if exc.status == 404:
            return []
        raise ProviderCleanupError(f"{exc.status} {exc.code}") from None
    except TwilioException as exc:
        # A page the library could not fetch carries the response: "Unable to fetch page", response.
        status = getattr(exc.args[1], "status_code", None) if len(exc.args) > 1 else None
        if status == 404:
            return []
        raise ProviderCleanupError(f"{status or type(exc).__name__}") from None
    except OSError as exc:
        raise ProviderCleanupError(type(exc).__name__) from None

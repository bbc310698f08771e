"""Point the twilio library at another API host (a loopback fake in tests, a proxy in staging)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient


class RebasedTwilioHttpClient(TwilioHttpClient):
    """Sends every request the library builds for *.twilio.com to `base_url` instead."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        base = urlsplit(base_url)
        self._scheme, self._netloc = base.scheme, base.netloc
        self._prefix = base.path.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            url = urlunsplit(
                (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
            )
        return super().request(method, url, *args, **kwargs)

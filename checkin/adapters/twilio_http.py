"""The twilio library's HTTP client without its request log, optionally pointed at another API host
(a loopback fake in tests, a proxy in staging)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient


class QuietTwilioHttpClient(TwilioHttpClient):
    """The library logs every request's query at INFO (`To=+1...&From=...` when listing messages to
    reconcile a send): phone numbers in the logs. Only the method and path are logged, at DEBUG."""

    def log_request(self, kwargs) -> None:
        self.logger.debug("%s %s", kwargs.get("method"), urlsplit(kwargs.get("url") or "").path)

    def log_response(self, status_code, response) -> None:
        self.logger.debug("response %s", status_code)


class RebasedTwilioHttpClient(QuietTwilioHttpClient):
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

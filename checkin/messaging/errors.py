"""Twilio error codes in words, and which of them are worth retrying."""

# https://www.twilio.com/docs/api/errors — the codes a messaging service meets in practice.
MEANINGS: dict[int, str] = {
    20003: "authentication failed (check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)",
    20429: "too many requests: Twilio asked us to slow down",
    21211: "the 'To' number is not a valid phone number",
    21214: "the 'To' number cannot be reached",
    21408: "sending to this region is not enabled on the account",
    21606: "the 'From' number cannot send SMS",
    21610: "the recipient replied STOP: Twilio blocks messages to them",
    21612: "this route between 'From' and 'To' is not supported",
    21614: "the 'To' number is not a mobile number (landline?)",
    21617: "the message body is too long",
    30001: "queue overflow at Twilio",
    30002: "the Twilio account is suspended",
    30003: "the handset is unreachable (switched off or out of coverage)",
    30004: "the message was blocked by the recipient or their carrier",
    30005: "the number is unknown or no longer in service",
    30006: "landline or unreachable carrier",
    30007: "the carrier filtered the message as spam",
    30008: "unknown error at the carrier",
    30032: "the toll-free number is not verified",
    30034: "the sending number is not registered for A2P 10DLC",
}

# Worth another try later: rate limits, queue overflow, an unreachable handset, server trouble.
TRANSIENT_CODES = {20429, 30001, 30003, 30008}


def meaning(code: int | None, fallback: str | None = None) -> str:
    if code is None:
        return fallback or "unknown error"
    return MEANINGS.get(code, fallback or f"Twilio error {code}")


def is_transient(code: int | None, http_status: int | None) -> bool:
    if code in TRANSIENT_CODES:
        return True
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return True
    if code is None and http_status is None:  # noqa: SIM103 - each retryable case is its own line on purpose
        return True  # the network failed: we never heard back
    return False

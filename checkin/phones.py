"""Phone numbers: parse and normalise to E.164 with libphonenumber."""

import phonenumbers


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str, region: str = "US") -> str:
    """Return the E.164 form of `raw`, or raise InvalidPhone saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def masked(e164: str | None) -> str:
    """Last two digits only, for operator output where a full number would be too much."""
    if not e164:
        return "-"
    return "…" + e164[-2:]

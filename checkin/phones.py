"""Phone numbers: parse and normalise to E.164 with libphonenumber."""

import re

import phonenumbers

# Digits and the punctuation people write numbers with. libphonenumber would also read letters (an
# extension, "x", a vanity word) and drop them, and a typo then matches someone else's number.
_WRITTEN = re.compile(r"[\d\s().+\-/]+")


class InvalidPhone(ValueError):
    """Not a phone number. str() says why in a line for a log or a CLI (the number quoted); `advice` says
    it in a sentence a person at a form can act on."""

    def __init__(self, message: str, advice: str) -> None:
        super().__init__(message)
        self.advice = advice


EXAMPLE = "312 555 0199"


def normalize_phone(raw: str, region: str = "US") -> str:
    """Return the E.164 form of `raw`, or raise InvalidPhone saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("phone number is empty", f"Type a phone number with its area code, e.g. {EXAMPLE}")
    if not _WRITTEN.fullmatch(text):
        raise InvalidPhone(
            f"{raw!r} is not a phone number: only digits, spaces and + - ( ) . belong in one",
            f"Only digits, spaces and + - ( ) . belong in a phone number (no extension), e.g. {EXAMPLE}",
        )
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(
            f"{raw!r} is not a phone number",
            f"That is not a phone number: type the digits with the area code, e.g. {EXAMPLE}",
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(f"{raw!r} is not a valid phone number", _why_not_valid(parsed))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _why_not_valid(parsed: phonenumbers.PhoneNumber) -> str:
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason in (
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        return f"That phone number looks too short: include the area code, e.g. {EXAMPLE}"
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return f"That phone number looks too long: type 10 digits with the area code, e.g. {EXAMPLE}"
    return (
        f"That phone number does not exist: check the area code and digits, e.g. {EXAMPLE} "
        "(a number in another country starts with + and its country code)"
    )


def masked(e164: str | None) -> str:
    """Last two digits only, for operator output where a full number would be too much."""
    if not e164:
        return "-"
    return "…" + e164[-2:]

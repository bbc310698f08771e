"""Errors the domain raises for people to read. Kept apart so any module can import them without cycles."""


class ValidationError(ValueError):
    """Input a person typed is not acceptable; the message says why in one line."""

"""Tables for this part of the domain. Imported by `checkin.models` so Alembic and the app see them."""

from checkin.db import Base  # noqa: F401

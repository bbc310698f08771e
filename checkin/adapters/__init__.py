"""Adapters: the only part of checkin/ that talks to Redis, RQ or Twilio (see the import contract in
pyproject.toml). The domain names what it needs (a dispatcher, a messaging port, a pacer's store);
these provide it, and checkin.bootstrap plugs them in."""

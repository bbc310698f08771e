"""Retention: how long each kind of member data is kept (policy), and the nightly run that removes
what has expired, here and at the messaging provider (run), keeping counts (models)."""

"""Staff accounts for the console: passwords, sign-in throttling, audit."""

"""RQ adapters: jobs that deliver the outbox, and the cron registration."""

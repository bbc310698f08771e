"""Answers to reminders and prompts: RSVPs, WHEN, check-in scores in words."""

"""Facilitators talk with members: the shared inbox and replies from the group's number.

Pure domain code (no Flask, no RQ). Modules:

- `models`       the tables: Conversation (a member's texts waiting for a human), CannedReply
- `conversations` filing a free-text message the service could not answer, the honest automatic
                 reply, take/done/read, unread counts per group
- `replies`      a person's reply to a member through the outbox from the group's number (refused to
                 an opted-out member, with the reason), by console or by `R 12 <text>`; canned replies
"""

"""How often an automatic answer that says the same thing again is repeated to one member.

The inbox's answer to free text ("Nobody reads texts to this number..." or "A facilitator will read your
message within ...") and the answer to a text with no words ("your text reached us empty") would go to
every such text: an auto-responder at the other end ("I am driving, I will text you later") answers each,
and the two ping-pong for as long as both run. Answering only the first left a person who wrote again in
silence for as long as the conversation stayed open, days in a group nobody reads.

So each is repeated at most once per REPEAT_AFTER (the member was told it a moment ago; a loop costs at
most six texts a day), and a person writing again later is always answered. A crisis or urgent text, a
STOP, START or HELP, an RSVP, a score and WHEN are answered every time: they never reach this rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from checkin.models import Member

REPEAT_AFTER = timedelta(hours=4)


def wordless_reply_due(session: Session, member_id: int, now: datetime) -> bool:
    """Whether to answer this member's text with no words (and note that we do): one UPDATE that only
    one of two such texts decided at once can win."""
    won = session.execute(
        update(Member)
        .where(
            Member.id == member_id,
            or_(Member.wordless_replied_at.is_(None), Member.wordless_replied_at <= now - REPEAT_AFTER),
        )
        .values(wordless_replied_at=now)
        .returning(Member.id)
        .execution_options(synchronize_session=False)
    ).first()
    return won is not None

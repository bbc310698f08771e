"""What a member is told about free text the service cannot answer (checkin.inbox), in the suite's usual
setting: the group's number +15005550006 and no staff who can sign in to read the inbox."""

from __future__ import annotations

NOBODY_READS_SAM = (
    "Thanks, Sam. Nobody reads texts to this number. To talk to someone call +15005550006. "
    "In a crisis, call or text 988."
)
NOBODY_READS_ROSA = (
    "Gracias, Rosa. Nadie lee los mensajes de este teléfono. Para hablar, llama al +15005550006. "
    "En crisis llama al 988 y marca 2."
)

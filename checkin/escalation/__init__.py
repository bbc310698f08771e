"""Escalation: an open case for a member at a risk level, its alerts, acknowledgement and resolution.

Pure domain code (no Flask, no RQ). Modules:

- `models`   the tables: Assessment records, Escalation, EscalationEvent (the audit trail)
- `policy`   config/escalation.toml: who is told, by what, and how long to wait before widening
- `service`  assessing an inbound message, opening/attaching/raising, acknowledging, resolving,
             `advance(session, now)` for the timers, and the outbox hook for failed alerts
- `commands` the facilitators' SMS commands (ACK, RESOLVE, LIST, ONCALL, OFFCALL)
- `reach`    groups whose policy reaches nobody now, and cases left unacknowledged (/healthz, console)

This package's __init__ stays light: `checkin.models` imports `checkin.escalation.models`.
"""

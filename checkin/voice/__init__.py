"""Voice: the keypad and speech menu for members who call, and outbound calls.

`checkin.voice.outbound` registers the outbox gate (cap on member calls in progress) and the call
status hook (retries); the web app and the delivery job import it.
"""

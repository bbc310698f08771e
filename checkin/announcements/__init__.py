"""Group announcements: one message to every active member, in their language, after their night.

`models` holds the table, `service` the preview, the send-once write, progress and the send gate. This
package imports neither: `checkin.models` loads `models` while the outbox, which `service` needs, may be
loading `checkin.models`.
"""

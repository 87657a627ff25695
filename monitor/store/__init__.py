"""SQLite storage: the raw log, per-minute activity, reports, day results, alerts and the outbox.

The only room that imports aiosqlite. May import `devices` (reading types), `monitor.ingest`
(the activity values it stores), `monitor.recovery` (the values it stores) and `monitor.errors`;
never `mqtt`, `service` or `cli`.
"""

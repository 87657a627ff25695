"""Readings in, minutes out: step counters, raw motion and link events become per-minute activity.

Holds the bounded ingest pipeline and the pure processors behind it. May import `devices`
(the reading types), `monitor.gait`, `monitor.days`, `monitor.clock`, `monitor.errors` and
`monitor.store` (the pipeline writes the raw log and the minutes); never `mqtt` or `service`.
"""

"""The recovery plan and its rules, pure: days, targets, symptoms, trends, alert drafts, policy.

Nothing here does I/O or reads a clock: every moment is an argument. May import `devices`
(reading types), `monitor.config`, `monitor.days` and `monitor.ingest.activity` (the day's
totals it judges); never `store`, `mqtt`, `service` or `cli`.
"""

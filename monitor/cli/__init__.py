"""The `recovery-monitor` command and its subcommands (run, demo, report, log, analyze, scan).

May import every room. Only `demo_run` and `scan --virtual` import `simulators` (and so
Bumble), and only when they run, so that `run` and the other commands start without them.
"""

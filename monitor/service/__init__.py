"""The running service: its lifetimes (`App`), the day's timetable, command intake and reactions.

Ties the rooms together: devices -> ingest -> store -> recovery rules -> mqtt. May import every
room but `cli`; imports no simulator.
"""

"""MQTT: the paho client, the outbox, command parsing, retained state and Home Assistant discovery.

Only `client.py` imports paho. May import `monitor.recovery`, `monitor.ingest`, `monitor.store`
and the top-level modules; never `service` or `cli`.
"""

"""The floor of start-up: the service's libraries imported, connect, publish one retained state.

`python -m bench.startup_floor PORT`: imports what `recovery-monitor run` imports from outside
the project (bleak, paho-mqtt, aiosqlite, numpy), connects to the broker on 127.0.0.1:PORT,
publishes a retained `recovery/p1/state` and then idles until terminated (for its RSS).
"""

from __future__ import annotations

import signal
import sys
import threading

import aiosqlite  # noqa: F401 - imported for its cost, as the service does
import bleak  # noqa: F401
import numpy  # noqa: F401
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion


def main(port: int) -> None:
    """Connect, publish, idle."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    client = Client(CallbackAPIVersion.VERSION2, client_id="bench-floor")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish("recovery/p1/state", b'{"floor": true}', qos=1, retain=True).wait_for_publish()
    stop.wait()
    client.loop_stop()
    client.disconnect()


if __name__ == "__main__":
    main(int(sys.argv[1]))

"""A private Mosquitto on a free loopback port, for the demo and the tests: start, kill, restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.errors import MonitorError

# The broker refuses anything larger; the service's own limits sit well below.
MAX_PACKET_BYTES = 65_536
START_TIMEOUT_S = 10.0


class BrokerError(MonitorError):
    """The private broker could not be started."""


def find_mosquitto() -> str:
    """The path of the mosquitto binary; BrokerError saying how to install it if there is none."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if found is None:
        raise BrokerError(
            "mosquitto is not installed: install it with `sudo apt-get install -y mosquitto` "
            "or point the demo at a broker with --broker HOST:PORT"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateBroker:
    """A Mosquitto process of our own, with its persistence in `workdir`."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        persistence: bool = True,
        extra_config: str = "",
    ) -> None:
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._persistence = persistence
        self._extra = extra_config
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.returncode is None

    def config_text(self) -> str:
        """The mosquitto.conf this broker runs with."""
        lines = [
            f"listener {self.port} {self.host}",
            f"max_packet_size {MAX_PACKET_BYTES}",
            "log_dest file " + str(self.workdir / "mosquitto.log"),
            "log_type error",
            "log_type warning",
        ]
        if "allow_anonymous" not in self._extra:
            lines.append("allow_anonymous true")
        if self._persistence:
            # Save on every change, so even a SIGKILL keeps sessions and queued messages.
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                "autosave_interval 1",
                "autosave_on_changes true",
            ]
        if os.geteuid() == 0:
            # As root mosquitto would drop to user "mosquitto" and then fail, silently, to
            # write its database into our private directory.
            lines.append("user root")
        return "\n".join(lines) + "\n" + self._extra

    async def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text(), encoding="utf-8")
        self._process = await asyncio.create_subprocess_exec(
            find_mosquitto(),
            "-c",
            str(conf),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while loop.time() < deadline:
            if self._process.returncode is not None:
                break
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        log_file = self.workdir / "mosquitto.log"
        detail = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
        await self.kill()
        raise BrokerError(f"mosquitto did not start on port {self.port}: {detail.strip()}")

    async def kill(self) -> None:
        """Kill the broker at once (SIGKILL): no goodbye, no final save."""
        await self._signal(signal.SIGKILL)

    async def stop(self) -> None:
        """Stop the broker cleanly (SIGTERM): it saves its state first."""
        await self._signal(signal.SIGTERM)

    async def freeze(self) -> None:
        """Stop the broker's process without closing its connections (SIGSTOP)."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGSTOP)

    async def thaw(self) -> None:
        """Let a frozen broker run again (SIGCONT)."""
        if self._process is not None and self.running:
            self._process.send_signal(signal.SIGCONT)

    async def restart(self) -> None:
        """Start the broker again on the same port, with whatever it persisted."""
        await self.stop()
        await self.start()

    async def _signal(self, sig: signal.Signals) -> None:
        if self._process is None or not self.running:
            return
        self._process.send_signal(signal.SIGCONT)
        self._process.send_signal(sig)
        await self._process.wait()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.kill()

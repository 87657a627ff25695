"""A private Mosquitto on a free loopback port, for the demo and the tests: start, kill, restart.

It can require passwords (a password file made with `mosquitto_passwd`), apply an ACL file, and
listen with TLS on certificates from `make_test_pki` (a throwaway CA made with `openssl`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from monitor.errors import MonitorError

# The broker refuses anything larger; the service's own limits sit well below.
MAX_PACKET_BYTES = 65_536
START_TIMEOUT_S = 10.0


class BrokerError(MonitorError):
    """The private broker could not be started."""


@dataclass(frozen=True, slots=True)
class LocalPki:
    """A throwaway CA with a server certificate for 127.0.0.1 and one client certificate."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """The broker's TLS listener: its certificate, and whether clients must show one too."""

    ca_cert: Path
    cert: Path
    key: Path
    require_client_cert: bool = False


def find_tool(name: str) -> str:
    """The path of a command-line tool (mosquitto_passwd, openssl); BrokerError if absent."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if found is None:
        raise BrokerError(f"{name} is not installed")
    return found


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise BrokerError(f"{Path(argv[0]).name} failed: {err.decode(errors='replace').strip()}")


async def make_test_pki(directory: Path) -> LocalPki:
    """Make a CA, a server certificate (127.0.0.1, localhost) and a client certificate.

    EC P-256 keys, valid for two days: fast to make, for tests and local trials only.
    """
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    openssl = find_tool("openssl")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ca_cert, ca_key = directory / "ca.crt", directory / "ca.key"
    await _run(
        openssl, "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca_cert),
        "-days", "2", "-subj", "/CN=recovery-monitor test CA",
    )  # fmt: skip
    leaves: dict[str, tuple[Path, Path]] = {}
    for name, usage, alt in (
        ("server", "serverAuth", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        ("client", "clientAuth", ""),
    ):
        key, csr, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        extensions = directory / f"{name}.ext"
        extensions.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\nsubjectKeyIdentifier=hash\n"
            f"authorityKeyIdentifier=keyid,issuer\n{alt}",
            encoding="utf-8",
        )
        await _run(
            openssl, "req", *ec, "-keyout", str(key), "-out", str(csr),
            "-subj", f"/CN={'localhost' if name == 'server' else 'recovery-monitor'}",
        )  # fmt: skip
        await _run(
            openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
            "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions),
        )  # fmt: skip
        leaves[name] = (cert, key)
    return LocalPki(ca_cert, ca_key, *leaves["server"], *leaves["client"])


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
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        tls: BrokerTls | None = None,
        nodelay: bool = True,
    ) -> None:
        self.workdir = workdir
        self._nodelay = nodelay
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._persistence = persistence
        self._extra = extra_config
        self._users = dict(users) if users is not None else None
        self._acl = acl
        self._tls = tls
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
            # Alerts are small and urgent: do not hold them back for Nagle's algorithm.
            f"set_tcp_nodelay {'true' if self._nodelay else 'false'}",
            "log_dest file " + str(self.workdir / "mosquitto.log"),
            "log_type error",
            "log_type warning",
        ]
        if self._tls is not None:
            lines += [
                f"cafile {self._tls.ca_cert}",
                f"certfile {self._tls.cert}",
                f"keyfile {self._tls.key}",
                f"require_certificate {str(self._tls.require_client_cert).lower()}",
            ]
        if self._users is not None:
            lines += ["allow_anonymous false", f"password_file {self.workdir / 'passwords'}"]
        elif "allow_anonymous" not in self._extra:
            lines.append("allow_anonymous true")
        if self._acl is not None:
            lines.append(f"acl_file {self.workdir / 'acl'}")
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
        await self._write_auth_files()
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

    async def _write_auth_files(self) -> None:
        if self._users is not None:
            passwords = self.workdir / "passwords"
            passwords.unlink(missing_ok=True)
            tool = find_tool("mosquitto_passwd")
            for number, (user, password) in enumerate(self._users.items()):
                create = ("-c",) if number == 0 else ()
                await _run(tool, "-b", *create, str(passwords), user, password)
            if not self._users:
                passwords.write_text("", encoding="utf-8")
        if self._acl is not None:
            (self.workdir / "acl").write_text(self._acl, encoding="utf-8")

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

"""A real Home Assistant Core process on loopback, and a small client for its REST and WebSocket
APIs: onboarding, the MQTT config flow, the device and entity registries, states and actions.

HTTP goes through the standard library (urllib, in a worker thread); the WebSocket API through
`websockets`. Every wait polls until a deadline: nothing sleeps for a fixed time and then looks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any, TypeVar

from websockets.asyncio.client import connect

from simulators.broker import free_port
from tests.interop.provision import HaInstall

T = TypeVar("T")
START_TIMEOUT_S = 300.0
STOP_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0
USER = "interop"
PASSWORD = "interop-test-pw"  # noqa: S105 - a throwaway user of a throwaway Home Assistant

CONFIGURATION = """\
homeassistant:
  name: recovery-monitor interop
  latitude: 51.5
  longitude: -0.12
  elevation: 10
  unit_system: metric
  time_zone: Europe/London
  country: GB
  currency: GBP
http:
  server_host: 127.0.0.1
  server_port: {port}
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: debug
input_boolean:
  recovery_alert_seen:
    name: Recovery alert seen
automation: !include automations.yaml
"""


class HomeAssistantError(RuntimeError):
    """Home Assistant did not do what the harness asked."""


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float, what: str, every: float = 0.25
) -> T:
    """Poll `probe` until it returns something other than None; TimeoutError naming `what`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result is not None:
            return result
        if loop.time() >= deadline:
            raise TimeoutError(f"after {within:.0f} s: {what}")
        await asyncio.sleep(every)


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP answer: status and body parsed as JSON where it is JSON."""

    status: int
    body: Any


def _request(
    url: str,
    *,
    method: str,
    data: bytes | None,
    headers: Mapping[str, str],
) -> Response:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))  # noqa: S310 - http://127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:  # noqa: S310
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Response(status, body)


def spawn(
    argv: list[str], *, log: Path, env: Mapping[str, str], cwd: Path | None = None
) -> Popen[bytes]:
    """Start a process in a session of its own (so teardown can end it and all it started),
    its output appended to `log`. Starting a process does not block: no thread needed."""
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )


def end(process: Popen[bytes], *, within: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM to a process's session, SIGKILL if it has not ended `within` seconds later."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(within)
    # Whatever the process started in its session goes too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@dataclass
class HomeAssistant:
    """One Home Assistant Core process with its own config folder, on 127.0.0.1:port."""

    install: HaInstall
    config_dir: Path
    port: int = field(default_factory=free_port)
    token: str | None = None
    _process: Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The base URL of its HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def client_id(self) -> str:
        """The OAuth client id the harness logs in as (any URL on the same host)."""
        return self.url + "/"

    @property
    def log_file(self) -> Path:
        """Home Assistant's own output."""
        return self.config_dir / "interop-output.log"

    def write_config(self, automations: str = "[]\n") -> None:
        """A minimal configuration.yaml (no default_config, no cloud) and the automations."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port), encoding="utf-8"
        )
        (self.config_dir / "automations.yaml").write_text(automations, encoding="utf-8")

    def log(self) -> str:
        """Everything Home Assistant wrote so far."""
        if not self.log_file.exists():
            return ""
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    async def start(self) -> None:
        """Start Home Assistant and wait until its HTTP API answers."""
        started = time.monotonic()
        # The environment is passed on (certificates, proxies): Home Assistant installs any
        # requirement still missing from PyPI with uv.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.install.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self._process = spawn(
            [
                str(self.install.python),
                "-m",
                "homeassistant",
                "--config",
                str(self.config_dir),
                "--log-no-color",
            ],
            log=self.log_file,
            env=env,
        )

        async def answers() -> bool | None:
            if not self.running:
                raise HomeAssistantError("Home Assistant exited:\n" + self.log()[-3000:])
            try:
                response = await self.get("/api/onboarding" if self.token is None else "/api/")
            except OSError:
                return None
            return True if response.status in (200, 401) else None

        await eventually(answers, within=START_TIMEOUT_S, what="Home Assistant's HTTP API")
        if self.token is not None:
            await self.wait_running()
        self.timings.setdefault("first start", time.monotonic() - started)
        self.timings["last start"] = time.monotonic() - started

    async def wait_running(self) -> None:
        """Wait until Home Assistant reports it has finished starting."""

        async def running() -> bool | None:
            response = await self.get("/api/config")
            body = response.body if isinstance(response.body, dict) else {}
            ok = response.status == 200 and body.get("state") == "RUNNING"
            return True if ok else None

        await eventually(running, within=START_TIMEOUT_S, what="Home Assistant RUNNING")

    async def stop(self) -> None:
        """Stop it cleanly (SIGTERM, as a restart does); SIGKILL if it takes too long."""
        if self._process is not None:
            await asyncio.to_thread(end, self._process)

    async def kill(self) -> None:
        """End the process and anything it started at once."""
        if self._process is not None:
            await asyncio.to_thread(end, self._process, within=0.0)

    # --- HTTP -----------------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    async def get(self, path: str) -> Response:
        """GET a path of the API."""
        return await asyncio.to_thread(
            _request, self.url + path, method="GET", data=None, headers=self._headers()
        )

    async def post(self, path: str, payload: object | None = None) -> Response:
        """POST JSON to a path of the API."""
        data = json.dumps(payload if payload is not None else {}).encode()
        return await asyncio.to_thread(
            _request, self.url + path, method="POST", data=data, headers=self._headers()
        )

    async def post_ok(self, path: str, payload: object | None = None) -> Any:
        """POST and return the body; HomeAssistantError unless the status is 2xx."""
        response = await self.post(path, payload)
        if not 200 <= response.status < 300:
            raise HomeAssistantError(f"POST {path}: {response.status} {response.body}")
        return response.body

    # --- onboarding and the MQTT integration ------------------------------------------------

    async def onboard(self) -> None:
        """Create the owner, log in, and finish every other onboarding step."""
        started = time.monotonic()
        user = await self.post_ok(
            "/api/onboarding/users",
            {
                "client_id": self.client_id,
                "name": "Interop",
                "username": USER,
                "password": PASSWORD,
                "language": "en",
            },
        )
        form = urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "code": user["auth_code"],
                "client_id": self.client_id,
            }
        ).encode()
        tokens = await asyncio.to_thread(
            _request,
            self.url + "/auth/token",
            method="POST",
            data=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if tokens.status != 200:
            raise HomeAssistantError(f"/auth/token: {tokens.status} {tokens.body}")
        self.token = tokens.body["access_token"]
        # The remaining steps differ between releases: do those this release offers.
        steps = (await self.get("/api/onboarding")).body
        for step in steps:
            if step.get("done"):
                continue
            name = step["step"]
            payload: dict[str, str] = {}
            if name == "integration":
                payload = {"client_id": self.client_id, "redirect_uri": self.client_id}
            await self.post_ok(f"/api/onboarding/{name}", payload)
        await self.long_lived_token()
        self.timings["onboarding"] = time.monotonic() - started

    async def long_lived_token(self) -> None:
        """Swap the short-lived access token (30 min) for a long-lived one."""
        answer = await self.ws(
            {"type": "auth/long_lived_access_token", "client_name": "interop", "lifespan": 1}
        )
        self.token = str(answer)

    async def add_mqtt(self, broker_port: int) -> dict[str, Any]:
        """Add the MQTT integration through its config flow, pointed at 127.0.0.1:broker_port."""
        started = time.monotonic()
        step = await self.post_ok(
            "/api/config/config_entries/flow",
            {"handler": "mqtt", "show_advanced_options": False},
        )
        for _ in range(5):
            if step["type"] == "create_entry":
                self.timings["mqtt config flow"] = time.monotonic() - started
                result: dict[str, Any] = step["result"]
                return result
            if step["type"] == "menu":
                answer: dict[str, Any] = {"next_step_id": "broker"}
            elif step["type"] == "form" and step["step_id"] == "broker":
                answer = {"broker": "127.0.0.1", "port": broker_port}
            else:
                raise HomeAssistantError(f"unexpected MQTT config flow step: {step}")
            step = await self.post_ok(f"/api/config/config_entries/flow/{step['flow_id']}", answer)
        raise HomeAssistantError(f"MQTT config flow did not finish: {step}")

    # --- WebSocket API ------------------------------------------------------------------------

    async def ws(self, *commands: dict[str, Any]) -> Any:
        """Send commands over one authenticated WebSocket; the result of the last one."""
        url = f"ws://127.0.0.1:{self.port}/api/websocket"
        result: Any = None
        async with connect(url, max_size=None, open_timeout=HTTP_TIMEOUT_S) as socket:
            hello = json.loads(await socket.recv())
            if hello.get("type") != "auth_required":
                raise HomeAssistantError(f"WebSocket greeting: {hello}")
            await socket.send(json.dumps({"type": "auth", "access_token": self.token}))
            auth = json.loads(await socket.recv())
            if auth.get("type") != "auth_ok":
                raise HomeAssistantError(f"WebSocket auth: {auth}")
            for number, command in enumerate(commands, start=1):
                await socket.send(json.dumps({"id": number, **command}))
                while True:
                    message = json.loads(await socket.recv())
                    if message.get("id") == number and message.get("type") == "result":
                        break
                if not message.get("success"):
                    raise HomeAssistantError(f"{command['type']}: {message.get('error')}")
                result = message.get("result")
        return result

    async def devices(self) -> list[dict[str, Any]]:
        """The device registry."""
        found: list[dict[str, Any]] = await self.ws({"type": "config/device_registry/list"})
        return found

    async def entities(self) -> list[dict[str, Any]]:
        """The entity registry."""
        found: list[dict[str, Any]] = await self.ws({"type": "config/entity_registry/list"})
        return found

    async def state(self, entity_id: str) -> dict[str, Any] | None:
        """An entity's state object, or None if Home Assistant has none."""
        response = await self.get(f"/api/states/{entity_id}")
        if response.status == 404:
            return None
        if response.status != 200:
            raise HomeAssistantError(f"state of {entity_id}: {response.status} {response.body}")
        found: dict[str, Any] = response.body
        return found

    async def call(self, domain: str, service: str, data: Mapping[str, object]) -> None:
        """Perform an action (a service call), as a dashboard or an automation would."""
        await self.post_ok(f"/api/services/{domain}/{service}", dict(data))

    async def fire(self, event_type: str, data: Mapping[str, object]) -> None:
        """Fire an event on Home Assistant's bus."""
        await self.post_ok(f"/api/events/{event_type}", dict(data))

    async def automation_states(self) -> dict[str, dict[str, Any]]:
        """The automations' states by their configured `id`."""
        states = (await self.get("/api/states")).body
        return {
            str(s["attributes"]["id"]): s
            for s in states
            if s["entity_id"].startswith("automation.") and "id" in s["attributes"]
        }

    async def add_automations(self, yaml_text: str, ids: tuple[str, ...]) -> None:
        """Write automations.yaml and reload it; wait until the automations `ids` are on."""
        (self.config_dir / "automations.yaml").write_text(yaml_text, encoding="utf-8")
        await self.call("automation", "reload", {})

        async def loaded() -> bool | None:
            states = await self.automation_states()
            on = all(states.get(i, {}).get("state") == "on" for i in ids)
            return True if on else None

        await eventually(loaded, within=60.0, what=f"automations {ids} loaded and on")

    async def check_config(self) -> subprocess.CompletedProcess[str]:
        """Home Assistant's own configuration check of the config folder."""
        return await asyncio.to_thread(
            subprocess.run,
            [
                str(self.install.python),
                "-m",
                "homeassistant",
                "--script",
                "check_config",
                "--config",
                str(self.config_dir),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

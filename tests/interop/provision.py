"""A pinned Home Assistant Core from PyPI in a virtual environment of its own, cached per version.

Home Assistant needs a newer Python than the project (2025.x: 3.13), so it never shares the
project's venv: a Python that satisfies it is looked for on PATH and under pyenv, a venv is made
under `~/.cache/recovery-monitor/ha-<version>-py<x.y>`, and `homeassistant==<version>` is
installed into it together with the requirements of the integrations the tests set up (so that
Home Assistant does not have to install them itself while a test waits). Only PyPI is needed;
pip's own cache is reused, and a finished environment is marked so a re-run starts at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CACHE_ROOT = Path(
    os.environ.get("RECOVERY_MONITOR_CACHE", Path.home() / ".cache" / "recovery-monitor")
)
INSTALL_TIMEOUT_S = 1800.0
# The release the tests pin: the one issue 14 was found with, and the newest that installs on
# Python 3.13.0 (2025.5 and later need 3.13.2). RECOVERY_MONITOR_HA_VERSION tries another.
HA_VERSION = os.environ.get("RECOVERY_MONITOR_HA_VERSION", "2025.4.4")
# The oldest release that shows the service's device (device-based discovery), and the last
# release before it.
MINIMUM_VERSION = "2024.11.0"
BEFORE_MINIMUM = "2024.10.4"
# The integrations the tests use on top of what Home Assistant loads by itself, and those that
# finishing onboarding adds (its core_config step starts their config flows).
EXTRA_INTEGRATIONS = (
    "mqtt",
    "automation",
    "input_boolean",
    "command_line",
    "frontend",
    "onboarding",
    "google_translate",
    "met",
    "radio_browser",
    "shopping_list",
    "tts",  # google_translate's config flow imports it without declaring it
)

# Run by the Home Assistant venv's own Python: every requirement of the integrations Home
# Assistant sets up at start and of those the tests add, following manifest dependencies.
_REQUIREMENTS_SCRIPT = r"""
import json, sys
from pathlib import Path
import homeassistant
from homeassistant import bootstrap
components = Path(homeassistant.__file__).parent / "components"
wanted = set(sys.argv[1:])
for name in ("CORE_INTEGRATIONS", "LOGGING_INTEGRATIONS", "LOGGING_AND_HTTP_DEPS_INTEGRATIONS",
             "FRONTEND_INTEGRATIONS", "DEFAULT_INTEGRATIONS"):
    wanted |= set(getattr(bootstrap, name, ()))
wanted.discard("sentry")  # set up only when configured
seen, requirements = set(), []
while wanted:
    domain = wanted.pop()
    manifest_file = components / domain / "manifest.json"
    if domain in seen or not manifest_file.exists():
        continue
    seen.add(domain)
    manifest = json.loads(manifest_file.read_text())
    requirements += manifest.get("requirements", [])
    wanted |= set(manifest.get("dependencies", []))
print(json.dumps(sorted(set(requirements))))
"""


class ProvisionError(RuntimeError):
    """Home Assistant could not be installed."""


@dataclass(frozen=True, slots=True)
class HaInstall:
    """A ready Home Assistant Core venv."""

    version: str
    python_version: str
    venv: Path
    install_seconds: float | None  # None: it was already in the cache

    @property
    def python(self) -> Path:
        """The venv's Python, which runs Home Assistant."""
        return self.venv / "bin" / "python"


def required_python(ha_version: str) -> tuple[int, int, int]:
    """The oldest Python a Home Assistant release installs on (its Requires-Python on PyPI)."""
    year, month = (int(part) for part in ha_version.split(".")[:2])
    if (year, month) >= (2026, 3):
        return (3, 14, 2)
    if (year, month) >= (2025, 5):
        return (3, 13, 2)
    if (year, month) >= (2025, 2):
        return (3, 13, 0)
    if (year, month) >= (2024, 4):
        return (3, 12, 0)
    return (3, 11, 0)


def _python_version(candidate: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(
            [str(candidate), "-c", "import sys; print(*sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), int(out[1]), int(out[2])) if len(out) == 3 else None


def _candidates() -> Iterator[Path]:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        directory = Path(folder)
        if directory.is_dir():
            yield from sorted(directory.glob("python3*"))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        yield from sorted(pyenv.glob("*/bin/python3"))
    for folder in ("/usr/local/bin", "/usr/bin"):
        yield from sorted(Path(folder).glob("python3*"))


def find_python(at_least: tuple[int, int, int]) -> tuple[Path, tuple[int, int, int]] | None:
    """The oldest Python on this machine that is at least `at_least`, or None."""
    found: dict[tuple[int, int, int], Path] = {}
    for candidate in _candidates():
        if not re.fullmatch(r"python3(\.\d+)?", candidate.name) or not os.access(
            candidate, os.X_OK
        ):
            continue
        if "shims" in candidate.parts:  # pyenv's shims depend on the current pyenv setting
            continue
        version = _python_version(candidate)
        if version is not None and version >= at_least and version not in found:
            found[version] = candidate
    if not found:
        return None
    best = min(found)
    return found[best], best


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time per environment (pytest-xdist workers share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(argv: list[str], *, log: Path) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise ProvisionError(f"{Path(argv[0]).name} failed:\n" + "\n".join(tail))


def _pip(venv: Path, *args: str, log: Path) -> None:
    _run([str(venv / "bin" / "python"), "-m", "pip", *args], log=log)


def resolution_cutoff(version: str) -> str:
    """Resolve a release's dependencies as they were about when it was current.

    A release pins only some of what it needs; newer releases of the rest can break an older
    Home Assistant (2024.11 does not even import with josepy 2). So nothing uploaded after
    the start of the second month after the release's own month is considered.
    """
    year, month = (int(part) for part in version.split(".")[:2])
    month += 2
    if month > 12:
        year, month = year + 1, month - 12
    return f"{year:04d}-{month:02d}-01T00:00:00Z"


def _uv(venv: Path, *args: str, cutoff: str, log: Path) -> None:
    """`uv pip install` into the venv (with the system's certificates), nothing newer than
    `cutoff`."""
    python = str(venv / "bin" / "python")
    command = [python, "-m", "uv", "pip", "install", "--python", python, "--native-tls"]
    _run([*command, "--exclude-newer", cutoff, *args], log=log)


def environment_dir(version: str, python_version: tuple[int, int, int]) -> Path:
    """Where the venv of one Home Assistant version and Python lives."""
    return CACHE_ROOT / f"ha-{version}-py{python_version[0]}.{python_version[1]}"


def provision(version: str, python: Path, python_version: tuple[int, int, int]) -> HaInstall:
    """Home Assistant `version` in its cached venv, installing it first if need be."""
    venv = environment_dir(version, python_version)
    done = venv / ".recovery-monitor-ready"
    pretty = f"{python_version[0]}.{python_version[1]}"
    with _locked(venv.with_name(venv.name + ".lock")):
        if done.exists():
            return HaInstall(version, pretty, venv, None)
        started = time.monotonic()
        if venv.exists():
            shutil.rmtree(venv)  # a half-made venv from an interrupted run
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True, timeout=300)
        log = venv / "install.log"
        _pip(venv, "install", "--disable-pip-version-check", "--no-input", "uv", log=log)
        _uv(venv, f"homeassistant=={version}", cutoff=resolution_cutoff(version), log=log)
        script = subprocess.run(
            [str(venv / "bin" / "python"), "-c", _REQUIREMENTS_SCRIPT, *EXTRA_INTEGRATIONS],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        requirements: list[str] = json.loads(script.stdout)
        constraints = next(
            (venv / "lib").glob("python3*/site-packages/homeassistant/package_constraints.txt")
        )
        if requirements:
            _uv(
                venv,
                "--constraint",
                str(constraints),
                *requirements,
                cutoff=resolution_cutoff(version),
                log=log,
            )
        seconds = time.monotonic() - started
        done.write_text(json.dumps({"seconds": round(seconds, 1)}), encoding="utf-8")
        return HaInstall(version, pretty, venv, seconds)


def main(versions: list[str]) -> int:
    """Install (or find in the cache) each Home Assistant release; one line per release."""
    status = 0
    for version in versions:
        needed = required_python(version)
        found = find_python(needed)
        if found is None:
            print(f"{version}: skipped, no Python >= {'.'.join(map(str, needed))} found")
            continue
        try:
            install = provision(version, *found)
        except (ProvisionError, subprocess.SubprocessError) as error:
            print(f"{version}: failed: {error}")
            status = 1
            continue
        how = (
            "cached"
            if install.install_seconds is None
            else f"installed in {install.install_seconds:.0f} s"
        )
        print(f"{version}: {install.venv} (Python {install.python_version}, {how})")
    return status


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:] or [HA_VERSION, MINIMUM_VERSION, BEFORE_MINIMUM]))

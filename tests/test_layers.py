"""The architecture as the import graph holds it: rooms, one owner per library, no demo inside.

Each rule is checked on every module's imports (read with `ast`, so a lazy import inside a
function counts too, except where a rule says module level), and one subprocess checks what
the `recovery-monitor` command really loads at start-up.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600
MAX_LOOSE_MODULES = 8


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _importers(library: str) -> set[str]:
    return {
        _name(path)
        for package in ("monitor", "devices", "simulators")
        for path in _modules(package)
        if any(name == library or name.startswith(library + ".") for name in _imports(path))
    }


def _under(prefix: str, names: set[str]) -> set[str]:
    return {n for n in names if n == prefix or n.startswith(prefix + ".")}


@pytest.mark.parametrize(
    ("library", "owners"),
    [
        ("paho", {"monitor.mqtt.client"}),
        ("aiosqlite", {"monitor.store.connection"}),
    ],
)
def test_each_library_has_one_owner(library: str, owners: set[str]) -> None:
    assert _importers(library) == owners


def test_only_the_device_layer_and_the_virtual_radio_import_bleak() -> None:
    assert {n.split(".")[0] for n in _importers("bleak")} <= {"devices", "simulators"}


def test_only_the_simulators_import_bumble() -> None:
    assert {n.split(".")[0] for n in _importers("bumble")} == {"simulators"}


def test_the_device_layer_imports_nothing_from_the_service_or_the_simulators() -> None:
    offenders = {
        _name(path): sorted(_under("monitor", names) | _under("simulators", names))
        for path in _modules("devices")
        if (names := _imports(path)) and (_under("monitor", names) or _under("simulators", names))
    }
    assert offenders == {}


@pytest.mark.parametrize("room", ["monitor.recovery", "monitor.gait"])
def test_pure_rooms_do_no_io(room: str) -> None:
    forbidden = ("asyncio", "aiosqlite", "paho", "bleak", "socket", "sqlite3", "time")
    rooms_above = ("monitor.store", "monitor.mqtt", "monitor.service", "monitor.cli")
    offenders = {}
    for path in _modules(room.replace(".", "/")):
        names = _imports(path)
        bad = sorted(n for n in names if n.split(".")[0] in forbidden or n.startswith(rooms_above))
        if bad:
            offenders[_name(path)] = bad
    assert offenders == {}


def test_the_service_never_imports_the_simulators_at_module_level() -> None:
    offenders = {
        _name(path)
        for path in _modules("monitor")
        if _under("simulators", _imports(path, module_level_only=True))
        and _name(path) != "monitor.cli.demo_run"
    }
    assert offenders == set()


def test_the_command_starts_without_the_simulators_or_bumble() -> None:
    probe = (
        "import sys, monitor.cli.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'simulators', 'bumble'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_rooms_keep_the_top_of_monitor_small_and_modules_short() -> None:
    loose = sorted(p.name for p in (ROOT / "monitor").glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose
    long = {
        _name(p): n
        for p in _modules("monitor")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_every_room_says_what_it_holds() -> None:
    rooms = [p for p in (ROOT / "monitor").iterdir() if (p / "__init__.py").exists()]
    assert len(rooms) >= 6
    for room in rooms:
        doc = ast.get_docstring(ast.parse((room / "__init__.py").read_text()))
        assert doc, f"{room.name}/__init__.py has no docstring"

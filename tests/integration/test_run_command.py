"""`recovery-monitor run` as a user starts it: a process, a real broker, SIGTERM to stop."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import stat
import sys
from pathlib import Path

from monitor.config import load_config
from simulators.broker import PrivateBroker
from tests.conftest import config_toml
from tests.probe import MqttProbe


async def start_run(config_file: Path) -> asyncio.subprocess.Process:
    """`recovery-monitor run --config FILE` in a process of its own, stderr captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "run",
        "--config",
        str(config_file),
        stderr=asyncio.subprocess.PIPE,
    )


async def test_run_announces_itself_publishes_state_and_stops_cleanly_on_sigterm(
    tmp_path: Path, broker: PrivateBroker
) -> None:
    database = tmp_path / "data" / "monitor.db"
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=database, port=broker.port))
    mqtt = load_config(config_file).mqtt
    async with MqttProbe(mqtt, ["recovery/status", "recovery/+/state"]) as probe:
        service = await start_run(config_file)
        await probe.wait_for(lambda m: any(x.payload == b"online" for x in m))
        await probe.wait_for(lambda m: bool(probe.on("/p1/state")))
        state = probe.on("/p1/state")[-1].json()
        assert state["plan_day"] is not None
        assert state["walking_target_minutes"] is not None
        assert state["devices"] == {
            "watch": {"connected": False, "battery": None, "last_seen": None, "problem": None}
        }
        service.send_signal(signal.SIGTERM)
        assert await service.wait() == 0
        await probe.wait_for(
            lambda m: m[-1].payload == b"offline" and m[-1].topic.endswith("status")
        )
    assert service.stderr is not None
    log = (await service.stderr.read()).decode()
    assert "recovery-monitor running: 1 person(s), 1 wearable(s)" in log
    assert "stopped" in log
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_run_with_a_broken_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    text = config_toml(database=tmp_path / "m.db", port=1).replace("acute", "sharp")
    config_file.write_text(text)
    service = await start_run(config_file)
    _, err = await service.communicate()
    assert service.returncode == 2
    assert b"person[0].pain_type" in err


async def test_run_on_a_corrupted_database_exits_1_and_leaves_it_alone(tmp_path: Path) -> None:
    database = tmp_path / "monitor.db"
    database.write_bytes(b"garbage" * 1000)
    before = database.read_bytes()
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=database, port=1))
    service = await start_run(config_file)
    _, err = await service.communicate()
    assert service.returncode == 1
    assert b"left untouched" in err
    assert database.read_bytes() == before


async def test_a_second_run_or_rebuild_on_the_same_database_is_refused_in_one_line(
    tmp_path: Path, broker: PrivateBroker
) -> None:
    database = tmp_path / "data" / "monitor.db"
    config_file = tmp_path / "config.toml"
    config_file.write_text(config_toml(database=database, port=broker.port))
    mqtt = load_config(config_file).mqtt
    async with MqttProbe(mqtt, ["recovery/status"]) as probe:
        first = await start_run(config_file)
        await probe.wait_for(lambda m: any(x.payload == b"online" for x in m))
        refusal = (
            f"recovery-monitor: another recovery-monitor is using {database} (pid {first.pid})"
        )
        for command in ("run", "rebuild"):
            second = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor", command, "--config", str(config_file),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await second.communicate()
            assert second.returncode == 1, command
            assert err.decode().splitlines() == [f"{refusal}; stop it first"], command
        # report and log read alongside the running service.
        readers = [["report"], ["log", "note", "feeling fine"]]
        for args in ([*r, "--config", str(config_file)] for r in readers):
            reader = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor", *args,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await reader.communicate()
            assert reader.returncode == 0, (args, err)
        first.send_signal(signal.SIGTERM)
        assert await first.wait() == 0


async def test_a_database_path_that_cannot_be_used_is_one_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    """The un-creatable cases work as root too (CI): /proc, and a folder that is a file."""
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (Path("/proc/nope/x.db"), 1, "cannot create the folder /proc/nope for the database"),
        (a_file / "x.db", 2, f"service.database: {a_file} is a file, not a folder"),
        (folder, 2, f"service.database: {folder} is a folder"),
    ]
    for database, code, said in cases:
        config_file = tmp_path / "config.toml"
        config_file.write_text(config_toml(database=database, port=1))
        service = await start_run(config_file)
        _, err = await service.communicate()
        text = err.decode()
        assert service.returncode == code, (database, text)
        assert "Traceback" not in text
        # One line says it (a config's problems follow the line naming the file).
        lines = [line for line in text.splitlines() if " DEBUG " not in line]
        if code == 2:
            assert lines[0].endswith(f"{config_file}: 1 problem(s) in the config:"), lines
            lines = lines[1:]
        assert len(lines) == 1, (database, lines)
        assert said in lines[0], (database, lines)

"""Small things with a clear one-line answer: base topics, password files (issue 11, case 8)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.config import parse_config
from monitor.errors import ConfigError, MonitorError
from monitor.service.app import read_password
from tests.conftest import config_toml


@pytest.mark.parametrize(
    "base", ["$SYS", "home/$x", "a+b", "home/#", "tab\there", "new\nline", "nul\x00", "del\x7f"]
)
def test_check_config_refuses_a_base_topic_with_dollar_wildcards_or_control_chars(
    tmp_path: Path, base: str
) -> None:
    extra = f"base_topic = {_toml(base)}"
    text = config_toml(database=tmp_path / "m.db", port=1883, mqtt_extra=extra)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=tmp_path)
    assert [p.key for p in caught.value.problems] == ["mqtt.base_topic"]


def _toml(value: str) -> str:
    """A TOML basic string."""
    escaped = "".join(
        c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value
    )
    return f'"{escaped}"'


def test_an_empty_password_file_is_one_clear_problem(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("")
    text = config_toml(
        database=tmp_path / "m.db",
        port=1883,
        mqtt_extra=(
            f'username = "u"\npassword_file = "{secret}"\nallow_plaintext_credentials = true'
        ),
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        f"mqtt.password_file: {secret} is empty: put the password on line 1"
    ]
    with pytest.raises(MonitorError, match="is empty: put the password on line 1"):
        read_password(secret)


def test_a_password_file_others_can_read_draws_a_one_line_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    os.chmod(secret, 0o600)
    with caplog.at_level(logging.WARNING):
        assert read_password(secret) == "s3cret"
    assert caplog.records == []
    os.chmod(secret, 0o644)
    with caplog.at_level(logging.WARNING):
        assert read_password(secret) == "s3cret"
    [warning] = [r.getMessage() for r in caplog.records]
    assert "can be read by other users" in warning
    assert "\n" not in warning


def test_check_config_warns_of_a_password_file_others_can_read_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        config_toml(
            database=tmp_path / "m.db",
            port=1883,
            mqtt_extra=f'username = "u"\npassword_file = "{secret}"',
        )
    )
    for mode, warned in [(0o600, False), (0o644, True), (0o640, True)]:
        os.chmod(secret, mode)
        assert main(["check-config", str(config_file)]) == 0
        err = capsys.readouterr().err
        if warned:
            assert err == (
                f"recovery-monitor: warning: the MQTT password file {secret} can be read by "
                f"other users: run chmod 600 {secret}\n"
            )
        else:
            assert err == ""


def test_check_config_names_a_database_path_that_cannot_be_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    cases = [
        (tmp_path, f"service.database: {tmp_path} is a folder"),
        (a_file / "sub" / "m.db", f"service.database: {a_file} is a file, not a folder"),
    ]
    if os.geteuid() != 0:  # root may write anywhere
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o500)
        cases.append((read_only / "m.db", f"the folder {read_only} is not writable"))
    for database, said in cases:
        config_file = tmp_path / "config.toml"
        config_file.write_text(config_toml(database=database, port=1883))
        assert main(["check-config", str(config_file)]) == 2
        err = capsys.readouterr().err
        assert said in err, err
        assert "Traceback" not in err
    fine = tmp_path / "not-yet" / "m.db"
    config_file.write_text(config_toml(database=fine, port=1883))
    assert main(["check-config", str(config_file)]) == 0

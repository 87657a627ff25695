"""Small things with a clear one-line answer: base topics, password files (issue 11, case 8)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

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

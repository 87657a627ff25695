"""Config validation: every problem is found, named by its key, with a reason; exit code 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, time
from pathlib import Path

import pytest

from monitor.cli.main import main
from monitor.config import PainType, bundled_config, load_config, parse_config
from monitor.errors import ConfigError

GOOD = """
[service]
database = "/tmp/x/monitor.db"
timezone = "Europe/London"

[[person]]
id = "p7f3a"
pain_type = "acute"
plan_start = 2026-11-20
"""


def problems(text: str) -> dict[str, str]:
    """Every problem found, by key (several reasons for one key joined with " | ")."""
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    found: dict[str, str] = {}
    for problem in caught.value.problems:
        found[problem.key] = " | ".join(filter(None, [found.get(problem.key), problem.reason]))
    return found


def test_a_minimal_config_takes_every_default() -> None:
    config = parse_config(GOOD)
    person = config.person("p7f3a")
    assert person.pain_type is PainType.ACUTE
    assert person.plan_start == date(2026, 11, 20)
    assert person.checkpoints == (time(12), time(16), time(19))
    assert (person.waking_hours.start, person.waking_hours.end) == (time(8), time(21))
    assert (person.walking.start_minutes, person.walking.daily_increase_minutes) == (5, 2)
    assert person.walking.cap_minutes == 30
    assert person.devices == ()  # reports only: a valid config
    assert config.mqtt.base_topic == "recovery"


@pytest.mark.parametrize("name", ["default.toml", "demo.toml"])
def test_the_shipped_configs_are_valid(name: str) -> None:
    assert load_config(bundled_config(name)).persons


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ("[service]\ncolour = 1", "service.colour", "unknown key"),
        ("[mqtt]\nport = 'eighty'", "mqtt.port", "must be a whole number, not text 'eighty'"),
        ("[mqtt]\nport = 70000", "mqtt.port", "must be between 1 and 65535"),
        ("[mqtt]\ntls = 1", "mqtt.tls", "must be true or false"),
        ("[mqtt]\nbase_topic = 'a/#'", "mqtt.base_topic", "without wildcards"),
        ("[mqtt]\npassword_file = '/nonexistent/pw'", "mqtt.password_file", "no readable file"),
        ("[mqtt]\nca_file = '/nonexistent/ca.pem'", "mqtt.ca_file", "no readable file"),
    ],
)
def test_bad_service_and_mqtt_keys_are_named(extra: str, key: str, reason: str) -> None:
    if extra.startswith("[service]"):
        text = GOOD.replace("[service]\n", extra + "\n", 1)
    else:
        text = extra + "\n" + GOOD
    found = problems(text)
    assert key in found, found
    assert reason in found[key]


PERSON = GOOD.split("[[person]]")[1]


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ('pain_type = "sharp"', "person[0].pain_type", "not one of acute, subacute, chronic"),
        ('waking_hours = "8-21"', "person[0].waking_hours", "not a time of day as HH:MM"),
        ('waking_hours = "21:00-08:00"', "person[0].waking_hours", "must start before it ends"),
        ('checkpoints = ["25:00"]', "person[0].checkpoints", "not a time of day"),
        ('checkpoints = ["22:00"]', "person[0].checkpoints", "outside waking_hours"),
        ('checkpoints = ["12:00", "12:00"]', "person[0].checkpoints", "the same time twice"),
        ("surgery_date = 2026-10-20", "person[0].plan_start", "within 6 weeks of surgery"),
        ('precautions = ["severe_osteoporosis"]', "person[0].precautions", "clearance"),
        ('precautions = ["bad_knees"]', "person[0].precautions", "not a known precaution"),
        ('id = "Has Spaces"', "person[0].id", "must be 1-32 of a-z"),
        ("shoe_size = 44", "person[0].shoe_size", "unknown key"),
        ("plan_start = 20261120", "person[0].plan_start", "must be a date"),
    ],
)
def test_bad_person_keys_are_named(line: str, key: str, reason: str) -> None:
    name = line.split(" =")[0]
    kept = "\n".join(x for x in PERSON.splitlines() if not x.startswith(name + " "))
    found = problems(GOOD.split("[[person]]")[0] + "[[person]]" + kept + "\n" + line + "\n")
    assert key in found, found
    assert reason in found[key]


def test_the_surgery_error_says_when_the_plan_can_start() -> None:
    found = problems(GOOD + "surgery_date = 2026-10-20\n")
    assert "2026-12-01 at the earliest" in found["person[0].plan_start"]


def test_a_precaution_with_clearance_is_accepted() -> None:
    config = parse_config(GOOD + 'precautions = ["severe_osteoporosis"]\nclearance = true\n')
    assert config.persons[0].precautions == ("severe_osteoporosis",)


def test_device_problems_are_named_by_their_index() -> None:
    text = GOOD + (
        '[[person.device]]\nprofile = "fitbit"\naddress = "AA:BB"\n'
        '[[person.device]]\nprofile = "infinitime"\n'
    )
    found = problems(text)
    assert "not one of" in found["person[0].device[0].profile"]
    assert "not a Bluetooth address" in found["person[0].device[0].address"]
    assert "needs an address" in found["person[0].device[1]"]


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace('pain_type = "acute"', 'pain_type = "x"') + 'waking_hours = "x"\n'
    assert len(problems(text)) == 2


def test_toml_syntax_errors_are_reported() -> None:
    assert "(syntax)" in problems("[service\n")


def test_check_config_exits_2_and_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("acute", "sharp"))
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "person[0].pain_type" in err
    good = tmp_path / "good.toml"
    good.write_text(GOOD)
    assert main(["check-config", str(good)]) == 0
    assert "OK (1 person(s), 0 wearable(s))" in capsys.readouterr().out


def test_check_config_as_a_command_exits_2_for_a_missing_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "none.toml" in done.stderr
    assert "(file)" in done.stderr

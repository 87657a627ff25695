"""The `scan` command: argument parsing, and its output over the virtual radio."""

from __future__ import annotations

import argparse
import re

import pytest

from monitor.cli import scan


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="recovery-monitor")
    scan.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["scan", *argv])


def test_parser_registers_the_handler() -> None:
    args = parse()
    assert args.handler is scan.run
    assert (args.virtual, args.seconds, args.all) == (False, 5.0, False)


@pytest.mark.timeout(20)
def test_virtual_scan_lists_one_wearable_of_each_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert scan.run(parse("--virtual", "--seconds", "0.2")) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [re.split(r"\s{2,}", line) for line in out]  # columns are two spaces apart
    assert rows[0] == ["ADDRESS", "NAME", "RSSI", "PROFILE", "DEVICE"]
    assert all(len(row) == 5 for row in rows)
    profiles = {row[3] for row in rows[1:]}
    assert profiles == {"infinitime", "thingy52", "rsc", "heart_rate", "polar_pmd"}


def test_bad_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert scan.run(parse("--seconds", "0")) == 2
    assert capsys.readouterr().err == "recovery-monitor scan: --seconds must be positive\n"

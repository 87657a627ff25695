"""The `analyze` command: one JSON line per file, clear errors, the exit codes of the CLI."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from monitor.cli import analyze
from simulators.motion import Activity, Placement, Segment, simulate

STANDARD_GRAVITY = 9.80665


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="recovery-monitor")
    analyze.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["analyze", *argv])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, object]], str]:
    args = parse(*argv)
    code = args.handler(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture(scope="module")
def walk_csv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    recording = simulate(
        [
            Segment(Activity.STILL, 20.0),
            Segment(Activity.WALKING, 90.0, 96.0),
            Segment(Activity.STILL, 20.0),
        ],
        Placement.HIP,
        seed=1,
    )
    path = tmp_path_factory.mktemp("rec") / "walk.csv"
    rows = np.column_stack([recording.xyz, recording.t, np.arange(recording.t.size)])
    np.savetxt(path, rows, delimiter=",", header="x,y,z,t,index", comments="", fmt="%.6f")
    return path, recording.steps


def test_a_recording_gives_its_json_line(
    capsys: pytest.CaptureFixture[str], walk_csv: tuple[Path, int]
) -> None:
    path, truth = walk_csv
    code, (line,), err = run(capsys, str(path))
    assert (code, err) == (0, "")
    assert set(line) == {
        "file",
        "steps",
        "walking_minutes",
        "movement_minutes",
        "cadence_spm",
        "duration_s",
    }
    assert line["file"] == str(path)
    assert line["steps"] == pytest.approx(truth, rel=0.03)
    assert line["walking_minutes"] == pytest.approx(1.5, abs=0.1)
    assert line["cadence_spm"] == pytest.approx(96.0, rel=0.03)
    assert line["duration_s"] == pytest.approx(130.0, abs=0.1)
    assert 1.0 <= float(str(line["movement_minutes"])) <= 130.0 / 60.0


def test_units_and_rate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, walk_csv: tuple[Path, int]
) -> None:
    data = np.loadtxt(walk_csv[0], delimiter=",", skiprows=1)
    path = tmp_path / "no_t.csv"
    np.savetxt(
        path, data[:, :3] * STANDARD_GRAVITY, delimiter=",", header="x,y,z", comments="", fmt="%.5f"
    )
    code, (line,), _ = run(capsys, str(path), "--rate", "50", "--units", "m/s2")
    assert code == 0
    assert line["steps"] == pytest.approx(walk_csv[1], rel=0.03)
    assert line["duration_s"] == pytest.approx((data.shape[0] - 1) / 50.0)


def test_a_still_recording_has_no_cadence(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "still.csv"
    path.write_text("t,x,y,z\n" + "".join(f"{i / 10},0,0,1\n" for i in range(300)))
    code, (line,), _ = run(capsys, str(path))
    assert code == 0
    assert (line["steps"], line["walking_minutes"], line["movement_minutes"]) == (0, 0.0, 0.0)
    assert line["cadence_spm"] is None


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("", "the file is empty"),
        ("\n", "the file is empty"),
        ("t,x,y,z\n", "no samples after the header row"),
        ("t,x,y\n0,0,0\n", "missing column(s) z: the header has t, x, y"),
        ("1,0,0,1\n2,0,0,1\n", "missing column(s) x, y, z"),
        ("t,x,y,z\n0,0,0,1\n0.1,0,zero,1\n", "sample 2: 'zero' is not a number"),
        ("t,x,y,z\n0,0,0,1\n0.1,0,0\n", "sample 2 has 3 field(s), the header names 4"),
        ("t,x,y,z\n0,0,0,1\n0.1,nan,0,1\n", "sample 2: values must be finite numbers"),
        ("t,x,y,z\n0,0,0,1\n0.2,0,0,1\n0.1,0,0,1\n", "time goes backwards at sample 3"),
        ("x,y,z\n0,0,1\n", "no t column: give the sampling rate with --rate HZ"),
    ],
)
def test_bad_files_are_reported_after_the_others(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    walk_csv: tuple[Path, int],
    content: str,
    error: str,
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    code, lines, err = run(capsys, str(bad), str(walk_csv[0]))
    assert code == 1
    assert lines[0]["file"] == str(bad)
    assert error in str(lines[0]["error"])
    assert set(lines[0]) == {"file", "error"}
    assert lines[1]["steps"] == pytest.approx(walk_csv[1], rel=0.03)
    assert err.count("\n") == 1
    assert "1 of 2 file(s) could not be read" in err


def test_a_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, (line,), _ = run(capsys, str(tmp_path / "absent.csv"))
    assert code == 1
    assert "cannot read the file" in str(line["error"])


@pytest.mark.parametrize("rate", ["0", "-5", "nan", "inf"])
def test_a_bad_rate_is_bad_usage(capsys: pytest.CaptureFixture[str], rate: str) -> None:
    code, lines, err = run(capsys, "any.csv", "--rate", rate)
    assert (code, lines) == (2, [])
    assert err.startswith("recovery-monitor analyze: --rate must be a positive number")


def test_from_a_shell(walk_csv: tuple[Path, int], tmp_path: Path) -> None:
    program = (
        "import argparse, sys\n"
        "from monitor.cli import analyze\n"
        "p = argparse.ArgumentParser()\n"
        "analyze.add_parser(p.add_subparsers(dest='command'))\n"
        "a = p.parse_args(sys.argv[1:])\n"
        "sys.exit(a.handler(a))\n"
    )
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    done = subprocess.run(
        [sys.executable, "-c", program, "analyze", str(walk_csv[0]), str(bad)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
        timeout=60,
    )
    assert done.returncode == 1
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["steps"] == pytest.approx(walk_csv[1], rel=0.03)
    assert second == {
        "file": str(bad),
        "error": "the file is empty (a header row with x,y,z is needed)",
    }
    assert done.stderr.strip() == "recovery-monitor analyze: 1 of 2 file(s) could not be read"

"""Run every benchmark and write their figures to docs/benchmarks.md. About 15 minutes.

`python -m bench.run_all [--quick]`: --quick shortens the steady-state run to one minute and
the soak to 30 days (for a look, not for the record).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"

Row = tuple[str, str, str, bool | None]
"""What, target, measured, met (None: no target)."""


def run(module: str, *args: str) -> dict[str, Any]:
    """Run `python -m module args` and parse the JSON it prints."""
    print(f"running {module} {' '.join(args)}", file=sys.stderr, flush=True)
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def ingest_rows(f: dict[str, Any]) -> list[Row]:
    fast, steady = f["as_fast_as_possible"], f["steady"]
    parsed, floor = f["as_fast_as_possible_parsed_beforehand"], f["floor_plain_sqlite3_executemany"]
    wait_p99, wait_max = steady["commit_wait_p99_s"] * 1000, steady["commit_wait_max_s"] * 1000
    every = f["fsync_every_s"]
    return [
        (
            "ingest, one core: readings/s (notifications parsed on the way in)",
            ">= 50% of plain sqlite3 executemany",
            f"{fast['per_s']:,}; floor {floor['per_s']:,} rows/s; ratio {f['ratio_to_floor']}",
            f["ratio_to_floor"] >= 0.5,
        ),
        (
            "ingest, one core: readings/s (parsed beforehand: the service's part only)",
            "(same)",
            f"{parsed['per_s']:,}; ratio {f['ratio_to_floor_parsed_beforehand']}",
            f["ratio_to_floor_parsed_beforehand"] >= 0.5,
        ),
        (
            f"ingest at {f['steady_offered_per_s']:,}/s offered: wait to be committed",
            "each within 1 s",
            f"p99 {wait_p99:.0f} ms, max {wait_max:.0f} ms (WAL fsynced within {every:.0f} s)",
            wait_max < 1000,
        ),
    ]


def latency_rows(f: dict[str, Any]) -> list[Row]:
    tuned, stock = f["broker"]["set_tcp_nodelay true"], f["broker"]["stock mosquitto.conf"]
    return [
        (
            f"alert latency, {f['commands']:,} symptom commands (broker with set_tcp_nodelay)",
            "p50 <= 5 ms, p99 <= 20 ms",
            f"p50 {tuned['p50_ms']} ms, p99 {tuned['p99_ms']} ms, max {tuned['max_ms']} ms",
            f["met"],
        ),
        (
            "alert latency, stock mosquitto.conf (Nagle on the broker)",
            "(for comparison)",
            f"p50 {stock['p50_ms']} ms, p99 {stock['p99_ms']} ms",
            None,
        ),
    ]


def steady_rows(f: dict[str, Any]) -> list[Row]:
    share, mb = f["cpu_share_of_a_core"], f["disk_writes_mb_per_day"]
    seconds = f"over {f['seconds']:.0f} s"
    return [
        (
            "steady state: disk writes (/proc/self/io write_bytes)",
            "<= 200 MB a day",
            f"{mb:,.0f} MB/day {seconds}; floor (the samples) {f['floor_samples_mb_per_day']} "
            f"MB/day; ratio {f['disk_writes_ratio_to_floor']}",
            mb <= 200,
        ),
        ("steady state: mean CPU", "<= 1% of a core", f"{share * 100:.2f}% {seconds}; floor 0",
         share <= 0.01),
        (
            "steady state: event-loop wake-ups a second",
            "(reported)",
            f"{f['wake_ups_per_s']}; floor (the wearables' notifications) "
            f"{f['floor_wake_ups_per_s']}",
            None,
        ),
        ("steady state: peak RSS", "<= 100 MB", f"{f['peak_rss_mb']} MB", f["peak_rss_mb"] <= 100),
    ]  # fmt: skip


def report_rows(f: dict[str, Any]) -> list[Row]:
    days = f["by_days"]
    measured = ", ".join(
        f"{n} days {d['seconds'] * 1000:.0f} ms ({d['store_reads']} reads)" for n, d in days.items()
    )
    return [
        ("report of a year-old plan, in process", "<= 1 s, linear in days", measured, f["met"]),
        (
            "`report --days 365` as a command",
            "<= 1 s",
            f"{f['command_365_days_s']} s (interpreter start-up included); per-day cost 365 vs "
            f"14 days: x{f['per_day_ratio_365_to_14']}",
            f["command_365_days_s"] <= 1.0,
        ),
    ]


def soak_rows(f: dict[str, Any]) -> list[Row]:
    growth = f["rss_growth_after_day7"]
    before, after = f["rss_kb_day7"] / 1024, f["rss_kb_last"] / 1024
    per_day = f["store_kb_per_person_day_after_day7"]
    rss = f"{growth * 100:.1f}% ({before:.1f} -> {after:.1f} MB)"
    wall = f["wall_s"]
    return [
        (f"soak: {f['days']} simulated days, wall time", "< 5 min", f"{wall:.0f} s", wall < 300),
        ("soak: RSS growth after day 7", "< 10%", rss, growth < 0.10),
        (
            "soak: store growth per person-day (after day 7)",
            "<= 500 KB",
            f"{per_day} KB ({f['store_mb_last']} MB after {f['days']} days)",
            per_day <= 500,
        ),
    ]


def startup_rows(f: dict[str, Any]) -> list[Row]:
    service, floor = f["service"], f["floor"]
    return [
        (
            "start-up: `run` to first retained state",
            "<= 0.3 s",
            f"median {service['median_s']} s, max {service['max_s']} s; floor (same libraries, "
            f"connect, publish) {floor['median_s']} s; ratio {f['ratio_to_floor']}",
            service["median_s"] <= 0.3,
        ),
        (
            "RSS of `run`, idle",
            "<= 50 MB",
            f"{service['rss_idle_mb']} MB; floor {floor['rss_idle_mb']} MB; ratio "
            f"{f['rss_ratio_to_floor']}",
            service["rss_idle_mb"] <= 50,
        ),
    ]


def gait_rows(f: dict[str, Any]) -> list[Row]:
    v, t, false = f["validation"], f["throughput_one_core"], f["false_steps"]
    better = v["mape_pct"] < v["app_mape_pct"] and (
        v["mape_pct_on_hardware_files"] < v["hardware_mape_pct"]
    )
    accuracy = (
        f"{v['mape_pct']}% (the app's algorithm {v['app_mape_pct']}%; the hardware counter "
        f"{v['hardware_mape_pct']}% on the {v['hardware_files']} files it recorded, ours "
        f"{v['mape_pct_on_hardware_files']}% on them)"
    )
    means = ", ".join(f"{name} {a['per_min_mean']}" for name, a in false.items())
    worst = max(a["per_min_max"] for a in false.values())

    def speed(r: dict[str, Any]) -> tuple[str, bool]:
        batch, stream = r["batch_samples_per_s"], r["streaming_10_samples_per_s"]
        return f"{batch / 1e6:.1f} M/s batch, {stream / 1e6:.2f} M/s streaming", (
            batch >= 5e6 and stream >= 5e5
        )

    rows: list[Row] = [
        ("gait: MAPE of total steps, validation set", "<= 3%, better than both peers",
         accuracy, v["mape_pct"] <= 3 and better),
        ("gait: false steps per minute, synthetic non-walking", "< 1 on each activity",
         f"means: {means} (worst 10-minute recording {worst})",
         all(a["per_min_mean"] < 1 for a in false.values())),
        ("gait: throughput, validation set (~96 Hz)", ">= 5 M/s batch, >= 0.5 M/s streaming",
         *speed(t)),
    ]  # fmt: skip
    for rate, r in t["synthetic_by_rate"].items():
        rows.append((f"gait: throughput, synthetic {rate}", "(same)", *speed(r)))
    return rows


def ble_rows(f: dict[str, Any]) -> list[Row]:
    connect = f"median {f['connect_ms_median']:.1f} ms, p90 {f['connect_ms_p90']:.1f} ms"
    reconnect = (
        f"median {f['reconnect_after_reboot_ms_median']:.1f} ms, "
        f"p90 {f['reconnect_after_reboot_ms_p90']:.1f} ms"
    )
    rate = (
        f"{f['notifications_per_s_one_wearable']:,.0f} (one wearable), "
        f"{f['notifications_per_s_three_wearables']:,.0f} (three); lost: "
        f"{f['notifications_lost']}"
    )
    return [
        ("BLE over the virtual radio: connect and set up", "(reported)", connect, None),
        ("BLE: reconnect after a reboot (boot time excluded)", "(reported)", reconnect, None),
        ("BLE: notifications/s reaching the service", "(reported)", rate, None),
    ]


def write(sections: Sequence[tuple[str, list[Row], dict[str, Any]]]) -> str:
    """docs/benchmarks.md for the figures."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m bench.run_all` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}. Each "
        "script in `bench/` prints its own JSON; the raw figures are below the table.",
        "",
        "| what | target | measured | met |",
        "|---|---|---|---|",
    ]
    for _, rows, _ in sections:
        for what, target, measured, met in rows:
            mark = "-" if met is None else ("yes" if met else "**no**")
            lines.append(f"| {what} | {target} | {measured} | {mark} |")
    lines += ["", "## Raw figures", ""]
    for name, _, figures in sections:
        lines += [f"### {name}", "", "```json", json.dumps(figures, indent=1), "```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run them all (the long ones last) and write the doc."""
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    plan: list[tuple[str, Callable[[dict[str, Any]], list[Row]], tuple[str, ...]]] = [
        ("bench.startup", startup_rows, ()),
        ("bench.alert_latency", latency_rows, ()),
        ("bench.ingest", ingest_rows, ()),
        ("bench.report", report_rows, ()),
        ("bench.ble", ble_rows, ("--json",)),
        ("bench.gait", gait_rows, ()),
        ("bench.soak", soak_rows, ("30",) if args.quick else ()),
        ("bench.steady", steady_rows, ("60",) if args.quick else ()),
    ]
    sections = []
    for module, rows, extra in plan:
        try:
            figures = run(module, *extra)
            measured = rows(figures)
        except (subprocess.CalledProcessError, KeyError, ValueError) as error:
            # One failing benchmark should not cost the others' figures.
            figures = {"error": str(error)}
            measured = [(module, "-", f"failed: {error}", False)]
        sections.append((module, measured, figures))
    DOC.write_text(write(sections) + "\n", encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()

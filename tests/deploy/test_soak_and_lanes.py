"""scripts/soak.py and scripts/benchmark_lanes.py: real `gate run` processes for a few seconds each (slow);
the stats parser they share is checked against gate.lane.stats itself."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gate.lane.stats import RunEnd, RunStats

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))

from lane_procs import parse_summary  # noqa: E402


def test_the_stats_summary_parses_back_into_numbers():
    stats = RunStats(frames=120, decisions=7, failed_decisions=1, skipped=80, reconnects=3, end=RunEnd.STOPPED)
    stats.ended = stats.started + 12.0
    for ms in (20.0, 30.0, 40.0):
        stats.add("read", ms)
    parsed = parse_summary("INFO source x: looped (1)\nINFO source x: looped (2)\n" + stats.summary())
    assert (parsed["frames"], parsed["decisions"], parsed["failed"], parsed["skipped"]) == (120, 7, 1, 80)
    assert parsed["reconnects"] == 3 and parsed["loops"] == 2 and parsed["fps"] == 10.0
    assert parsed["stages"]["read"] == {"p50": 30.0, "p95": 39.0, "n": 3}


def test_a_summary_without_skips_has_none():
    assert parse_summary(RunStats(frames=1).summary())["skipped"] == 0


@pytest.mark.slow
def test_soak_reports_growth_and_passes_on_a_short_run(tmp_path: Path):
    out = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, str(SCRIPTS / "soak.py"), "--duration", "8", "--interval", "2",
                           "--warmup", "2", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["stats"]["frames"] > 0 and report["fds"]["end"] > 0 and len(report["samples"]) >= 4
    assert abs(report["rss_mb"]["growth_pct"]) <= 5 and "soak passed" in proc.stdout


@pytest.mark.slow
def test_soak_fails_when_growth_exceeds_the_limit(tmp_path: Path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "soak.py"), "--duration", "5", "--interval", "1",
                           "--warmup", "0", "--max-growth", "-100", "--json", str(tmp_path / "s.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "soak FAILED" in proc.stdout


@pytest.mark.slow
def test_benchmark_lanes_runs_lanes_at_once_and_reports_each(tmp_path: Path):
    out = tmp_path / "lanes.json"
    proc = subprocess.run([sys.executable, str(SCRIPTS / "benchmark_lanes.py"), "--lanes", "2", "--seconds", "3",
                           "--fps", "5", "--variant", "motion", "--ledger", "shared", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (variant,) = json.loads(out.read_text())["variants"]
    assert variant["variant"] == "motion" and len(variant["lanes"]) == 2
    assert all(lane["frames"] > 0 and lane["exit_code"] == 0 and lane["cpu_pct"] > 0 for lane in variant["lanes"])

"""scripts/benchmark.py: rounds of engines taking turns pool into one result per engine."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "scripts" / "benchmark.py"
_spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(benchmark)


def _round(totals: list[float], correct: int, rss: float) -> dict:
    return {"n": len(totals), "p50_ms": sorted(totals)[len(totals) // 2], "p95_ms": max(totals), "mean_ms": 0.0,
            "totals_ms": totals, "stages_ms": {}, "peak_rss_mb": rss, "model_load_s": 0.3,
            "plates_found": len(totals), "plates_correct": correct, "threads": 2}


def test_rounds_pool_their_frames_and_keep_each_rounds_p50():
    pooled = benchmark.pooled([_round([10.0, 11.0, 12.0], 3, 200.0), _round([30.0, 31.0, 32.0], 2, 210.0)])
    assert pooled["n"] == 6 and pooled["plates_correct"] == 5
    assert pooled["rounds_p50_ms"] == [11.0, 31.0]
    assert 12.0 <= pooled["p50_ms"] <= 30.0  # the median of all six frames, not of one round
    assert pooled["peak_rss_mb"] == 210.0


def test_one_round_is_reported_as_it_ran():
    one = _round([10.0, 11.0], 2, 200.0)
    assert benchmark.pooled([one]) is one


@pytest.mark.slow
def test_two_rounds_of_the_reader_time_every_frame_twice(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--engine", "lpr", "--n", "2", "--warmup", "0",
                          "--rounds", "2", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    lpr = json.loads(out.read_text())["lpr"]
    assert lpr["n"] == 4 and len(lpr["totals_ms"]) == 4 and len(lpr["rounds_p50_ms"]) == 2
    assert lpr["plates_found"] >= 2  # the same two frames, read in both rounds


def test_zero_rounds_is_refused_with_the_value():
    run = subprocess.run([sys.executable, str(SCRIPT), "--rounds", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "--rounds" in run.stderr

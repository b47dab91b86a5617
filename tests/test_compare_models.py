"""scripts/compare_models.py: the shipping rules' sets and totals, candidates named once, same weights read alike."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import compare_models as cm  # noqa: E402

from lpr.config import OCR_ONNX  # noqa: E402


def test_condition_variants_of_the_dev_set_count_only_its_held_out_half(tmp_path: Path):
    for folder in ("cond_dev/dusk", "cond_dev/ir", "cond_syn/dusk"):
        (tmp_path / folder).mkdir(parents=True)
    sets = {s.name: s for s in cm.default_sets(tmp_path, tmp_path / "dev")}
    assert list(sets) == ["dev", "dev held-out", "eval_syn", "cond_dev/dusk", "cond_dev/ir", "cond_syn/dusk"]
    assert sets["cond_dev/ir"].half == "held-out" and sets["dev held-out"].half == "held-out"
    assert sets["cond_syn/dusk"].half is None and sets["dev"].half is None


def test_totals_are_the_rules_sums():
    counts = {"dev": 64, "dev held-out": 32, "eval_syn": 155, "cond_dev/daylight": 30, "cond_dev/ir": 30,
              "cond_syn/daylight": 138, "cond_syn/ir": 131}
    assert cm.totals(counts) == {"dev": 64, "dev held-out": 32, "real held-out": 92,
                                 "synthetic held-out": 424, "daylight": 168}


@pytest.mark.parametrize(("text", "message"), [
    ("runs/ocr.onnx", "expected NAME=PATH"),
    ("shipped=" + str(OCR_ONNX), "'shipped' is the shipped weights' column"),
    ("cand=/nowhere/ocr.onnx", "no file /nowhere/ocr.onnx"),
])
def test_a_bad_candidate_is_refused_naming_it(text: str, message: str):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        cm.named_path(text)


@pytest.mark.slow
def test_the_shipped_ocr_as_a_candidate_reads_every_set_alike(tmp_path: Path):
    gen = subprocess.run([str(Path(sys.executable).parent / "plategen"), "evalset", "--out",
                          str(tmp_path / "eval_syn"), "--n", "4", "--seed", "5", "--workers", "1"],
                         capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_models.py"), "--ocr", f"same={OCR_ONNX}",
                          "--data", str(tmp_path), "--dev", str(tmp_path / "no-dev"), "--json",
                          str(tmp_path / "c.json")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "skipping dev: no" in out.stderr
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["counts"]["shipped"] == report["counts"]["same"] and set(report["counts"]["same"]) == {"eval_syn"}
    assert 0 <= report["totals"]["same"]["synthetic held-out"] <= 4
    assert "| eval_syn | 4 |" in out.stdout

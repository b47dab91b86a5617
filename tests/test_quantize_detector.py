"""scripts/quantize_detector.py: the INT8 copy is written under runs/ (never over the shipped weights) and loads."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import quantize_detector as qd  # noqa: E402


def test_the_shipped_weights_are_never_the_output():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "quantize_detector.py"), "--out",
                          str(ROOT / "lpr" / "weights" / "detector.onnx"), "--skip-speed", "--skip-accuracy"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "never into lpr/weights" in out.stderr


@pytest.mark.slow
def test_the_int8_detector_is_smaller_and_still_finds_the_sample_plate(tmp_path: Path):
    from lpr.detector import PlateDetector
    from lpr.image_io import load_image

    dst = tmp_path / "detector_int8.onnx"
    qd.quantize(ROOT / "lpr" / "weights" / "detector.onnx", dst, "qint8")
    assert dst.stat().st_size < (ROOT / "lpr" / "weights" / "detector.onnx").stat().st_size / 2
    dets = PlateDetector(weights=dst).detect(load_image(ROOT / "lpr" / "samples" / "images" / "gate_1.jpg"))
    assert dets and dets[0].score > 0.3

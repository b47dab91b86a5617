"""scripts/quantize_ocr.py: the INT8 OCR is written under runs/ only, keeps the chosen groups float, and reads
generated crops as the float model does."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import quantize_ocr as qo  # noqa: E402

from lpr.config import OCR_ONNX  # noqa: E402


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "quantize_ocr.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_the_shipped_ocr_is_never_the_output():
    out = run_script("--out", str(OCR_ONNX), "--skip-accuracy")
    assert out.returncode == 2 and "never into lpr/weights" in out.stderr


def test_an_unknown_float_group_is_refused_by_name(tmp_path: Path):
    out = run_script("--out", str(tmp_path / "x.onnx"), "--keep-float", "first,tail", "--skip-accuracy")
    assert out.returncode == 2 and "--keep-float tail" in out.stderr and "first,head" in out.stderr


def test_the_int8_ocr_keeps_the_chosen_groups_float_and_reads_as_the_float_one(tmp_path: Path):
    import onnx

    from lpr.ocr import CrnnOcr
    from plategen.ocr_crops import make_ocr_crop

    dst = tmp_path / "ocr_int8.onnx"
    qo.quantize_static(OCR_ONNX, dst, qo.calibration_crops("generated", 48, 1), "percentile", ["first", "head"])
    nodes = onnx.load(str(dst)).graph.node
    convs = [n for n in nodes if n.op_type == "Conv"]
    dequantised = {o for n in nodes if n.op_type == "DequantizeLinear" for o in n.output}  # int8 weights, in QDQ
    assert convs[0].input[1] not in dequantised  # the first conv: float weights
    assert all(c.input[1] in dequantised for c in convs[1:-2])  # the trunk: int8
    assert not any(c.input[1] in dequantised for c in convs[-2:])  # the head: float
    assert dst.stat().st_size < OCR_ONNX.stat().st_size / 2
    crops = [make_ocr_crop(np.random.default_rng([23, i]))[0] for i in range(40)]
    float_texts = [r.text for r in CrnnOcr(OCR_ONNX).read(crops)]
    int8 = CrnnOcr(dst)
    assert int8.alphabet == CrnnOcr(OCR_ONNX).alphabet
    assert sum(r.text == t for r, t in zip(int8.read(crops), float_texts)) >= 36

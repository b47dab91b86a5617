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


def test_the_shipped_ocr_is_never_the_output(tmp_path: Path):
    # a missing calibration folder would stop it next, so a broken guard cannot overwrite the shipped OCR here
    out = run_script("--out", str(OCR_ONNX), "--calibration", str(tmp_path / "none"), "--skip-accuracy")
    assert out.returncode == 2 and "never into lpr/weights" in out.stderr


def test_an_unknown_float_group_is_refused_by_name(tmp_path: Path):
    out = run_script("--out", str(tmp_path / "x.onnx"), "--keep-float", "first,tail", "--calibration",
                     str(tmp_path / "none"), "--json", str(tmp_path / "q.json"), "--skip-accuracy")
    assert out.returncode == 2 and "--keep-float tail" in out.stderr and "first,head" in out.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_a_missing_model_is_refused_by_name(tmp_path: Path):
    out = run_script("--model", str(tmp_path / "ocr.onnx"), "--out", str(tmp_path / "x.onnx"), "--calibration",
                     "generated", "--skip-accuracy", "--json", str(tmp_path / "q.json"))
    assert out.returncode == 2 and f"--model {tmp_path / 'ocr.onnx'}: expected" in out.stderr


def test_the_accuracy_runs_the_reader_with_the_int8_ocr(monkeypatch, tmp_path: Path):
    import lpr.evaluate as ev

    built: list[dict[str, object]] = []
    monkeypatch.setattr(ev, "make_engine", lambda name, **kw: built.append(kw))
    monkeypatch.setattr(ev, "warm_up", lambda engine: None)
    qo.accuracy({"float": OCR_ONNX, "int8": tmp_path / "int8.onnx"}, [], 1, "ocr_weights")
    assert [b.get("ocr_weights") for b in built] == [OCR_ONNX, tmp_path / "int8.onnx"]
    assert not any("detector_weights" in b for b in built)


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

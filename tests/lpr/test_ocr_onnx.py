"""The OCR the gate runs (ONNX Runtime) reads as the trained checkpoint (torch) does."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from lpr.config import OCR_ONNX, OCR_PT
from lpr.ocr import CrnnOcr


def test_shipped_onnx_and_torch_checkpoint_agree_on_generated_crops():
    pytest.importorskip("torch", reason="the checkpoint needs the train extra")
    from plategen.ocr_crops import make_ocr_crop

    crops = [make_ocr_crop(np.random.default_rng([11, i]))[0] for i in range(60)]
    onnx, torch_ = CrnnOcr(OCR_ONNX), CrnnOcr(OCR_PT, backend="torch")
    assert onnx.backend == "onnx" and torch_.backend == "torch"
    assert np.abs(onnx.probs(crops) - torch_.probs(crops)).max() < 1e-4
    assert [r.text for r in onnx.read(crops)] == [r.text for r in torch_.read(crops)]


def test_reading_with_onnx_does_not_import_torch():
    import subprocess

    code = ("import sys, numpy as np; from lpr.ocr import CrnnOcr; "
            "r = CrnnOcr().read([np.full((32, 128, 3), 200, np.uint8)]); "
            "print('torch' in sys.modules, len(r))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "1"]

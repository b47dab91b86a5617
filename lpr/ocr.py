"""Stage 3: read the digits of a rectified plate (grayscale, 32x128) with the CRNN + CTC (`lpr.crnn`).

The gate runs the network's ONNX export on ONNX Runtime, so reading needs no torch. Decoding (greedy,
or the best path that fits a layout) is in `lpr.ctc`; each read keeps its posterior so the gate can
decode a whole pass at once. Weights
trained with separators read the group gaps too, so a 7-digit plate with an extra digit at its edge no
longer passes as 8 digits.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lpr.config import ALPHABET, OCR_ONNX, OCR_PT
from lpr.ctc import BLANK, ctc_constrained, ctc_greedy, decode_plate, layout_templates  # noqa: F401 (the OCR's API)
from lpr.rectify import RECT_SIZE
from lpr.types import CtcPosterior, OcrResult


def preprocess(crops: list[np.ndarray]) -> np.ndarray:
    """BGR or grey crops -> (B, 1, H, W) float32, each crop contrast-normalised (plates range from glare to night)."""
    w, h = RECT_SIZE
    out = np.empty((len(crops), 1, h, w), np.float32)
    for i, c in enumerate(crops):
        g = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) if c.ndim == 3 else c
        if g.shape != (h, w):
            g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA if g.shape[1] > w else cv2.INTER_LINEAR)
        g = g.astype(np.float32)
        out[i, 0] = (g - g.mean()) / (g.std() + 8.0)
    return out


class CrnnOcr:
    """Inference wrapper: load the weights once, read batches of rectified crops.

    ONNX Runtime by default (no torch at the gate: `Reader()` starts in a fraction of the time);
    `backend="torch"` runs the .pt checkpoint, to check an export or a candidate before it ships.
    """

    def __init__(self, weights: str | Path | None = None, threads: int | None = None, backend: str = "onnx"):
        if backend not in ("onnx", "torch"):
            raise ValueError(f"ocr backend {backend!r}: expected 'onnx' or 'torch'")
        path = Path(weights) if weights else (OCR_ONNX if backend == "onnx" else OCR_PT)
        if path.suffix == ".pt":
            backend = "torch"
        self.backend = backend
        if backend == "onnx":
            from lpr.ort_session import cpu_session

            self.session = cpu_session(path, threads or 1)
            self.alphabet = self.session.get_modelmeta().custom_metadata_map.get("alphabet", ALPHABET)
        else:
            import torch

            from lpr.crnn import load

            if threads:
                torch.set_num_threads(threads)
            self.model, self.alphabet = load(path)

    def probs(self, crops: list[np.ndarray]) -> np.ndarray:
        """(B, T, C) class probabilities per column."""
        x = preprocess(crops)
        if self.backend == "onnx":
            return self.session.run(None, {"crops": x})[0]
        import torch

        with torch.inference_mode():
            return self.model(torch.from_numpy(x)).softmax(-1).numpy()

    def read(self, crops: list[np.ndarray]) -> list[OcrResult]:
        if not crops:
            return []
        return [decode_plate(p, self.alphabet).with_posterior(CtcPosterior(p, self.alphabet))
                for p in self.probs(crops)]

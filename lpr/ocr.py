"""Stage 3: a small CRNN with CTC that reads the digits of a rectified plate (grayscale, 32x128).

Conv features collapse the height to one row of 32 columns, a 1-D conv head widens each column's
view to its neighbours (an LSTM read the same but cost twice the CPU time at batch 1) and CTC needs
no per-digit boxes. Decoding (greedy, or the best path that fits a layout) is in `lpr.ctc`, which
needs no torch; each read keeps its posterior so the gate can decode a whole pass at once. Weights
trained with separators read the group gaps too, so a 7-digit plate with an extra digit at its edge no
longer passes as 8 digits.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from lpr.config import ALPHABET, OCR_PT
from lpr.ctc import BLANK, ctc_constrained, ctc_greedy, decode_plate, layout_templates  # noqa: F401 (the OCR's API)
from lpr.rectify import RECT_SIZE
from lpr.types import CtcPosterior, OcrResult


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    def __init__(self, n_classes: int = len(ALPHABET) + 1, height: int = RECT_SIZE[1], width: int = 16,
                 hidden: int = 128):
        super().__init__()
        c1, c2, c3, c4 = width, 2 * width, 4 * width, 6 * width
        self.features = nn.Sequential(
            *_block(1, c1), nn.MaxPool2d(2),  # (B, c1, H/2, W/2)
            *_block(c1, c2), nn.MaxPool2d(2),  # (B, c2, H/4, W/4)
            *_block(c2, c3), nn.MaxPool2d((2, 1)),  # (B, c3, H/8, W/4)
            *_block(c3, c4),
            nn.Conv2d(c4, c4, (height // 8, 1), bias=False), nn.BatchNorm2d(c4), nn.ReLU(inplace=True),  # H -> 1
        )
        self.head = nn.Sequential(
            nn.Conv1d(c4, hidden, 5, padding=2, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Conv1d(hidden, n_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).squeeze(2)  # (B, C, T=W/4)
        return self.head(f).transpose(1, 2)  # (B, T, n_classes) logits


def preprocess(crops: list[np.ndarray]) -> torch.Tensor:
    """BGR or grey crops -> (B, 1, H, W) float, each crop contrast-normalised (plates range from glare to night)."""
    w, h = RECT_SIZE
    out = np.empty((len(crops), 1, h, w), np.float32)
    for i, c in enumerate(crops):
        g = cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) if c.ndim == 3 else c
        if g.shape != (h, w):
            g = cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA if g.shape[1] > w else cv2.INTER_LINEAR)
        g = g.astype(np.float32)
        out[i, 0] = (g - g.mean()) / (g.std() + 8.0)
    return torch.from_numpy(out)


class CrnnOcr:
    """Inference wrapper: load weights once, read batches of rectified crops."""

    def __init__(self, weights: str | Path = OCR_PT, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        ckpt = torch.load(str(weights), map_location="cpu", weights_only=True)
        self.alphabet = ckpt.get("alphabet", ALPHABET)
        self.model = CRNN(**{"n_classes": len(self.alphabet) + 1, **ckpt.get("arch", {})})
        self.model.load_state_dict(ckpt["model"])
        self.model.eval()

    @torch.inference_mode()
    def read(self, crops: list[np.ndarray]) -> list[OcrResult]:
        if not crops:
            return []
        probs = self.model(preprocess(crops)).softmax(-1).numpy()
        return [decode_plate(p, self.alphabet).with_posterior(CtcPosterior(p, self.alphabet)) for p in probs]

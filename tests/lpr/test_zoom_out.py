"""The reader looks again at a zoomed-out frame when its best plate is unsure (close-ups, stamps)."""
from __future__ import annotations

import numpy as np

from lpr.pipeline import ZOOM_BELOW, Reader
from lpr.types import Detection, OcrResult


class FakeDetector:
    """At full size it finds a decoy (the maker's stamp); in the zoomed-out canvas, the plate."""

    def detect(self, img: np.ndarray, imgsz: int | None = None) -> list[Detection]:
        h, w = img.shape[:2]
        if w > 1000:  # the 2x canvas of a 640-px photo
            box = (w * 0.3, h * 0.4, w * 0.7, h * 0.6)
        else:
            box = (10.0, 10.0, 110.0, 40.0)
        x1, y1, x2, y2 = box
        corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
        return [Detection(box, corners, 0.9)]


class FakeOcr:
    def __init__(self, decoy_conf: float) -> None:
        self.decoy_conf, self.calls = decoy_conf, 0

    def read(self, crops: list[np.ndarray]) -> list[OcrResult]:
        self.calls += 1
        if self.calls == 1:  # the decoy: plate-shaped digits, read with this confidence
            return [OcrResult("64523183", (self.decoy_conf,) * 8)] * len(crops)
        return [OcrResult("6922258", (0.95,) * 7)] * len(crops)


def reader(decoy_conf: float) -> Reader:
    r = Reader.__new__(Reader)
    r.zoom_out, r.detector, r.ocr = 2.0, FakeDetector(), FakeOcr(decoy_conf)
    return r


def test_an_unsure_plate_makes_the_reader_look_again_and_the_sure_one_wins():
    reads = reader(ZOOM_BELOW - 0.2).read(np.zeros((480, 640, 3), np.uint8))
    assert [r.text for r in reads][:2] == ["6922258", "64523183"]


def test_a_sure_plate_is_not_looked_at_twice():
    r = reader(0.95)
    reads = r.read(np.zeros((480, 640, 3), np.uint8))
    assert [x.text for x in reads] == ["64523183"] and r.ocr.calls == 1


def test_a_plate_found_by_both_looks_is_one_read():
    """The decoy's box is where the zoomed look finds the plate too: one car, one read, the surer."""
    r = reader(ZOOM_BELOW - 0.2)

    def same_place(img: np.ndarray, imgsz: int | None = None) -> list[Detection]:
        ox, oy = (320, 240) if img.shape[1] > 1000 else (0, 0)  # the 2x canvas centres the 640x480 photo
        box = (10.0 + ox, 10.0 + oy, 110.0 + ox, 40.0 + oy)
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], np.float32)
        return [Detection(box, corners, 0.9)]

    r.detector.detect = same_place
    reads = r.read(np.zeros((480, 640, 3), np.uint8))
    assert [x.text for x in reads] == ["6922258"]

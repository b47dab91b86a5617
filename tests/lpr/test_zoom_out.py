"""The reader looks again at a zoomed-out frame when its best plate is unsure (close-ups, stamps)."""
from __future__ import annotations

import numpy as np

from lpr.pipeline import ZOOM_BELOW, Reader
from lpr.types import Detection, OcrResult


class FakeDetector:
    """At full size it finds a decoy (the maker's stamp); zoomed out, the plate."""

    def detect(self, img: np.ndarray, imgsz: int | None = None, zoom: float = 1.0) -> list[Detection]:
        h, w = img.shape[:2]
        if zoom > 1:
            box = (w * 0.1, h * 0.3, w * 0.9, h * 0.7)
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

    def same_place(img: np.ndarray, imgsz: int | None = None, zoom: float = 1.0) -> list[Detection]:
        box = (10.0, 10.0, 110.0, 40.0)
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], np.float32)
        return [Detection(box, corners, 0.9)]

    r.detector.detect = same_place
    reads = r.read(np.zeros((480, 640, 3), np.uint8))
    assert [x.text for x in reads] == ["6922258"]


def test_a_zoomed_out_look_maps_corners_back_to_the_image():
    """The detector's zoom letterbox puts the image in the middle of a grey canvas without building it:
    a point of the image lands where the full-size canvas would have put it, and maps back exactly."""
    from lpr.detector import letterbox

    img = np.zeros((720, 1280, 3), np.uint8)
    img[300:340, 600:700] = 255
    out, r, (left, top) = letterbox(img, 256, zoom=2.0)
    assert out.shape[1] == 256 and out.shape[0] % 32 == 0
    assert r == 256 / 2560 and (left, top) == (64, 44)  # the 2560x1440 canvas at 0.1 is 256x144, padded to 160
    ys, xs = np.nonzero(out[:, :, 0] > 200)
    assert (xs.min() - left) / r == 600 and (ys.min() - top) / r == 300
    assert (out[:top] == 114).all() and (out[:, :left] == 114).all()

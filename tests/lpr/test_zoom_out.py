"""The reader looks again at a zoomed-out frame when its best plate is unsure (close-ups, stamps)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lpr.detector import letterbox, letterbox_zoomed, zoom_canvas
from lpr.pipeline import ZOOM_BELOW, Reader
from lpr.types import Detection, OcrResult

SAMPLE = Path(__file__).resolve().parents[2] / "lpr" / "samples" / "images" / "gate_1.jpg"


class FakeDetector:
    """At full size it finds a decoy (the maker's stamp); zoomed out, the plate (in the image's own pixels)."""

    def detect(self, img: np.ndarray, imgsz: int | None = None, zoom: float = 1.0) -> list[Detection]:
        h, w = img.shape[:2]
        box = (w * 0.1, h * 0.3, w * 0.9, h * 0.7) if zoom > 1 else (10.0, 10.0, 110.0, 40.0)
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


@pytest.mark.parametrize("h, w", [(720, 1280), (1080, 1920), (480, 640)])
def test_the_zoomed_out_look_at_a_camera_frame_sees_exactly_the_full_canvas(h, w):
    """The shortcut that skips building the 2x canvas gives the detector the very same bytes."""
    img = np.random.default_rng(h).integers(0, 256, (h, w, 3), dtype=np.uint8)
    fast = letterbox_zoomed(img, 2.0, 256)
    canvas, _ = zoom_canvas(img, 2.0)
    ref = letterbox(canvas, 256)
    assert fast is not None
    assert np.array_equal(fast[0], ref[0]) and fast[1:] == ref[1:]


def test_a_photo_off_the_pixel_grid_keeps_the_full_canvas():
    assert letterbox_zoomed(np.zeros((250, 333, 3), np.uint8), 2.0, 256) is None


def test_a_zoomed_out_detection_is_the_same_with_or_without_the_canvas(monkeypatch):
    """On a camera frame the shortcut finds the same plate at the same corners, in the frame's own pixels."""
    import lpr.detector
    from lpr.image_io import load_image
    from lpr.metrics import box_iou

    frame = load_image(SAMPLE)  # 1280 x 720, a close-up: the zoomed-out look finds it too
    det = lpr.detector.PlateDetector()
    shortcut = lpr.detector.letterbox_zoomed
    taken = []
    monkeypatch.setattr(lpr.detector, "letterbox_zoomed", lambda *a: taken.append(shortcut(*a)) or taken[-1])
    fast = det.detect(frame, 256, zoom=2.0)
    assert taken and taken[0] is not None  # the camera frame did take the shortcut
    monkeypatch.setattr(lpr.detector, "letterbox_zoomed", lambda *args: None)
    slow = det.detect(frame, 256, zoom=2.0)
    assert fast and [d.box for d in fast] == [d.box for d in slow]
    assert all(np.array_equal(a.corners, b.corners) for a, b in zip(fast, slow))
    assert box_iou(fast[0].box, det.detect(frame)[0].box) > 0.5

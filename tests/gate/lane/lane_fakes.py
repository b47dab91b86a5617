"""Fakes for the camera process tests: plate reads, captures, readers. No model weights needed."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

import numpy as np

from lpr.types import PlateRead

BOX = (500.0, 400.0, 700.0, 445.0)


def plate_read(text: str, conf: float = 0.9, box=BOX, char_conf=None) -> PlateRead:
    """A valid read as lpr.Reader returns it, with a small crop for the evidence."""
    cc = tuple(char_conf) if char_conf is not None else (conf,) * len(text)
    x1, y1, x2, y2 = box
    corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
    crop = np.full((32, 128, 3), 200, np.uint8)
    return PlateRead(text=text, confidence=min(cc), char_conf=cc, corners=corners, box=tuple(box), det_score=0.95,
                     crop=crop, timings_ms={"detect": 1.0, "rectify": 0.1, "ocr": 0.5})


class FixedPlateReader:
    """Reads ``plate`` on every frame that is not all black (the `gate run` subprocess tests)."""

    def __init__(self, plate: str = "1234567") -> None:
        self.plate = plate

    def read(self, image: np.ndarray) -> list[PlateRead]:
        if image is None or image.size == 0 or float(image.max()) == 0.0:
            return []
        h, w = image.shape[:2]
        box = (w * 0.4, h * 0.6, w * 0.6, h * 0.7)
        read = plate_read(self.plate, 0.95, box)
        crop = np.ascontiguousarray(image[int(box[1]) : int(box[3]), int(box[0]) : int(box[2])])
        return [replace(read, crop=crop, timings_ms={"detect": 0.0, "rectify": 0.0, "ocr": 0.0})]


class FrameScriptReader:
    """Reads what the frame says: each fake frame carries its plate text in a lookup by frame id."""

    def __init__(self, script: dict[int, list[PlateRead]], default: list[PlateRead] | None = None) -> None:
        self.script, self.default = script, default or []

    def read(self, image: np.ndarray) -> list[PlateRead]:
        return list(self.script.get(int(image[0, 0, 0]) + 256 * int(image[0, 0, 1]), self.default))


def frame(i: int) -> np.ndarray:
    """A tiny frame whose first pixel encodes its id (so the fake reader knows which frame it got)."""
    img = np.zeros((8, 8, 3), np.uint8)
    img[0, 0, 0], img[0, 0, 1] = i % 256, i // 256
    return img


class ScriptedCapture:
    """cv2.VideoCapture stand-in: yields frame ids, then fails (returns False or raises)."""

    def __init__(self, ids: list[int], fail: str = "false", fps: float = 10.0) -> None:
        self.ids, self.fail, self.fps, self.pos = list(ids), fail, fps, 0

    def isOpened(self) -> bool:
        return True

    def read(self):
        if self.pos < len(self.ids):
            self.pos += 1
            return True, frame(self.ids[self.pos - 1])
        if self.fail == "raise":
            raise OSError("camera unplugged")
        return False, None

    def get(self, prop: int) -> float:
        import cv2

        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        pass


def capture_factory(sessions: list) -> Callable[[object], ScriptedCapture]:
    """Each open() takes the next session: a ScriptedCapture, or an exception (camera not back yet)."""
    it: Iterator = iter(sessions)

    def factory(_target: object):
        try:
            nxt = next(it)
        except StopIteration:
            raise OSError("no camera") from None
        if isinstance(nxt, Exception):
            raise nxt
        return nxt

    return factory

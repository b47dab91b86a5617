"""Skip the reader on frames where nothing moved in an empty lane (`gate run --motion-skip`).

Why: a lane is empty most of the time (the test clips: 70 % of frames, 2.5 s
between cars), and the reader costs ~25 ms a frame on two cores, the budget
that four lanes at 10 fps share. Whether anything moved is a 1/20-scale
greyscale difference (64 px wide: area averaging divides sensor noise by
~20) against the last frame the reader looked at, not the previous frame,
so a slow change still adds up to a read.

Only an empty lane is skipped: while one of the last KEEP_READING frames read
had a plate every frame is read, so a car standing at the barrier keeps
voting (through a frame that missed its plate) and its pass ends only when
the plate is gone. A skipped frame counts as a frame without
plates (it is fed to the pass tracker as such), so passes end on time.

Thresholds, measured on the demo clips and the dev/synthetic test clips
(data/clips, 1280x720, 10 fps): between two frames of an empty lane no
pixel of the small frame changed by more than 12 grey levels, dusk noise
and codec included (mean change 0.2-0.3 levels); the frames a car
enters change 0.04-30 % of them, and a car's first frame changes at least 1 px,
its second already 0.6 % of them. A frame is "moved" when more than 0.2 % of
the small frame's pixels (5 of 2304) change by more than 12 levels: at worst
the first far-away frame of a car, never sure enough to decide, is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMALL_WIDTH = 64  # pixels across the small frame (1280x720 -> 64x36)
PIXEL_DELTA = 12  # grey levels a small-frame pixel must change by to count as changed
MOVED_FRACTION = 0.002  # share of changed pixels that makes a frame "moved"
# Frames read after the last one with a plate, moved or not: a car standing still whose plate one frame
# missed (glare, a passer-by) was otherwise never read again, since its frames no longer change. A car that
# left costs these few reads of the empty lane.
KEEP_READING = 3


@dataclass(frozen=True)
class MotionConfig:
    small_width: int = SMALL_WIDTH
    pixel_delta: int = PIXEL_DELTA
    moved_fraction: float = MOVED_FRACTION

    def __post_init__(self) -> None:
        if self.small_width < 8:
            raise ValueError(f"motion small_width {self.small_width!r}: expected 8 pixels or more")
        if not 0 <= self.pixel_delta <= 255:
            raise ValueError(f"motion pixel_delta {self.pixel_delta!r}: expected 0 to 255 grey levels")
        if not 0 <= self.moved_fraction < 1:
            raise ValueError(f"motion moved_fraction {self.moved_fraction!r}: expected a share from 0 to 1")


def small_grey(image: np.ndarray, width: int = SMALL_WIDTH) -> np.ndarray:
    """The frame shrunk to ``width`` pixels across by area averaging, greyscale, int16 (for differences)."""
    import cv2

    h, w = image.shape[:2]
    size = (width, max(1, round(h * width / max(w, 1))))
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), dtype=np.int16)


def changed_fraction(a: np.ndarray, b: np.ndarray, pixel_delta: int = PIXEL_DELTA) -> float:
    """Share of pixels that differ by more than ``pixel_delta`` (1.0 when the shapes differ)."""
    if a.shape != b.shape:
        return 1.0
    return float(np.count_nonzero(np.abs(a - b) > pixel_delta)) / a.size


class MotionGate:
    """Decides per frame whether the reader must look: ``should_read(image)``, then ``saw(plates)``."""

    def __init__(self, config: MotionConfig = MotionConfig()) -> None:
        self.config = config
        self.skipped = 0
        self._reference: np.ndarray | None = None  # the last frame the reader looked at, small
        self._without_plates = KEEP_READING  # frames read in a row without a plate (the first is read anyway)

    def should_read(self, image: np.ndarray) -> bool:
        small = small_grey(image, self.config.small_width)
        if (self._reference is None or self._without_plates < KEEP_READING
                or changed_fraction(small, self._reference, self.config.pixel_delta) > self.config.moved_fraction):
            self._reference = small
            return True
        self.skipped += 1
        return False

    def saw(self, plates: bool) -> None:
        """What the reader found on the frame it was let look at."""
        self._without_plates = 0 if plates else self._without_plates + 1

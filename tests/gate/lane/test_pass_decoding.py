"""A pass decided over every frame's OCR posterior: sharp frames count for more, ties go to review."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from lane_fakes import plate_read

from gate.lane.voting import PassTracker, vote
from lpr.ctc import BLANK, labels_for
from lpr.types import CtcPosterior

ALPHA = "0123456789-"


def seen(plate: str, quality: float, peak: float = 6.0, seed: int = 0):
    """A read of `plate` whose posterior is as peaked as a frame of this quality would give."""
    rng = np.random.default_rng(seed)
    logits = np.zeros((32, len(ALPHA) + 1))
    logits[:, BLANK] = 2.0
    for i, k in enumerate(labels_for(plate, ALPHA)):
        logits[2 + 2 * i : 4 + 2 * i, k] += peak
    logits = logits * quality + rng.normal(0, 0.1, logits.shape)
    p = np.exp(logits - logits.max(1, keepdims=True))
    read = plate_read(plate, conf=0.6 + 0.3 * quality)
    return replace(read, posterior=CtcPosterior(p / p.sum(1, keepdims=True), ALPHA), quality=quality)


def test_one_sharp_frame_outvotes_five_blurred_frames_of_a_misread():
    reads = [seen("1234567", 0.25, seed=i) for i in range(5)] + [seen("1284567", 1.0, seed=9)]
    v = vote(reads)
    assert v.text == "1284567"
    tracker = PassTracker()
    decided = [p for i, r in enumerate(reads) for p in tracker.feed(i / 10, [r])] + tracker.flush()
    assert [p.vote.text for p in decided] == ["1284567"]


def test_two_plates_the_frames_cannot_tell_apart_leave_the_pass_unsure():
    v = vote([seen("1234567", 1.0, seed=1), seen("1234587", 1.0, seed=2)])
    assert v.confidence < 0.8  # below the ledger's sure level: the visit is flagged for review


def test_reads_without_a_posterior_are_still_voted_per_character():
    reads = [plate_read("1234567")] * 3 + [plate_read("1234587")]
    assert vote(reads).text == "1234567"

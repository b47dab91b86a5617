"""The bundled clips, end to end: decoded by OpenCV, one decision per car, the demo's story holds.

The first test replays each clip's sidecar truth as the reader (weights not
needed); the last runs the real lpr.Reader and skips until its weights exist.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest

from gate.demo import DEMO_DIR, ScriptedReader, run_demo
from gate.store.ledger import Ledger
from lpr.config import DETECTOR_ONNX, OCR_PT

ENTRY, EXIT = DEMO_DIR / "entry.mp4", DEMO_DIR / "exit.mp4"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A SQLite file ledger: the clips need no second backend."""
    with Ledger.open(str(tmp_path / "ledger.db")) as led:
        yield led


def test_bundled_clips_are_small_and_described():
    for clip in (ENTRY, EXIT):
        assert clip.stat().st_size <= 3_000_000
        truth = json.loads(clip.with_suffix(".json").read_text())
        assert truth["size"] == [1280, 720] and len(truth["frames"]) > 100


def test_demo_story_on_the_bundled_clips(tmp_path: Path, capsys):
    result = run_demo(str(tmp_path / "demo.db"), tmp_path, fake_reader=True)
    assert result.entered == ["3175842", "52918364", "6640271", "81239057", "7385126"]  # one decision per car
    assert result.paid == ["3175842", "52918364", "81239057", "7385126"]
    assert result.let_out == ["52918364", "3175842", "7385126", "81239057"]  # incl. the smeared plate
    assert result.denied == ["6640271"]  # did not pay
    assert result.review == ["90214573"]  # never entered
    smeared = next(o for o in result.exit if o.decision.plate == "7385126")
    assert smeared.passed.vote.agree < smeared.passed.vote.reads  # misreads were outvoted, not absent
    assert "denied:  66-402-71" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(not (DETECTOR_ONNX.exists() and OCR_PT.exists()),
                    reason="real-reader test needs lpr/weights/detector.onnx and ocr.pt (not trained yet)")
def test_real_reader_decides_a_car_of_the_entry_clip(ledger):
    import cv2

    from gate.lane.process import GateProcess
    from gate.lane.relay import RetryingRelay, SimulatedRelay
    from gate.lane.sources import InOrderSource, ReconnectingCapture, SourceSpec
    from lpr import Reader

    truth = ScriptedReader.for_clip(ENTRY).frames
    first_car = [i for i, f in enumerate(truth) if f and f[0]["text"] == "3175842"]

    class FirstCar:
        """The entry clip cut to its first car, so the test stays light on CPU."""

        def __init__(self, target):
            self.cap, self.n = cv2.VideoCapture(target), 0

        def isOpened(self):
            return self.cap.isOpened()

        def read(self):
            if self.n > first_car[-1]:
                return False, None
            self.n += 1
            return self.cap.read()

        def get(self, prop):
            return self.cap.get(prop)

        def release(self):
            self.cap.release()

    source = InOrderSource(ReconnectingCapture(SourceSpec(str(ENTRY), live=False), FirstCar))
    process = GateProcess("entry", source, Reader(), ledger, RetryingRelay(SimulatedRelay()))
    process.run()
    assert "3175842" in [o.decision.plate for o in process.outcomes]

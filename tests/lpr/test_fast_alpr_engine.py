"""The fast-alpr peer: loaded by path from the shared peer folder, never downloaded, read like our Reader."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from lpr import evaluate as ev
from lpr.fast_alpr_engine import FastAlprEngine, model_dir

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real-plates"

pytest.importorskip("fast_plate_ocr", reason="peers extra not installed")
pytestmark = pytest.mark.skipif(not model_dir().is_dir(), reason="../shared/peers/fast-alpr not beside the repo")


@pytest.fixture(scope="module")
def engine() -> FastAlprEngine:
    return ev.make_engine("fast-alpr", threads=1)  # type: ignore[return-value]


def test_peer_reads_a_real_crop_and_a_real_scene(engine):
    crop = cv2.imread(str(REAL / "images" / "eshel19_100_clip_0.jpg"))
    read = engine.read_crop(crop)
    assert read is not None and read.text == "7744452" and read.valid
    scene = cv2.imread(str(REAL / "images" / "iliarakhlevski_img_1.jpg"))
    reads = engine.read(scene)
    assert reads and reads[0].text == "21593303" and reads[0].text.isdigit()


def test_peer_folder_missing_is_one_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="fast-alpr model .* not found"):
        FastAlprEngine(folder=tmp_path)

"""Crops cut by the detector for the OCR: labelled with the plate under them, "" where there is none, and left
out where a label could be wrong."""
from __future__ import annotations

import csv

import numpy as np
from typer.testing import CliRunner

from lpr.config import ALPHABET
from lpr.detector import PlateDetector
from lpr.plate_format import is_valid_plate
from lpr.rectify import RECT_SIZE, box_corners
from lpr.types import Detection
from plategen import cli as plategen_cli
from plategen.reader_crops import label_detections, reader_crops, shows_plate
from plategen.render import render_plate

PLATE = np.array([[400, 300], [640, 300], [640, 352], [400, 352]], np.float32)


def frame_with_plate() -> np.ndarray:
    img = np.full((720, 1280, 3), (90, 110, 120), np.uint8)
    plate = render_plate(np.random.default_rng(0), "1234567", px_per_mm=0.46).image
    img[300 : 300 + plate.shape[0], 400 : 400 + plate.shape[1]] = plate
    return img


def det(corners) -> Detection:
    c = np.asarray(corners, np.float32)
    return Detection((*c.min(0), *c.max(0)), c, 0.9)


def test_a_crop_round_the_whole_plate_shows_it_and_one_cutting_its_end_does_not():
    assert shows_plate(PLATE, PLATE)
    cut = PLATE.copy()
    cut[[1, 2], 0] -= 40  # the right sixth of the plate left out
    assert not shows_plate(cut, PLATE)


def test_a_detection_on_the_plate_is_labelled_with_it_and_one_elsewhere_with_nothing():
    on, elsewhere = det(PLATE), det(PLATE + [0, 250])
    got = label_detections(frame_with_plate(), [("1234567", PLATE)], [on, elsewhere], np.random.default_rng(1))
    labels = [label for _, label in got]
    assert labels.count("") == 1 and set(labels) == {"1234567", ""}
    assert all(crop.shape[:2] == RECT_SIZE[::-1] for crop, _ in got)


def test_detections_that_could_get_a_wrong_label_are_left_out():
    half_over = det(PLATE + [120, 0])  # half on the plate, half off it
    inside = det(box_corners((460, 300, 580, 352)))  # a box inside the plate: its crop cuts both ends off
    plates = [("1234567", PLATE)]
    assert label_detections(frame_with_plate(), plates, [half_over, inside], np.random.default_rng(1)) == []
    out_of_frame = [("1234567", PLATE - [450, 0])]  # the plate's left end is outside the frame
    assert label_detections(frame_with_plate(), out_of_frame, [det(PLATE - [450, 0])], np.random.default_rng(1)) == []


def test_generated_frames_give_plate_labels_or_none_through_the_shipped_detector():
    detector = PlateDetector(threads=1)
    crops = [c for i in range(6) for c in reader_crops(np.random.default_rng([3, i]), detector)]
    assert any(label for _, label, _ in crops)
    for crop, label, condition in crops:
        assert crop.shape[:2] == RECT_SIZE[::-1]
        assert label == "" or is_valid_plate(label) and set(label) <= set(ALPHABET)
        assert condition


def test_reader_crops_command_writes_a_set_the_ocr_trainer_reads(tmp_path):
    r = CliRunner().invoke(plategen_cli.app, ["reader-crops", "--out", str(tmp_path), "--n", "4", "--seed", "3",
                                              "--workers", "1"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all((tmp_path / "images" / row["image"]).exists() for row in rows)
    assert {"image", "plate", "condition"} <= set(rows[0])

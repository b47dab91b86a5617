"""Crops cut by the detector for the OCR: labelled with the plate under them, "" where there is none, and left
out where a label could be wrong."""
from __future__ import annotations

import csv

import cv2
import numpy as np
from typer.testing import CliRunner

from lpr.config import ALPHABET
from lpr.detector import PlateDetector
from lpr.ocr import CrnnOcr
from lpr.plate_format import is_valid_plate
from lpr.rectify import RECT_SIZE, box_corners
from lpr.types import Detection
from plategen import cli as plategen_cli
from plategen.clips import ClipSpec, pass_frame, pass_path
from plategen.conditions import Condition
from plategen.reader_crops import label_detections, reader_crops, shows_plate
from plategen.render import render_plate
from plategen.scenes import make_scene

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
    around = det(box_corners((330, 250, 710, 420)))  # the plate and much round it: IoU 0.2, the crop shows it all
    inside = det(box_corners((460, 300, 580, 352)))  # a box inside the plate: its crop cuts both ends off
    plates = [("1234567", PLATE)]
    assert shows_plate(around.corners, PLATE)
    assert label_detections(frame_with_plate(), plates, [around, inside], np.random.default_rng(1)) == []
    out_of_frame = [("1234567", PLATE - [450, 0])]  # the plate's left end is outside the frame
    assert label_detections(frame_with_plate(), out_of_frame, [det(PLATE - [450, 0])], np.random.default_rng(1)) == []


def test_a_detection_on_part_of_a_big_plate_is_not_taken_for_no_plate():
    close_up = np.array([[100, 200], [1180, 200], [1180, 430], [100, 430]], np.float32)
    part = det(box_corners((500, 280, 700, 350)))  # IoU under 0.1, but all of it over the plate
    assert label_detections(frame_with_plate(), [("1234567", close_up)], [part], np.random.default_rng(1)) == []


def test_unsure_corners_give_one_crop_not_the_same_crop_twice():
    unsure = Detection(det(PLATE).box, PLATE, 0.9, corner_conf=np.zeros(4, np.float32))
    for seed in range(20):  # the box retry is drawn 30 % of the time: 20 draws all but surely hit it
        got = label_detections(frame_with_plate(), [("1234567", PLATE)], [unsure], np.random.default_rng(seed))
        assert len(got) == 1


def test_generated_frames_give_plate_labels_or_none_through_the_shipped_detector():
    detector = PlateDetector(threads=1)
    crops = [c for i in range(6) for c in reader_crops(np.random.default_rng([3, i]), detector)]
    assert any(label for _, label, _ in crops)
    for crop, label, condition in crops:
        assert crop.shape[:2] == RECT_SIZE[::-1]
        assert label == "" or is_valid_plate(label) and set(label) <= set(ALPHABET)
        assert condition in {c.value for c in Condition}


def test_plates_of_shrunk_frames_keep_their_labels():
    """SMALL shrinks the frame: the plates' corners must shrink with it, or every detection would look like none."""
    detector = PlateDetector(threads=1)
    crops = [c for i in range(8)
             for c in reader_crops(np.random.default_rng([4, i]), detector, condition=Condition.SMALL)]
    assert {condition for _, _, condition in crops} <= {"small"}
    assert sum(1 for _, label, _ in crops if label) > sum(1 for _, label, _ in crops if not label)


def test_reader_crops_command_writes_a_set_the_ocr_trainer_reads(tmp_path):
    r = CliRunner().invoke(plategen_cli.app, ["reader-crops", "--out", str(tmp_path), "--n", "4", "--seed", "3",
                                              "--workers", "1"])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all((tmp_path / "images" / row["image"]).exists() for row in rows)
    assert {"image", "plate", "condition"} <= set(rows[0])


def test_an_approach_frame_maps_the_plate_to_where_it_is_drawn():
    """The map `pass_frame` returns takes the photo's plate corners onto the plate's pixels in the clip frame."""
    photo = frame_with_plate()
    plate = cv2.cvtColor(photo[300:350, 400:639], cv2.COLOR_BGR2GRAY).astype(np.float32)
    path = pass_path(photo.shape, np.random.default_rng(2), ClipSpec())
    lane = np.full_like(photo, 30)

    def likeness(frame: np.ndarray, quad: np.ndarray) -> float:
        m = cv2.getPerspectiveTransform(quad.astype(np.float32), np.float32([[0, 0], [239, 0], [239, 50], [0, 50]]))
        seen = cv2.cvtColor(cv2.warpPerspective(frame, m, (239, 50)), cv2.COLOR_BGR2GRAY).astype(np.float32)
        return float(np.corrcoef(seen.ravel(), plate.ravel())[0, 1])

    for k in (0, 1, len(path) - 1):  # unblurred, the most blurred, the last
        frame, to_frame = pass_frame(photo, lane, np.random.default_rng(5), path[k], path[k - 1] if k else None)
        there = PLATE @ to_frame[:, :2].T + to_frame[:, 2]
        width = there[1, 0] - there[0, 0]
        assert likeness(frame, there) > 0.6
        assert likeness(frame, there + [0.3 * width, 0]) < 0.4


def test_approach_frames_keep_their_plates_labels_through_the_detector():
    """A frame of a car's approach moves and shrinks the scene: its plates' corners must move with it, or the
    detections would be labelled none or left out."""
    detector = PlateDetector(threads=1)
    crops, plates = [], set()
    for i in range(6):
        crops += reader_crops(np.random.default_rng([3, i]), detector, passes=1.0)
        _, placed = make_scene(np.random.default_rng([3, i]), size=(1280, 720), p_gate=0.0, p_occlude=0.0)
        plates |= {p.text for p in placed}  # the same draws reader_crops starts with: the same scene
    labelled = [(crop, label) for crop, label, _ in crops if label]
    assert len(labelled) >= 3 and {label for _, label in labelled} <= plates
    assert all(crop.shape[:2] == RECT_SIZE[::-1] for crop, _, _ in crops)
    # and a label names the plate the crop shows: the shipped OCR reads at least half of them as labelled (a crop paired
    # with another plate's label, or cut beside its plate, would read otherwise)
    reads = CrnnOcr(threads=1).read([crop for crop, _ in labelled])
    assert sum(r.text == label for r, (_, label) in zip(reads, labelled)) >= len(labelled) / 2

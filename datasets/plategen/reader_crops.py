"""OCR training crops cut by the shipped detector from whole gate frames, as the reader cuts them.

`plategen ocr` draws a plate's patch, puts it through a condition and cuts it with made-up corner errors. At
the gate the crop comes from a 1280x720 frame that went through the condition whole (headlights, codec
blocks, a small plate's few pixels) and is cut where the detector put its corners, zoomed-out look included.
These crops are that: a frame like the held-out set's, one gate condition at a random severity, every
detection of both looks cut by `lpr.pipeline.cut_plate`, labelled with the plate it covers, or "" where it
covers none (a sign or a bumper the detector took for a plate: the reader must give no read there).
"""
from __future__ import annotations

import cv2
import numpy as np

from lpr.detector import PlateDetector
from lpr.metrics import box_intersection, box_iou, corners_to_box
from lpr.pipeline import ZOOM_IMGSZ, ZOOM_OUT, cut_plate
from lpr.rectify import MARGIN, RECT_SIZE, box_corners, destination_quad, warp_plate
from lpr.types import Detection
from plategen.clips import ClipSpec, empty_lane, pass_frame, pass_path
from plategen.conditions import Condition, apply
from plategen.scenes import make_scene

MATCH_IOU = 0.5  # a detection this much over a plate's box is that plate ...
NONE_OVERLAP = 0.1  # ... one with less than this share of its own box over every plate is none; the rest (partly
# over a plate, or a part of a close-up plate) are left out
BOX_RETRY = 0.3  # share of plate detections also cut on the detector's box (the reader's retry for misfit reads)


def _overlap(det: tuple[float, float, float, float], plate: tuple[float, float, float, float]) -> float:
    """Share of the detection's box that lies over the plate's box."""
    area = (det[2] - det[0]) * (det[3] - det[1])
    return box_intersection(det, plate) / area if area > 0 else 0.0


def shows_plate(quad: np.ndarray, plate: np.ndarray, slack: float = 0.02) -> bool:
    """Whether the crop warped from `quad` holds the whole `plate` (corners), give or take `slack` of its size.

    The detector's corners now and then fall inside the plate and the crop cuts an edge digit off; labelled
    with the whole plate, such a crop would teach the OCR to invent the digit it cannot see (the reader
    retries a misfit read on the detector's box instead). Vertically the slack is 5x: the crop's margin is
    2.5x wider there (`MARGIN`) and the digits stand clear of the plate's top and bottom edges.
    """
    m = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), destination_quad(RECT_SIZE, MARGIN))
    p = cv2.perspectiveTransform(np.asarray(plate, np.float32).reshape(-1, 1, 2), m).reshape(-1, 2)
    w, h = RECT_SIZE
    return bool((p[:, 0] >= -slack * w).all() and (p[:, 0] <= (1 + slack) * w).all()
                and (p[:, 1] >= -5 * slack * h).all() and (p[:, 1] <= (1 + 5 * slack) * h).all())


def label_detections(frame: np.ndarray, plates: list[tuple[str, np.ndarray]], dets: list[Detection],
                     rng: np.random.Generator) -> list[tuple[np.ndarray, str]]:
    """(crop, label) for each detection in `frame`, given its true `plates` (text, corners).

    A detection over a plate whole in the frame gets that plate's text, and now and then (`BOX_RETRY`) its box
    crop too; one over no plate gets "". Those only partly over a plate, over a plate partly out of the frame,
    or cutting the plate's edge off are left out: whatever label they got would be wrong for some of them.
    """
    h, w = frame.shape[:2]
    boxes = [corners_to_box(c) for _, c in plates]
    whole = [bool((c >= 0).all() and (c[:, 0] < w).all() and (c[:, 1] < h).all()) for _, c in plates]
    out = []
    for d in dets:
        crop, quad, corners = cut_plate(frame, d)
        if max((_overlap(d.box, b) for b in boxes), default=0.0) < NONE_OVERLAP:
            out.append((crop, ""))
            continue
        ious = [box_iou(d.box, b) for b in boxes]
        best = int(np.argmax(ious))
        if ious[best] < MATCH_IOU or not whole[best]:
            continue
        text, plate = plates[best]
        if shows_plate(quad, plate):
            out.append((crop, text))
        box = box_corners(d.box)
        # unsure corners were cut on the box already: a second crop would be the same one
        if rng.random() < BOX_RETRY and not np.array_equal(corners, box) and shows_plate(box, plate):
            out.append((warp_plate(frame, box), text))
    return out


def reader_crops(rng: np.random.Generator, detector: PlateDetector, car_scenes: str | None = None,
                 severity: tuple[float, float] = (0.6, 1.4), condition: Condition | None = None,
                 passes: float = 0.0) -> list[tuple[np.ndarray, str, str]]:
    """(crop, label, condition) for every detection of both looks in one generated gate frame; the condition is
    drawn at random unless given. No plate is partly covered: its label would hold digits no crop shows.

    `passes` of the frames are one frame of a car's approach instead, rendered as `plategen clips` renders it
    (the conditioned scene shrunk to 0.5-0.9 of the frame, blurred along its travel, through the codec twice).
    On the fresh8 clips the shipped reader read 61 % of a pass's first (unblurred) frames in daylight and 39 %
    of its second, the most blurred one; cars it missed were mostly those no frame read right.
    """
    img, placed = make_scene(rng, size=(1280, 720), car_scenes=car_scenes, p_gate=0.0, p_occlude=0.0)
    drawn = list(Condition)[int(rng.integers(len(Condition)))]  # drawn either way: the frame's stream stays the same
    condition = condition or drawn
    frame = apply(img, condition, rng, severity=float(rng.uniform(*severity)))
    scale = np.array([frame.shape[1] / img.shape[1], frame.shape[0] / img.shape[0]], np.float32)
    plates = [(p.text, p.corners * scale) for p in placed]
    if passes and rng.random() < passes:  # drawn only when asked: sets made without passes stay as they were
        frame, plates = _approach_frame(frame, plates, rng)
    dets = detector.detect(frame) + detector.detect(frame, ZOOM_IMGSZ, zoom=ZOOM_OUT)
    return [(crop, label, condition.value) for crop, label in label_detections(frame, plates, dets, rng)]


def _approach_frame(photo: np.ndarray, plates: list[tuple[str, np.ndarray]], rng: np.random.Generator
                    ) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """One frame, at random, of `photo` driving through a clip (`plategen.clips`), and its plates' corners there."""
    spec = ClipSpec()
    path = pass_path(photo.shape, rng, spec)
    k = int(rng.integers(len(path)))
    frame, to_frame = pass_frame(photo, empty_lane(rng, photo), rng, path[k], path[k - 1] if k else None)
    return frame, [(text, c @ to_frame[:, :2].T + to_frame[:, 2]) for text, c in plates]

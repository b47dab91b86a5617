"""OCR training crops: a plate on a bit of car, through the camera, then through the reader's own warp.

Two ways in, as at the gate: corners from a detector that errs by a few % of the plate width
(`lpr.rectify.warp_plate`), or a loose hand/third-party crop with car body round it
(`lpr.rectify.crop_as_plate`). Both keep the blue strip, frame and dealer text in view, so the OCR
learns to ignore them instead of inventing digits out of them.
"""
from __future__ import annotations

import numpy as np

from lpr.pipeline import EXPAND
from lpr.rectify import box_corners, crop_as_plate, expand_quad, warp_plate
from plategen.render import PLATE_MM, random_letter_text, random_plate_text
from plategen.scenes import _background, _car, camera_or_condition, place_plate, project_rect


def plate_patch(rng: np.random.Generator, text: str, plate_w: float, plate: bool = True):
    """A small photo round one plate: background, car body, frame, plate, camera effects. Without `plate`, the
    same photo with the car's plate area left bare (the corners say where a plate would be)."""
    ph = plate_w * PLATE_MM[1] / PLATE_MM[0]
    w, h = int(plate_w * 1.9), int(ph * 5)
    img = _background(rng, w, h)
    cx, cy = w / 2 + rng.normal(0, 0.03) * plate_w, h / 2 + rng.normal(0, 0.1) * ph
    if rng.random() < 0.8:
        _car(img, rng, cx, cy, plate_w)
    yaw, pitch, roll = rng.normal(0, 15), rng.normal(0, 8), rng.normal(0, 3)
    if plate:
        corners = place_plate(img, rng, plate_w, (cx, cy), yaw, pitch, roll, text=text).corners
    else:
        corners = project_rect(plate_w, PLATE_MM[0] / PLATE_MM[1], (cx, cy), yaw, pitch, roll)
    # real crops are blurred but readable: scale blur to the plate, not to a full frame
    img = camera_or_condition(img, rng, [corners], strength=0.6, blur_scale=float(np.clip(plate_w / 200, 0.25, 1.0)))
    return img, corners


def make_ocr_crop(rng: np.random.Generator, text: str | None = None, negative: bool = False) -> tuple[np.ndarray, str]:
    """A crop and its label. A `negative` is cut the same way from a plate with letters (3 in 4) or from a car
    with no plate, and labelled "" : the reader must give no read there, never a guess."""
    bare = negative and rng.random() < 0.25
    text = random_letter_text(rng) if negative else text or random_plate_text(rng)
    plate_w = float(np.exp(rng.uniform(np.log(50), np.log(260))))
    img, corners = plate_patch(rng, text, plate_w, plate=not bare)
    ph = np.linalg.norm(corners[3] - corners[0])
    if rng.random() < 0.6:  # as the reader cuts a detection: corners off by the detector's error, then widened
        # the shipped detector's corners are 6.1 % of the plate width off on held-out synthetic scenes (median
        # 3.9 %); trained on 0.5-3 % only, the OCR read 87.7 % of such crops with small errors but 77.7 % with
        # the detector's (600 crops): so the error spans both; 10 % take the box round the quad (the reader's
        # fallback for unsure corners), 76.5 % are widened by EXPAND as the reader does, 13.5 % stay unwidened
        # (tight crops, as the OCR learnt before)
        jitter = rng.normal(0, rng.uniform(0.005, 0.06) * plate_w, (4, 2)).astype(np.float32)
        quad = corners + jitter
        if rng.random() < 0.1:
            quad = box_corners((*quad.min(0), *quad.max(0)))
        elif rng.random() < 0.85:
            quad = expand_quad(quad, *EXPAND)
        crop = warp_plate(img, quad)
    else:  # loose crop: margins of car body round the plate, now and then a sliver cut off
        x0, y0 = corners.min(0)
        x1, y1 = corners.max(0)
        left, right = rng.uniform(-0.02, 0.1, 2) * plate_w
        t, b = rng.uniform(-0.06, 0.3, 2) * ph
        X0, Y0 = int(max(0, x0 - left)), int(max(0, y0 - t))
        X1, Y1 = int(min(img.shape[1], x1 + right)), int(min(img.shape[0], y1 + b))
        crop = crop_as_plate(img[Y0:Y1, X0:X1])
    return crop, "" if negative else text

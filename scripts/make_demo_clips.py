"""Render the demo's two bundled clips (gate/demo/entry.mp4, exit.mp4) with the procedural generator.

Deterministic (fixed seed): re-running rewrites the same clips. Only plategen's
procedural backgrounds, cars and rendered plates are used, never photos.

Each car drives up to the camera at an angle (plate ~100 -> ~300 px wide, yaw
easing off, moving across the frame) for ~3 s, then a short empty gap. The
exit clip has the entry's cars in another order, one of them with a mud smear
over a digit in a few early frames (the misread-prone plate), plus one car
never seen at the entry. A sidecar JSON per clip lists, per frame, the true
plates and boxes (and the smeared digit), for tests and the demo's
``--fake-reader`` mode.

    .venv/bin/python scripts/make_demo_clips.py [--out gate/demo]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plategen.render import PLATE_MM, render_plate
from plategen.scenes import _background, _car, paste, project_rect

SEED = 20240611
SIZE = (1280, 720)
FPS = 8.0
CAR_S = 3.0
GAP_S = 1.5
LEAD_S = 0.5

# the demo's cars: plate text; entry order; exit order (+ a stranger); the smeared one at the exit
CARS = ["3175842", "52918364", "6640271", "81239057", "7385126"]
STRANGER = "90214573"
EXIT_ORDER = ["52918364", "3175842", "7385126", "6640271", STRANGER, "81239057"]
SMEARED = "7385126"
SMEAR_DIGIT = 3  # index of the digit under the mud
SMEAR_FRAMES = range(2, 6)  # frames of that car's pass with the smear (early, far from the camera)


@dataclass(frozen=True)
class Path2:
    """Where the plate goes over one car's approach (start -> end, eased)."""

    start: tuple[float, float]
    end: tuple[float, float]
    width: tuple[float, float]
    yaw: tuple[float, float]


ENTRY_PATH = Path2(start=(980, 300), end=(640, 500), width=(100, 300), yaw=(30, 18))
EXIT_PATH = Path2(start=(300, 300), end=(640, 500), width=(100, 300), yaw=(-28, -16))


def _digit_span(text: str, index: int) -> tuple[float, float]:
    """Approximate horizontal span (fraction of plate width) of one digit, for the smear."""
    left, right = 0.14, 0.95
    step = (right - left) / len(text)
    return left + index * step, left + (index + 1) * step


def _smear(plate: np.ndarray, text: str, index: int, rng: np.random.Generator) -> np.ndarray:
    """Mud over the lower part of one digit: enough to make a reader hesitate in one frame."""
    out = plate.copy()
    h, w = out.shape[:2]
    x0, x1 = _digit_span(text, index)
    cx, cy = int((x0 + x1) / 2 * w), int(h * 0.58)
    axes = (int((x1 - x0) * w * 0.55), int(h * 0.22))
    cv2.ellipse(out, (cx, cy), axes, float(rng.uniform(-20, 20)), 0, 360, (40, 70, 95), -1)
    return out


def _ease(a: float, b: float, s: float) -> float:
    s = s * s * (3 - 2 * s)
    return a + (b - a) * s


def render_clip(path: Path, order: list[str], route: Path2, seed: int, smeared: str | None) -> dict:
    rng = np.random.default_rng(seed)
    w, h = SIZE
    background = _background(rng, w, h)
    plates = {text: render_plate(np.random.default_rng([seed, int(text)]), text, px_per_mm=1.2).image
              for text in order}
    n_car, n_gap, n_lead = int(CAR_S * FPS), int(GAP_S * FPS), int(LEAD_S * FPS)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise SystemExit(f"cannot write {path}")
    frames: list[list[dict]] = []

    def emit(img: np.ndarray, truth: list[dict]) -> None:
        writer.write(img)
        frames.append(truth)

    for _ in range(n_lead):
        emit(background, [])
    for k, text in enumerate(order):
        car_seed = [seed, k, int(text)]
        for i in range(n_car):
            s = i / (n_car - 1)
            cx, cy = _ease(route.start[0], route.end[0], s), _ease(route.start[1], route.end[1], s)
            pw = _ease(route.width[0], route.width[1], s)
            yaw = _ease(route.yaw[0], route.yaw[1], s)
            img = background.copy()
            _car(img, np.random.default_rng(car_seed), cx, cy, pw)  # same car every frame
            corners = project_rect(pw, PLATE_MM[0] / PLATE_MM[1], (cx, cy), yaw, 4.0, 1.5)
            plate = plates[text]
            smear = text == smeared and i in SMEAR_FRAMES
            if smear:
                plate = _smear(plate, text, SMEAR_DIGIT, np.random.default_rng(car_seed + [i]))
            # resize near the on-screen size first: a big downscale inside the warp aliases
            scale = max(pw * 1.2 / plate.shape[1], 0.05)
            plate = cv2.resize(plate, (max(8, int(plate.shape[1] * scale)), max(4, int(plate.shape[0] * scale))),
                               interpolation=cv2.INTER_AREA)
            paste(img, plate, corners)
            x1, y1 = corners.min(0)
            x2, y2 = corners.max(0)
            emit(img, [{"text": text, "box": [round(float(v), 1) for v in (x1, y1, x2, y2)],
                        "smeared_digit": SMEAR_DIGIT if smear else None}])
        for _ in range(n_gap):
            emit(background, [])
    writer.release()
    return {"fps": FPS, "size": list(SIZE), "order": order, "frames": frames}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "gate" / "demo")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, order, route, seed, smeared in (
        ("entry", CARS, ENTRY_PATH, SEED, None),
        ("exit", EXIT_ORDER, EXIT_PATH, SEED + 1, SMEARED),
    ):
        clip = args.out / f"{name}.mp4"
        truth = render_clip(clip, order, route, seed, smeared)
        (args.out / f"{name}.json").write_text(json.dumps(truth, separators=(",", ":")) + "\n")
        print(f"{clip}: {len(truth['frames'])} frames, {clip.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()

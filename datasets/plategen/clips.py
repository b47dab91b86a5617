"""Test clips from labelled photos: each car drives through the frame once, with empty lane between cars.

A photo of a car (or a tight plate crop) becomes one pass: it grows from `start_scale` to full size and
slides down the frame as the car approaches, blurred along its travel in proportion to its speed, and
every frame goes through the video codec. Between cars the lane is empty for a gap, so `gate run`
closes one pass per car. The truth file says which frames belong to which plate, so per-car accuracy
after voting is a script away (scripts/evaluate_clips.py).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from plategen.conditions import _travel_blur, _video_codec

FRAME = (1280, 720)


@dataclass(frozen=True)
class ClipSpec:
    fps: float = 10.0
    pass_frames: int = 10  # one second in front of the camera
    gap_frames: int = 25  # empty lane between cars: 2.5 s, longer than gate run's 2 s pass gap
    start_scale: float = 0.55  # the car's size on the first frame of its pass, as a fraction of the last
    fit: float = 0.9  # the photo's size on the last frame, as a fraction of the frame


@dataclass(frozen=True)
class CarPass:
    car: int
    image: str
    plate: str
    first_frame: int
    last_frame: int
    covered: str = ""  # the source label's covered share (plategen evalset), blank where it has none


def empty_lane(rng: np.random.Generator, like: np.ndarray) -> np.ndarray:
    """An empty lane as dim as the car photos of this clip (an IR clip gets a dark grey lane)."""
    tone = np.clip(like.reshape(-1, 3).mean(0) * rng.uniform(0.5, 0.8), 0, 255)
    lane = np.empty((FRAME[1], FRAME[0], 3), np.float32)
    lane[:] = tone
    ramp = np.linspace(0.8, 1.1, FRAME[1], dtype=np.float32)[:, None, None]  # paving nearer the camera is lit
    noise = rng.normal(0, 4, (FRAME[1] // 8, FRAME[0] // 8, 1)).astype(np.float32)
    lane = lane * ramp + cv2.resize(noise, FRAME, interpolation=cv2.INTER_LINEAR)[:, :, None]
    return np.clip(lane, 0, 255).astype(np.uint8)


def pass_path(photo_shape: tuple[int, ...], rng: np.random.Generator,
              spec: ClipSpec) -> list[tuple[float, float, float]]:
    """Where the photo stands in each frame of one car's approach: (scale, centre x, centre y) per frame."""
    W, H = FRAME
    fit = spec.fit * min(W / photo_shape[1], H / photo_shape[0])
    x_end, y_end = W / 2 + rng.normal(0, 0.05) * W, H / 2 + rng.normal(0, 0.03) * H
    x_start, y_start = x_end + rng.normal(0, 0.1) * W, y_end - rng.uniform(0.05, 0.2) * H
    path = []
    for k in range(spec.pass_frames):
        t = k / max(1, spec.pass_frames - 1)
        t = 1 - (1 - t) ** 2  # easing: the car slows as it reaches the barrier
        s = fit * (spec.start_scale + (1 - spec.start_scale) * t)
        path.append((s, x_start + (x_end - x_start) * t, y_start + (y_end - y_start) * t))
    return path


def pass_frame(photo: np.ndarray, lane: np.ndarray, rng: np.random.Generator, at: tuple[float, float, float],
               prev: tuple[float, float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """One frame of an approach: the photo placed `at` (scale, cx, cy) on the lane, blurred by the way it moved
    since `prev` (none on a pass's first frame), through the codec; and the (2, 3) map of photo to frame pixels."""
    W, H = FRAME
    s, cx, cy = at
    pw, ph = max(8, int(photo.shape[1] * s)), max(8, int(photo.shape[0] * s))
    car = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    frame = lane.copy()
    x0, y0 = int(cx - pw / 2), int(cy - ph / 2)
    X0, Y0, X1, Y1 = max(0, x0), max(0, y0), min(W, x0 + pw), min(H, y0 + ph)
    if X1 > X0 and Y1 > Y0:
        frame[Y0:Y1, X0:X1] = car[Y0 - y0 : Y1 - y0, X0 - x0 : X1 - x0]
    if prev is not None:  # blur by the distance the car moved in this frame, as a share of the frame
        speed = float(np.hypot(cx - prev[1], cy - prev[2])) / min(W, H)
        frame = _travel_blur(frame, rng, speed * rng.uniform(0.3, 0.6))
    to_frame = np.array([[pw / photo.shape[1], 0, x0], [0, ph / photo.shape[0], y0]], np.float32)
    return _video_codec(frame, rng, (40, 80)), to_frame


def pass_frames(photo: np.ndarray, lane: np.ndarray, rng: np.random.Generator, spec: ClipSpec) -> list[np.ndarray]:
    """The frames of one car's approach: growing, moving down, blurred by its own motion."""
    path = pass_path(photo.shape, rng, spec)
    return [pass_frame(photo, lane, rng, at, path[k - 1] if k else None)[0] for k, at in enumerate(path)]


def render_clip(src: Path, out: Path, seed: int = 3, spec: ClipSpec = ClipSpec(), limit: int | None = None,
                kind: str | None = None) -> Path:
    """`src` (images/ + labels.csv) -> `out`/clip.mp4 and `out`/truth.csv (one row per car pass).

    `kind` keeps only rows of that kind (`scene`: photos of whole cars, not tight plate crops).
    """
    with open(src / "labels.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r.get("image") and r.get("plate")
                and (kind is None or (r.get("kind") or "scene") == kind)]
    rows = rows[:limit] if limit else rows
    if not rows:
        raise ValueError(f"{src / 'labels.csv'}: no labelled rows")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(out / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), spec.fps, FRAME)
    if not writer.isOpened():
        raise RuntimeError(f"{out / 'clip.mp4'}: OpenCV cannot write mp4v video here")
    passes: list[CarPass] = []
    frame_no = 0
    try:
        for i, r in enumerate(rows):
            photo = cv2.imread(str(src / "images" / r["image"]), cv2.IMREAD_COLOR)
            if photo is None:
                raise ValueError(f"{src / 'images' / r['image']}: cannot decode image")
            lane = empty_lane(rng, photo)
            for _ in range(spec.gap_frames):
                writer.write(_video_codec(lane, rng, (40, 80)))
                frame_no += 1
            first = frame_no
            for frame in pass_frames(photo, lane, rng, spec):
                writer.write(frame)
                frame_no += 1
            passes.append(CarPass(i, r["image"], r["plate"], first, frame_no - 1, r.get("covered") or ""))
        for _ in range(spec.gap_frames):  # the last car leaves too
            writer.write(_video_codec(lane, rng, (40, 80)))
            frame_no += 1
    finally:
        writer.release()
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["car", "image", "plate", "first_frame", "last_frame", "fps", "covered"])
        wr.writerows([p.car, p.image, p.plate, p.first_frame, p.last_frame, spec.fps, p.covered] for p in passes)
    return out / "clip.mp4"

"""Scenes for the detector: rendered Israeli plates placed with known corners on real or drawn cars.

Real cars come from a folder of photos with plate boxes (../shared/car-scenes): each labelled foreign
plate is painted out and an Israeli plate is pasted over it with a random tilt, so the detector learns
real cars, light and placement; unlabelled foreign plates left in the photo are hard negatives.
Procedural scenes (no folder needed) add stronger perspective, distractors and frames with no plate.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from plategen import conditions, effects
from plategen.render import PLATE_MM, render_plate

CAMERA_DISTANCE = 3.0  # in plate widths: mild, realistic perspective foreshortening
# Share of frames seen through a gate condition (dusk, IR, motion, codec, rain) instead of the daytime
# camera chain: the reader fell to 3 cars in 4 at dusk and under IR when these were 7 % of its data.
P_GATE = 0.45
SIZES = [(1280, 720), (1280, 720), (1920, 1080), (1024, 768), (1080, 1080), (720, 1280), (960, 1280)]


@dataclass
class PlacedPlate:
    text: str
    corners: np.ndarray  # (4, 2) float32, TL TR BR BL in image pixels (may lie outside the image)
    covered: float = 0.0  # share of the plate's width under a cover (_occlude): its digits there cannot be read


# ----------------------------------------------------------------------------- geometry
def project_rect(w_px: float, aspect: float, center, yaw: float, pitch: float, roll: float,
                 fov_deg: float = 50.0) -> np.ndarray:
    """Corners (TL, TR, BR, BL) of a w_px-wide rectangle turned by yaw/pitch/roll (degrees), pinhole view."""
    hw, hh = 0.5, 0.5 / aspect
    pts = np.array([[-hw, -hh, 0], [hw, -hh, 0], [hw, hh, 0], [-hw, hh, 0]], np.float64)
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    pts = pts @ (rz @ rx @ ry).T
    f = 1.0 / np.tan(np.radians(fov_deg) / 2)
    dist = f * CAMERA_DISTANCE
    z = pts[:, 2] + dist
    proj = pts[:, :2] * (f / z)[:, None]
    proj *= w_px / (f / dist)  # so the frontal width would be w_px
    return (proj + np.asarray(center, np.float64)).astype(np.float32)


def paste(scene: np.ndarray, plate: np.ndarray, corners: np.ndarray) -> None:
    """Warp `plate` onto `scene` at `corners` (TL TR BR BL), antialiased edges, in place."""
    h, w = plate.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    H, W = scene.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
    if x1 <= x0 or y1 <= y0:
        return
    m = cv2.getPerspectiveTransform(src, (corners - [x0, y0]).astype(np.float32))
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(plate, m, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, size, flags=cv2.INTER_LINEAR)
    a = mask.astype(np.float32)[:, :, None] / 255.0
    roi = scene[y0:y1, x0:x1]
    roi[:] = (roi * (1 - a) + warped * a).astype(np.uint8)


def _plate_for_width(rng: np.random.Generator, width_px: float, text: str | None = None):
    """Render at a resolution close to the on-screen size (cheap, and no aliasing from big downsizes)."""
    ppm = float(np.clip(width_px * 1.5 / PLATE_MM[0], 0.35, 2.0))
    return render_plate(rng, text, px_per_mm=ppm)


def _frame(rng: np.random.Generator, corners: np.ndarray) -> np.ndarray:
    """A plate holder slightly larger than the plate: same projective map, stretched rectangle."""
    c = corners
    top, left = c[1] - c[0], c[3] - c[0]
    gx, gy = rng.uniform(0.01, 0.05), rng.uniform(0.05, 0.25)
    gb = gy + rng.uniform(0.0, 0.3)
    return np.array([c[0] - gx * top - gy * left, c[1] + gx * top - gy * left,
                     c[2] + gx * top + gb * left, c[3] - gx * top + gb * left], np.float32)


def place_plate(scene: np.ndarray, rng: np.random.Generator, width_px: float, center, yaw, pitch, roll,
                text: str | None = None, frame: bool | None = None) -> PlacedPlate:
    aspect = PLATE_MM[0] / PLATE_MM[1] * rng.uniform(0.95, 1.05)
    corners = project_rect(width_px, aspect, center, yaw, pitch, roll)
    if frame if frame is not None else rng.random() < 0.4:
        fc = _frame(rng, corners)
        shade = rng.uniform(0, 60) if rng.random() < 0.7 else rng.uniform(150, 230)
        holder = np.full((40, 200, 3), shade, np.uint8)
        if rng.random() < 0.5:  # dealer name on the holder
            cv2.putText(holder, "".join(rng.choice(list("ABCDEHKMNORSTZ"), 6)), (60, 37), cv2.FONT_HERSHEY_SIMPLEX,
                        0.3, (255 - shade,) * 3, 1)
        paste(scene, holder, fc)
    plate = _plate_for_width(rng, width_px, text)
    paste(scene, plate.image, corners)
    return PlacedPlate(plate.text, corners)


# ----------------------------------------------------------------------------- real car photos
@dataclass(frozen=True)
class CarPhoto:
    path: Path
    boxes: tuple[tuple[float, float, float, float], ...]


@lru_cache(maxsize=4)
def load_car_scenes(root: str) -> tuple[CarPhoto, ...]:
    """Index every `<source>/labels.csv` under root (image, x1, y1, x2, y2, ...)."""
    out: dict[Path, list] = {}
    for labels in sorted(Path(root).glob("*/labels.csv")):
        with open(labels, newline="") as f:
            for row in csv.DictReader(f):
                p = labels.parent / "images" / row["image"]
                try:
                    box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
                except (KeyError, ValueError):
                    continue
                if box[2] - box[0] >= 8 and box[3] - box[1] >= 4:
                    out.setdefault(p, []).append(box)
    if not out:
        raise FileNotFoundError(f"{root}: no <source>/labels.csv with image,x1,y1,x2,y2 found")
    return tuple(CarPhoto(p, tuple(b)) for p, b in sorted(out.items()))


def _paint_out(img: np.ndarray, box) -> None:
    """Hide a foreign plate: inpaint its box (at low resolution, it is covered anyway)."""
    x1, y1, x2, y2 = [int(round(v)) for v in box]
    H, W = img.shape[:2]
    pad = max(4, int(0.15 * (y2 - y1)))
    X1, Y1, X2, Y2 = max(0, x1 - pad), max(0, y1 - pad), min(W, x2 + pad), min(H, y2 + pad)
    roi = img[Y1:Y2, X1:X2]
    if roi.size == 0:
        return
    s = min(1.0, 48 / max(1, roi.shape[1]))
    small = cv2.resize(roi, (max(2, int(roi.shape[1] * s)), max(2, int(roi.shape[0] * s))),
                       interpolation=cv2.INTER_AREA)
    mask = np.zeros(small.shape[:2], np.uint8)
    mx1, my1 = int((x1 - X1) * s), int((y1 - Y1) * s)
    mx2, my2 = int(np.ceil((x2 - X1) * s)), int(np.ceil((y2 - Y1) * s))
    mask[max(0, my1 - 1) : my2 + 1, max(0, mx1 - 1) : mx2 + 1] = 255
    small = cv2.inpaint(small, mask, 3, cv2.INPAINT_TELEA)
    big = cv2.resize(small, (roi.shape[1], roi.shape[0]), interpolation=cv2.INTER_LINEAR)
    roi[y1 - Y1 : y2 - Y1, x1 - X1 : x2 - X1] = big[y1 - Y1 : y2 - Y1, x1 - X1 : x2 - X1]


def car_scene(rng: np.random.Generator, photos: tuple[CarPhoto, ...], max_side: int = 1920):
    photo = photos[int(rng.integers(len(photos)))]
    img = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{photo.path}: cannot decode car photo")
    s = 1.0
    if max(img.shape[:2]) > max_side:
        s = max_side / max(img.shape[:2])
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:  # mirror the whole photo (plates are pasted after, so text stays readable)
        img = img[:, ::-1].copy()
        boxes = [(img.shape[1] - b[2] * s, b[1] * s, img.shape[1] - b[0] * s, b[3] * s) for b in photo.boxes]
    else:
        boxes = [tuple(v * s for v in b) for b in photo.boxes]
    plates = []
    for b in boxes:
        _paint_out(img, b)
    for b in boxes:
        bw, bh = b[2] - b[0], b[3] - b[1]
        width = max(bw * rng.uniform(0.95, 1.2), bh * 3.8)  # US/BR plates are squarer: keep an IL aspect
        center = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2 + rng.normal(0, 0.05) * bh)
        plates.append(place_plate(img, rng, width, center, rng.normal(0, 15), rng.normal(0, 8), rng.normal(0, 4)))
    return img, plates


# ----------------------------------------------------------------------------- procedural scenes
def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Sky, wall and paving bands with texture, lines and blocks."""
    img = np.empty((h, w, 3), np.uint8)
    horizon = int(h * rng.uniform(0.2, 0.6))
    img[:horizon] = rng.uniform(60, 240, 3)
    img[horizon:] = rng.uniform(30, 160, 3)
    small = rng.integers(0, 255, (max(2, h // 40), max(2, w // 40), 3), dtype=np.uint8)
    tex = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.addWeighted(img, 0.75, tex, 0.25, 0)
    for _ in range(int(rng.integers(3, 15))):  # walls, pillars, parking lines
        color = rng.uniform(0, 255, 3).tolist()
        if rng.random() < 0.5:
            p0 = rng.integers(0, [w, h])
            cv2.rectangle(img, p0, p0 + rng.integers(10, [w // 3, h // 3]), color, -1)
        else:
            cv2.line(img, rng.integers(0, [w, h]), rng.integers(0, [w, h]), color, int(rng.integers(1, 12)))
    return img


def _distractors(img: np.ndarray, rng: np.random.Generator) -> None:
    """Things that look a bit like plates: yellow signs, text, stripes."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(0, 5))):
        bw = int(rng.uniform(40, w * 0.3))
        bh = int(bw * rng.uniform(0.15, 0.8))
        x, y = int(rng.integers(0, max(1, w - bw))), int(rng.integers(0, max(1, h - bh)))
        color = (20, 200, 240) if rng.random() < 0.5 else tuple(rng.uniform(0, 255, 3).tolist())
        cv2.rectangle(img, (x, y), (x + bw, y + bh), color, -1)
        if rng.random() < 0.7:
            txt = "".join(rng.choice(list("ABCDEFGHPRSTXYZ0123456789 "), int(rng.integers(3, 9))))
            cv2.putText(img, txt, (x + 3, y + int(bh * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, bh / 40, (0, 0, 0),
                        max(1, bh // 15))


def _car(img: np.ndarray, rng: np.random.Generator, cx: float, cy: float, plate_w: float) -> None:
    """A car front or rear around where its plate goes: body, bumper, lights, grille or window."""
    body_w = plate_w * rng.uniform(3.0, 4.0)
    body = rng.uniform(0, 255, 3) if rng.random() < 0.6 else np.full(3, rng.uniform(10, 240))
    x0, x1 = int(cx - body_w / 2), int(cx + body_w / 2)
    y0, y1 = int(cy - plate_w * rng.uniform(0.9, 1.6)), int(cy + plate_w * rng.uniform(0.35, 0.6))
    cv2.rectangle(img, (x0, y0), (x1, y1), body.tolist(), -1)
    cv2.rectangle(img, (x0, int(cy + plate_w * 0.15)), (x1, y1), (body * rng.uniform(0.3, 0.8)).tolist(), -1)
    lw, lh = int(body_w * 0.15), int(plate_w * 0.2)
    lc = (30, 30, 200) if rng.random() < 0.5 else (220, 220, 220)
    ly = int(cy - plate_w * 0.5)
    cv2.rectangle(img, (x0 + 5, ly), (x0 + 5 + lw, ly + lh), lc, -1)
    cv2.rectangle(img, (x1 - 5 - lw, ly), (x1 - 5, ly + lh), lc, -1)
    if rng.random() < 0.5:  # grille bars
        for k in range(int(rng.integers(3, 8))):
            yy = int(cy - plate_w * 0.6 + k * plate_w * 0.08)
            cv2.line(img, (int(cx - plate_w * 0.8), yy), (int(cx + plate_w * 0.8), yy), (20, 20, 20), 2)


def procedural_scene(rng: np.random.Generator, w: int, h: int, n_plates: int):
    img = _background(rng, w, h)
    _distractors(img, rng)
    plates = []
    for _ in range(n_plates):
        lo, hi = 60.0, 0.4 * w
        pw = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        if rng.random() < 0.1:  # close-up photo of the plate itself (phone photos: a fifth of real dev scenes)
            pw = rng.uniform(0.4, 0.95) * w
        margin_out = 0.15 if rng.random() < 0.08 else -0.5  # now and then partly outside the frame
        cx = rng.uniform(-margin_out * pw if margin_out > 0 else pw * 0.5,
                         w + (margin_out * pw if margin_out > 0 else -pw * 0.5))
        cy = rng.uniform(pw * 0.15, h - pw * 0.15)
        yaw, pitch, roll = rng.uniform(-60, 60), rng.uniform(-30, 30), rng.uniform(-15, 15)
        if rng.random() < 0.5:  # most gate views are mild
            yaw, pitch, roll = yaw / 3, pitch / 3, roll / 3
        if rng.random() < 0.7:
            _car(img, rng, cx, cy, pw)
        plates.append(place_plate(img, rng, pw, (cx, cy), yaw, pitch, roll))
    return img, plates


def _occlude(img: np.ndarray, rng: np.random.Generator, plate: PlacedPlate) -> float:
    """Cover part of a plate (pole, hand, another car's edge), never most of it; returns the share of its width."""
    c = plate.corners
    x0, y0 = c.min(0)
    x1, y1 = c.max(0)
    bw, bh = x1 - x0, y1 - y0
    ow = bw * rng.uniform(0.08, 0.3)
    ox = x0 + rng.choice([0, bw - ow]) if rng.random() < 0.7 else rng.uniform(x0, x1 - ow)
    cv2.rectangle(img, (int(ox), int(y0 - bh)), (int(ox + ow), int(y1 + bh)), rng.uniform(0, 255, 3).tolist(), -1)
    return float(ow / bw)


# ----------------------------------------------------------------------------- the scene
def make_scene(rng: np.random.Generator, size: tuple[int, int] | None = None, car_scenes: str | None = None,
               p_empty: float = 0.1, p_car: float = 0.6, p_gate: float = P_GATE, p_occlude: float = 0.1):
    """One training frame and its plates. size=(w, h); real car photos are used when a folder is given.

    `p_gate` is the share of frames through a gate condition; the held-out set uses 0 (daytime camera only)
    and gets its condition variants from `plategen conditions`, as any labelled folder does. `p_occlude` is the
    share with a plate partly covered, whose label still holds every digit (right for the detector's corners, not
    for an OCR label): `PlacedPlate.covered` says so, and the evaluation sets carry it (labels.csv `covered`).
    """
    w, h = size or SIZES[int(rng.integers(len(SIZES)))]
    if rng.random() < p_empty:
        img = _background(rng, w, h)
        _distractors(img, rng)
        if rng.random() < 0.5:
            _car(img, rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(60, 0.3 * w))
        return effects.camera(img, rng), []
    if car_scenes and rng.random() < p_car:
        img, plates = car_scene(rng, load_car_scenes(str(car_scenes)))
        if size is not None:  # letterbox-free resize to the asked size (gate frames have a fixed size)
            sx, sy = w / img.shape[1], h / img.shape[0]
            s = min(sx, sy)
            img = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
            canvas = _background(rng, w, h)
            ox, oy = (w - img.shape[1]) // 2, (h - img.shape[0]) // 2
            canvas[oy : oy + img.shape[0], ox : ox + img.shape[1]] = img
            img = canvas
            plates = [PlacedPlate(p.text, p.corners * s + [ox, oy]) for p in plates]
    else:
        n = 2 if rng.random() < 0.15 else 1
        img, plates = procedural_scene(rng, w, h, n)
    if plates and rng.random() < p_occlude:
        k = int(rng.integers(len(plates)))
        plates[k] = replace(plates[k], covered=_occlude(img, rng, plates[k]))
    return camera_or_condition(img, rng, [p.corners for p in plates], p_gate=p_gate), plates


def camera_or_condition(img: np.ndarray, rng: np.random.Generator, plates: list[np.ndarray], p_gate: float = P_GATE,
                        **camera_kw) -> np.ndarray:
    """The daytime camera chain, or (`p_gate` of the time) one gate condition at a random severity."""
    if p_gate and rng.random() < p_gate:
        return conditions.random_condition(img, rng)
    return effects.camera(img, rng, plates, **camera_kw)

"""Gate conditions: what dusk, an IR camera, a moving car, a cheap encoder and the weather do to a frame.

One function per condition, each taking a BGR uint8 image and a generator and returning a new image.
They need no plate position, so they apply alike to a real photo of unknown layout, a tight plate crop
and a synthetic scene. Two users:
- `plategen conditions` turns a labelled folder into one variant folder per condition, to measure on;
- the training generator (`effects.camera`) draws from the same functions with wider ranges
  (`severity` > 1), so the models see every condition without being fitted to one fixed setting.
"""
from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

from plategen import effects


class Condition(StrEnum):
    DAYLIGHT = "daylight"  # moving car, compressed video: the easy case at a gate
    DUSK = "dusk"  # low light, sensor noise, headlights
    IR = "ir"  # infrared illuminator at night: greyscale, retro-reflective plate, glare
    MOTION = "motion"  # strong blur along the travel direction
    COMPRESSION = "compression"  # low-bitrate video: blocks, smeared chroma
    SMALL = "small"  # a distant plate at the start of a pass
    RAIN = "rain"  # streaks, drops, dirt


def _travel_blur(img: np.ndarray, rng: np.random.Generator, frac: float) -> np.ndarray:
    """Blur along the car's path: towards the camera, so mostly vertical, a little sideways.

    `frac` is the blur length as a fraction of the image's shorter side (a plate moves a few % of the
    frame during one exposure at dusk shutter speeds).
    """
    h, w = img.shape[:2]
    n = int(np.clip(round(frac * min(h, w)), 2, 41))
    if n < 2:
        return img
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0 / n
    angle = 90 + rng.normal(0, 20) if rng.random() < 0.7 else rng.uniform(0, 180)
    rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), angle, 1.0)
    k = cv2.warpAffine(k, rot, (n, n))
    k /= max(float(k.sum()), 1e-6)
    return cv2.filter2D(img, -1, k)


def _video_codec(img: np.ndarray, rng: np.random.Generator, quality: tuple[int, int]) -> np.ndarray:
    """H.264 at a low bitrate, approximated: 4:2:0 chroma, blocky luma, ringing (a low JPEG quality)."""
    h, w = img.shape[:2]
    ycc = cv2.cvtColor(img, cv2.COLOR_BGR2YCrCb)
    for c in (1, 2):  # chroma at half resolution, smeared back
        small = cv2.resize(ycc[:, :, c], (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        ycc[:, :, c] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    img = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
    return effects.jpeg(img, rng, *quality)


def _noise(img: np.ndarray, rng: np.random.Generator, sigma: tuple[float, float]) -> np.ndarray:
    """Shot plus read noise: stronger in the dark, as a sensor at high gain."""
    f = img.astype(np.float32)
    s = rng.uniform(*sigma)
    noise = rng.normal(0, 1, img.shape[:2]).astype(np.float32)[:, :, None] * (s * 0.6)
    noise = noise + rng.normal(0, 1, img.shape).astype(np.float32) * (s * 0.4)  # some colour noise
    return np.clip(f + noise * np.sqrt(np.clip(f, 16, 255) / 64), 0, 255).astype(np.uint8)


def _headlights(img: np.ndarray, rng: np.random.Generator, n: int, strength: tuple[float, float]) -> np.ndarray:
    """Bright soft blobs with a bloom, where the headlights of this or the next car are."""
    h, w = img.shape[:2]
    k = 4  # smooth: evaluate on a coarse grid
    xs, ys = np.meshgrid(np.arange(0, w, k, dtype=np.float32), np.arange(0, h, k, dtype=np.float32))
    light = np.zeros(xs.shape, np.float32)
    for _ in range(n):
        cx, cy = rng.uniform([0, 0.3 * h], [w, h])
        s = rng.uniform(0.01, 0.05) * max(w, h)  # a lamp, not a floodlight: it rarely covers the plate
        light += np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * s * s)) * rng.uniform(*strength) * 1.5
    img = np.clip(img + cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None], 0, 255).astype(np.uint8)
    if rng.random() < 0.5:  # lens flare streak through the brightest blob
        y = int(rng.uniform(0.3, 0.9) * h)
        streak = np.zeros((h, w), np.float32)
        cv2.line(streak, (0, y), (w, y + int(rng.normal(0, 0.05) * h)), rng.uniform(*strength), max(1, h // 120))
        streak = cv2.GaussianBlur(streak, (0, 0), max(1.0, h / 150))
        img = np.clip(img + streak[:, :, None], 0, 255).astype(np.uint8)
    return img


def daylight(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    img = _travel_blur(img, rng, rng.uniform(0.0, 0.012) * severity)
    img = _noise(img, rng, (1, 4 * severity))
    return _video_codec(img, rng, (int(max(8, 60 - 25 * severity)), 85))


def dusk(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    """Light at 10-35 % of day, a cold or sodium cast, noise lifted by the camera's gain, headlights.

    `crop`: the image is a tight plate crop, so a headlight (beside the plate in the frame) is left out.
    """
    gain = rng.uniform(0.1, 0.35) / max(1.0, severity ** 0.5)
    cast = np.array([1.15, 1.0, 0.8]) if rng.random() < 0.5 else np.array([0.75, 0.95, 1.2])  # BGR
    f = img.astype(np.float32) * gain * cast * rng.uniform(0.9, 1.1, 3)
    f = 255.0 * (np.clip(f, 0, 255) / 255.0) ** rng.uniform(1.0, 1.3)
    img = f.astype(np.uint8)
    if rng.random() < 0.6 and not crop:
        img = _headlights(img, rng, int(rng.integers(1, 3)), (60, 160))
    img = _travel_blur(img, rng, rng.uniform(0.0, 0.015) * severity)
    img = _noise(img, rng, (3 * severity, 10 * severity))
    img = cv2.convertScaleAbs(img, alpha=rng.uniform(1.5, 2.5))  # auto-exposure gain lifts the noise too
    return _video_codec(img, rng, (int(max(8, 45 - 20 * severity)), 80))


def ir(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    """Greyscale under an IR illuminator: the retro-reflective plate glows, paint and glass go dark.

    Near-IR reflectance follows the red channel more than the eye's luminance, so yellow (and white)
    surfaces come out bright while blue turns dark; a steep tone curve then pushes the bright plate
    towards clipping (washed out) and the rest towards black. Headlights bloom on the sensor.
    A tight `crop` gets neither the hot spot's fall-off nor headlights: both are larger than a plate.
    """
    b, g, r = cv2.split(img.astype(np.float32))
    grey = 0.55 * r + 0.35 * g + 0.10 * b
    h, w = grey.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.8) * h  # the illuminator's hot spot
    fall = np.exp(-(((xs - cx) / w) ** 2 + ((ys - cy) / h) ** 2) / (2 * rng.uniform(0.15, 0.4) ** 2))
    grey = grey * (0.35 + 0.65 * fall) if not crop else grey
    lo, hi = np.percentile(grey, [rng.uniform(1, 15), rng.uniform(93, 99.8)])
    grey = np.clip((grey - lo) / max(hi - lo, 1.0), 0, 1) ** (rng.uniform(0.7, 1.4) * severity ** 0.5)
    out = cv2.cvtColor((grey * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.7 and not crop:
        out = _headlights(out, rng, int(rng.integers(1, 4)), (80, 200))
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.5:  # soft bloom round the glowing plate and lights
        bloom = cv2.GaussianBlur(out, (0, 0), max(1.0, min(h, w) / 80))
        out = cv2.addWeighted(out, 1.0, bloom, rng.uniform(0.1, 0.4), 0)
    out = _travel_blur(out, rng, rng.uniform(0.0, 0.01) * severity)
    out = _noise(out, rng, (2 * severity, 7 * severity))
    out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return _video_codec(out, rng, (int(max(8, 50 - 20 * severity)), 85))


def motion(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    img = _travel_blur(img, rng, rng.uniform(0.01, 0.03) * severity)
    return _video_codec(img, rng, (50, 90))


def compression(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    """Low bitrate: resolution dropped, then blocks. A `crop` is already at the frame's resolution (a real
    crop is ~30 px high), so it keeps its size and only gets the blocks."""
    h, w = img.shape[:2]
    s = 1.0 if crop else rng.uniform(0.5, 0.8) / max(1.0, severity ** 0.5)  # encoders drop resolution first
    small = cv2.resize(img, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
    small = _video_codec(small, rng, (int(max(5, 12 - 4 * severity)), int(max(10, 30 - 8 * severity))))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def small(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    """The whole frame shrunk (a distant car): the caller scales any corners by the returned size."""
    h, w = img.shape[:2]
    s = rng.uniform(0.3, 0.5) / severity
    out = cv2.resize(img, (max(16, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
    return effects.jpeg(out, rng, 50, 90)


def rain(img: np.ndarray, rng: np.random.Generator, severity: float = 1.0, crop: bool = False) -> np.ndarray:
    """Rain streaks in front, out-of-focus drops on the housing window (not on a `crop`: a drop is larger
    than a plate), a film of dirt."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    streaks = np.zeros((h, w), np.float32)
    n = int(rng.uniform(150, 600) * severity * (h * w) / (1280 * 720))
    length = max(3, int(min(h, w) * rng.uniform(0.02, 0.06)))
    slant = rng.normal(0, 0.2)
    for x, y in zip(rng.uniform(0, w, n), rng.uniform(0, h, n)):
        cv2.line(streaks, (int(x), int(y)), (int(x + slant * length), int(y + length)), 1.0, 1)
    streaks = cv2.GaussianBlur(streaks, (0, 0), 0.8)
    out = out * (1 - 0.35 * streaks[:, :, None]) + 200 * 0.35 * streaks[:, :, None]
    blurred = cv2.GaussianBlur(out, (0, 0), max(1.0, min(h, w) / 60))
    drops = np.zeros((h, w), np.float32)
    for _ in range(0 if crop else int(rng.integers(3, 15 * severity + 4))):
        cv2.circle(drops, (int(rng.uniform(0, w)), int(rng.uniform(0, h))),
                   int(min(h, w) * rng.uniform(0.02, 0.08)), 1.0, -1)
    drops = cv2.GaussianBlur(drops, (0, 0), max(1.0, min(h, w) / 100))[:, :, None]
    out = out * (1 - drops) + blurred * drops
    dirt = cv2.resize(rng.uniform(0.7, 1.0, (6, 10)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    out = out * dirt[:, :, None] * rng.uniform(0.7, 1.0)
    out = np.clip(out, 0, 255).astype(np.uint8)
    return _video_codec(out, rng, (30, 80))


APPLY = {
    Condition.DAYLIGHT: daylight,
    Condition.DUSK: dusk,
    Condition.IR: ir,
    Condition.MOTION: motion,
    Condition.COMPRESSION: compression,
    Condition.SMALL: small,
    Condition.RAIN: rain,
}


def apply(img: np.ndarray, condition: Condition | str, rng: np.random.Generator, severity: float = 1.0,
          crop: bool = False) -> np.ndarray:
    """One condition on a frame, or on a tight plate crop (`crop`): lamps and drops bigger than a plate
    are left out of crops, and a crop is never shrunk further (`plategen conditions` skips SMALL for them)."""
    return APPLY[Condition(condition)](img, rng, severity, crop)


def random_condition(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For training: one condition at a random severity (small is left to the generator's own sizes)."""
    choices = [c for c in Condition if c is not Condition.SMALL]
    weights = np.array([1.0, 1.5, 1.5, 1.0, 1.0, 0.6])[: len(choices)]
    c = choices[int(rng.choice(len(choices), p=weights / weights.sum()))]
    return apply(img, c, rng, severity=float(rng.uniform(0.6, 1.5)))

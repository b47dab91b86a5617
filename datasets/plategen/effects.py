"""Camera and light: what a real gate camera or phone does to a clean render.

Each function takes and returns a BGR uint8 image; `camera` chains them at random.
"""
from __future__ import annotations

import cv2
import numpy as np


def lighting_gradient(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    a, b = rng.uniform(0.55, 1.25, 2)
    ang = rng.uniform(0, np.pi)
    xs, ys = np.meshgrid(np.linspace(-1, 1, 32, dtype=np.float32), np.linspace(-1, 1, 32, dtype=np.float32))
    t = (np.cos(ang) * xs + np.sin(ang) * ys) * 0.5 + 0.5
    gain = cv2.resize(a + (b - a) * t, (w, h), interpolation=cv2.INTER_LINEAR)  # smooth: compute coarse
    return np.clip(img * gain[:, :, None], 0, 255).astype(np.uint8)


def hard_shadow(img: np.ndarray, rng: np.random.Generator, through: np.ndarray | None = None) -> np.ndarray:
    """A sharp-edged shadow polygon; `through` (4x2 corners) makes it cross that plate."""
    h, w = img.shape[:2]
    if through is not None:
        c = through.mean(0)
        span = np.linalg.norm(through[1] - through[0])
        center = c + rng.uniform(-0.5, 0.5, 2) * span
        r = span * rng.uniform(0.4, 1.5)
    else:
        center, r = rng.uniform([0, 0], [w, h]), rng.uniform(0.1, 0.5) * max(w, h)
    n = int(rng.integers(3, 7))
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    pts = center + np.stack([np.cos(ang), np.sin(ang)], 1) * r * rng.uniform(0.5, 1.5, (n, 1))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [pts.astype(np.int32)], 255)
    if rng.random() < 0.5:
        mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 3))
    k = rng.uniform(0.35, 0.75)
    f = 1 - (1 - k) * (mask.astype(np.float32) / 255)
    return (img * f[:, :, None]).astype(np.uint8)


def glare(img: np.ndarray, rng: np.random.Generator, at: np.ndarray | None = None) -> np.ndarray:
    h, w = img.shape[:2]
    c = at if at is not None else rng.uniform([0, 0], [w, h])
    s = rng.uniform(0.02, 0.15) * max(w, h)
    k = 8  # the blob is smooth: evaluate it on a coarse grid
    xs, ys = np.meshgrid(np.arange(0, w, k, dtype=np.float32), np.arange(0, h, k, dtype=np.float32))
    blob = np.exp(-((xs - c[0]) ** 2 + (ys - c[1]) ** 2) / (2 * s * s)) * rng.uniform(80, 230)
    blob = cv2.resize(blob, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(img + blob[:, :, None], 0, 255).astype(np.uint8)


def color_jitter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.6, 1.3)
    bias = rng.uniform(-25, 25)
    gamma = rng.uniform(0.7, 1.4)
    v = np.arange(256, dtype=np.float32)[:, None]
    lut = 255.0 * (np.clip(v * gain + bias, 0, 255) / 255.0) ** gamma  # (256, 3): one table per channel
    return cv2.LUT(img, np.clip(lut, 0, 255).astype(np.uint8).reshape(256, 1, 3))


def night(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return sensor_noise(cv2.convertScaleAbs(img, alpha=rng.uniform(0.15, 0.45)), rng)


def infrared(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Grey IR look: plates are retro-reflective, so keep contrast high."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
    g = np.clip((g - g.mean()) * rng.uniform(1.0, 1.6) + rng.uniform(90, 150), 0, 255).astype(np.uint8)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def motion_blur(img: np.ndarray, rng: np.random.Generator, max_len: int = 9) -> np.ndarray:
    n = int(rng.integers(3, max_len + 1))
    k = np.zeros((n, n), np.float32)
    k[n // 2, :] = 1.0 / n
    rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), rng.uniform(0, 180), 1.0)
    k = cv2.warpAffine(k, rot, (n, n))
    k /= max(k.sum(), 1e-6)
    return cv2.filter2D(img, -1, k)


def defocus(img: np.ndarray, rng: np.random.Generator, max_sigma: float = 2.0) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, max_sigma))


def sensor_noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = np.empty(img.shape, np.int16)
    cv2.setRNGSeed(int(rng.integers(2**31)))  # OpenCV's fast generator, seeded from ours: deterministic
    cv2.randn(noise, 0, float(rng.uniform(2, 12)))
    return cv2.add(img.astype(np.int16), noise, dtype=cv2.CV_8U)


def jpeg(img: np.ndarray, rng: np.random.Generator, lo: int = 20, hi: int = 95) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(lo, hi + 1))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def rescale(img: np.ndarray, rng: np.random.Generator, lo: float = 0.4) -> np.ndarray:
    """Down and back up: a cheaper or more distant sensor than the nominal resolution."""
    h, w = img.shape[:2]
    s = rng.uniform(lo, 1.0)
    small = cv2.resize(img, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=int(rng.choice([cv2.INTER_LINEAR, cv2.INTER_CUBIC])))


def camera(img: np.ndarray, rng: np.random.Generator, plates: list[np.ndarray] = (), strength: float = 1.0,
           blur_scale: float = 1.0) -> np.ndarray:
    """Apply a random chain of light and camera effects; `plates` (corner arrays) attract shadows and glare.

    `blur_scale` < 1 shrinks blur for small patches, where a full-frame blur would wipe out the digits.
    """
    p = lambda x: rng.random() < x * strength  # noqa: E731
    if p(0.5):
        img = lighting_gradient(img, rng)
    if p(0.25):
        img = hard_shadow(img, rng, through=plates[int(rng.integers(len(plates)))] if len(plates) and p(0.7) else None)
    if p(0.12):
        at = plates[0].mean(0) + rng.normal(0, 20, 2) if len(plates) and p(0.5) else None
        img = glare(img, rng, at)
    if p(0.7):
        img = color_jitter(img, rng)
    r = rng.random()
    if r < 0.1 * strength:
        img = night(img, rng)
    elif r < 0.17 * strength:
        img = infrared(img, rng)
    if p(0.25):
        img = motion_blur(img, rng, max_len=max(3, int(9 * blur_scale)))
    if p(0.35):
        img = defocus(img, rng, max_sigma=max(0.5, 2.0 * blur_scale))
    if p(0.3):
        img = rescale(img, rng, lo=1 - 0.6 * blur_scale)
    if p(0.5):
        img = sensor_noise(img, rng)
    if p(0.7):
        img = jpeg(img, rng)
    return img

"""Turn whatever a camera or a phone produced into an 8-bit BGR array, or say clearly why not."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MAX_SIDE = 4096  # larger photos are downscaled on load: plates stay readable and memory stays bounded


class ImageLoadError(ValueError):
    """An image that cannot be used, with the file and the reason in the message."""


def load_image(path: str | Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Read a file as BGR uint8, honouring EXIF rotation; raise ImageLoadError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(f"{p}: no such file")
    data = np.fromfile(str(p), dtype=np.uint8)
    if data.size == 0:
        raise ImageLoadError(f"{p}: empty file, expected an image")
    # IMREAD_COLOR applies EXIF orientation; ANYDEPTH keeps 16-bit so we can scale it properly.
    img = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if img is None:
        raise ImageLoadError(f"{p}: cannot decode image (truncated or not an image file)")
    return to_bgr8(img, name=str(p), max_side=max_side)


def to_bgr8(img: np.ndarray, name: str = "image", max_side: int = MAX_SIDE) -> np.ndarray:
    """Normalise grey, RGBA, 16-bit and float arrays to BGR uint8; downscale huge frames."""
    if not isinstance(img, np.ndarray):
        raise ImageLoadError(f"{name}: expected a numpy array, got {type(img).__name__}")
    if img.size == 0 or img.ndim < 2 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ImageLoadError(f"{name}: image has no pixels (shape {img.shape})")
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        scale = 255.0 if float(np.nanmax(img)) <= 1.0 else 1.0
        img = np.clip(np.nan_to_num(img) * scale, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageLoadError(f"{name}: unsupported pixel type {img.dtype}, expected 8- or 16-bit")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif not (img.ndim == 3 and img.shape[2] == 3):
        raise ImageLoadError(f"{name}: unsupported shape {img.shape}, expected HxW, HxWx3 or HxWx4")
    h, w = img.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)

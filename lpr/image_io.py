"""Turn whatever a camera or a phone produced into an 8-bit BGR array, or say clearly why not."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MAX_SIDE = 4096  # larger photos are downscaled on load: plates stay readable and memory stays bounded
# Refused before any pixel is decoded: a 876 KB PNG of 30000x30000 took 59 s and 5.9 GB to decode. The
# limit leaves room for the largest phone sensors (108 MP, ~330 MB decoded).
MAX_PIXELS = 120_000_000
# a file may hold at most this plus 8 bytes a pixel of the size its header gives (16-bit RGBA uncompressed): a 1.5 GB
# stray video named .jpg was read whole only to fail decoding, while a 24 MP BMP is 69 MB and fine
MAX_FILE_BYTES = 64 * 1024 * 1024


class ImageLoadError(ValueError):
    """An image that cannot be used, with the file and the reason in the message."""


def load_image(path: str | Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """Read a file as BGR uint8, honouring EXIF rotation; raise ImageLoadError naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(f"{p}: no such file")
    try:
        size = p.stat().st_size
        if size == 0:
            raise ImageLoadError(f"{p}: empty file, expected an image")
        w, h = check_dimensions(p)
        if size > (limit := MAX_FILE_BYTES + 8 * w * h):  # checked before reading the file
            raise ImageLoadError(f"{p}: {size / 2**20:.0f} MB, over the {limit / 2**20:.0f} MB a {w}x{h} image "
                                 "may take; refused before reading")
        data = np.fromfile(str(p), dtype=np.uint8)
        # IMREAD_COLOR applies EXIF orientation; ANYDEPTH keeps 16-bit so we can scale it properly.
        img = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    except (OSError, cv2.error, MemoryError) as exc:  # one bad file is one error line, never a dead lane
        raise ImageLoadError(f"{p}: cannot decode image ({type(exc).__name__})") from None
    if img is None:
        raise ImageLoadError(f"{p}: cannot decode image (truncated or not an image file)")
    return to_bgr8(img, name=str(p), max_side=max_side)


def check_dimensions(path: Path, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """Read only the header (Pillow opens lazily) and refuse an image too large to decode safely, or one whose size
    cannot be read: OpenCV decodes formats Pillow does not know (Radiance HDR) and PNGs whose text chunks Pillow
    refuses, up to a gigapixel (a 391 KB PNG of 20000x20000 took 2.35 GB that way)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
    except Image.DecompressionBombError:
        raise ImageLoadError(f"{path}: over {max_pixels // 1_000_000} megapixels, refused before decoding") from None
    except Exception:  # noqa: BLE001 - whatever Pillow (or a plugin of it) makes of the file: refused
        raise ImageLoadError(f"{path}: cannot decode image (truncated, not an image file, or a kind whose size "
                             "cannot be read before decoding)") from None
    if w * h > max_pixels:
        raise ImageLoadError(f"{path}: {w}x{h} is {w * h / 1e6:.0f} megapixels, over the "
                             f"{max_pixels // 1_000_000} MP limit; refused before decoding")
    return w, h


def to_bgr8(img: np.ndarray, name: str = "image", max_side: int = MAX_SIDE) -> np.ndarray:
    """Normalise grey, RGBA, 16-bit and float arrays to BGR uint8; downscale huge frames."""
    if not isinstance(img, np.ndarray):
        raise ImageLoadError(f"{name}: expected a numpy array, got {type(img).__name__}")
    if img.size == 0 or img.ndim < 2 or img.shape[0] == 0 or img.shape[1] == 0:
        raise ImageLoadError(f"{name}: image has no pixels (shape {img.shape})")
    if img.dtype == np.uint16:  # shrunk first: two float64 copies of a 36 MP frame took 1.9 GB
        img = cv2.convertScaleAbs(_shrink(img, max_side), alpha=1 / 257.0)
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
    return np.ascontiguousarray(_shrink(img, max_side))


def _shrink(img: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale (area averaging) so the longer side is at most ``max_side``; smaller images as they are."""
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)

"""Stage 2: warp the plate quadrilateral to a flat, fixed-size crop (also used by the generator).

The generator makes its OCR training crops with exactly this warp, so what the OCR sees at the gate
matches what it was trained on, margins included.
"""
from __future__ import annotations

import cv2
import numpy as np

# (width, height) of the rectified crop fed to the OCR: ~12 px per digit, real crops are not sharper
RECT_SIZE = (128, 32)
MARGIN = (0.04, 0.1)  # fraction of the output left round the plate (x, y), so edge digits are never cut


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Return 4 points as TL, TR, BR, BL whatever order they came in.

    Sorts clockwise round the centroid, then starts at the corner whose outgoing edge is a long edge
    lying above the opposite one: robust to roll up to ~40 degrees and to strong perspective.
    """
    p = np.asarray(pts, np.float32).reshape(4, 2)
    c = p.mean(0)
    p = p[np.argsort(np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0]))]  # clockwise in image coordinates
    best, best_key = p, None
    for k in range(4):
        q = np.roll(p, -k, axis=0)
        top_len = np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])
        side_len = np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])
        top_y = (q[0, 1] + q[1, 1]) - (q[2, 1] + q[3, 1])  # negative when edge 0-1 is above edge 3-2
        key = (top_len >= side_len, -top_y)
        if best_key is None or key > best_key:
            best, best_key = q, key
    return best


def expand_quad(quad: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Push TL, TR, BR, BL outward by dx of the plate's width and dy of its height, along its own edges.

    Detectors err inwards as often as outwards; cutting an edge digit is fatal, a bit of frame is not.
    """
    q = np.asarray(quad, np.float32).reshape(4, 2)
    along = ((q[1] - q[0]) + (q[2] - q[3])) / 2  # left -> right
    down = ((q[3] - q[0]) + (q[2] - q[1])) / 2  # top -> bottom
    sx = np.array([-1, 1, 1, -1], np.float32)[:, None]
    sy = np.array([-1, -1, 1, 1], np.float32)[:, None]
    return q + sx * along * dx + sy * down * dy


def box_corners(box) -> np.ndarray:
    """Corners of an axis-aligned box (x1, y1, x2, y2), the fallback when keypoints are unsure."""
    x1, y1, x2, y2 = map(float, box)
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)


def destination_quad(size=RECT_SIZE, margin=MARGIN) -> np.ndarray:
    w, h = size
    mx, my = w * margin[0], h * margin[1]
    return np.array([[mx, my], [w - mx, my], [w - mx, h - my], [mx, h - my]], np.float32)


def warp_plate(image: np.ndarray, corners: np.ndarray, size=RECT_SIZE, margin=MARGIN) -> np.ndarray:
    """Perspective-warp the quadrilateral (TL, TR, BR, BL) to `size` with `margin` round it.

    Large plates are first shrunk with area averaging so the warp does not alias fine strokes.
    """
    src = np.asarray(corners, np.float32).reshape(4, 2)
    dst = destination_quad(size, margin)
    plate_w = max(np.linalg.norm(src[1] - src[0]), np.linalg.norm(src[2] - src[3]))
    inner_w = dst[1, 0] - dst[0, 0]
    scale = 2.0 * inner_w / max(plate_w, 1e-3)
    if scale < 1.0:  # crop a region round the plate and shrink it before warping
        h, w = image.shape[:2]
        pad = 0.25 * plate_w
        x0, y0 = int(max(0, src[:, 0].min() - pad)), int(max(0, src[:, 1].min() - pad))
        x1, y1 = int(min(w, src[:, 0].max() + pad)), int(min(h, src[:, 1].max() + pad))
        if x1 > x0 + 1 and y1 > y0 + 1:
            roi = image[y0:y1, x0:x1]
            nw, nh = max(2, int((x1 - x0) * scale)), max(2, int((y1 - y0) * scale))
            roi = cv2.resize(roi, (nw, nh), interpolation=cv2.INTER_AREA)
            src = (src - [x0, y0]) * [nw / (x1 - x0), nh / (y1 - y0)]
            image = roi
    m = cv2.getPerspectiveTransform(src.astype(np.float32), dst)
    return cv2.warpPerspective(image, m, tuple(size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_as_plate(image: np.ndarray, size=RECT_SIZE, margin=MARGIN) -> np.ndarray:
    """Treat a whole (tight) crop as the plate: the same warp with the image edges as corners."""
    h, w = image.shape[:2]
    return warp_plate(image, box_corners((0, 0, w, h)), size, margin)

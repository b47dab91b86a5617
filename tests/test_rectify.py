"""Rectification geometry on known quadrilaterals, and robust corner ordering."""
from __future__ import annotations

import itertools

import cv2
import numpy as np

from lpr.rectify import RECT_SIZE, box_corners, destination_quad, order_corners, warp_plate


def _pattern() -> np.ndarray:
    """A flat 'plate' with a distinct mark near each corner."""
    w, h = RECT_SIZE
    img = np.full((h, w, 3), 128, np.uint8)
    dst = destination_quad()
    x0, y0 = dst[0].astype(int)
    x1, y1 = dst[2].astype(int)
    img[y0:y1, x0:x1] = (0, 200, 255)
    img[y0 + 2 : y0 + 8, x0 + 2 : x0 + 12] = (255, 0, 0)  # blue near TL
    img[y1 - 8 : y1 - 2, x1 - 12 : x1 - 2] = (0, 0, 255)  # red near BR
    return img


def test_warp_undoes_a_known_perspective():
    flat = _pattern()
    src = destination_quad()
    quad = np.array([[210, 95], [470, 130], [455, 205], [190, 160]], np.float32)  # TL TR BR BL in a big frame
    m = cv2.getPerspectiveTransform(src, quad)
    scene = cv2.warpPerspective(flat, m, (640, 360), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128))
    back = warp_plate(scene, quad)
    assert back.shape == flat.shape
    inner = (slice(8, -8), slice(10, -10))
    assert np.abs(back[inner].astype(int) - flat[inner].astype(int)).mean() < 20


def test_order_corners_recovers_tl_tr_br_bl_from_any_order():
    quad = np.array([[100, 50], [300, 70], [295, 120], [95, 100]], np.float32)
    for perm in itertools.permutations(range(4)):
        assert np.allclose(order_corners(quad[list(perm)]), quad)


def test_order_corners_handles_a_rolled_plate():
    c, a = np.array([200.0, 200.0]), np.radians(25)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    quad = (np.array([[-100, -20], [100, -20], [100, 20], [-100, 20]]) @ r.T + c).astype(np.float32)
    assert np.allclose(order_corners(quad[[2, 0, 3, 1]]), quad, atol=1e-4)


def test_large_plate_is_shrunk_without_losing_its_marks():
    flat = cv2.resize(_pattern(), None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    h, w = flat.shape[:2]
    quad = destination_quad() * 8
    back = warp_plate(flat, quad)
    assert back.shape[:2] == (RECT_SIZE[1], RECT_SIZE[0])
    dst = destination_quad()
    x0, y0 = dst[0].astype(int)
    assert back[y0 + 4, x0 + 6, 0] > 150  # the blue mark survived


def test_box_corners_are_tl_tr_br_bl():
    assert box_corners((1, 2, 11, 7)).tolist() == [[1, 2], [11, 2], [11, 7], [1, 7]]

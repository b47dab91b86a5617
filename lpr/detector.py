"""Stage 1: find plates and their four corners with a YOLO pose model (ONNX Runtime or ultralytics).

Both back ends return the same `Detection`s. ONNX Runtime is the default at the gate (faster on two
CPU cores, and no ultralytics import at run time); the torch path is kept for checking and training.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from lpr.config import DETECTOR_ONNX, DETECTOR_PT, INFER_IMGSZ, ultralytics_offline
from lpr.types import Detection

log = logging.getLogger(__name__)
STRIDE = 32
# The score a box needs to be read. Plates at dusk and under IR often score 0.15-0.3 (23 of 300 dusk calibration cars
# gave no detection above 0.3 in any frame of their pass); what such a box holds is still read and voted, and an
# unsure read goes to review. 0.3 until rule 11 (model card).
DET_CONF = 0.15


def letterbox(img: np.ndarray, size: int = INFER_IMGSZ) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize the long side to `size`, pad the short side to a multiple of 32 (grey 114, as in training)."""
    h, w = img.shape[:2]
    r = size / max(h, w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    pw, ph = (-nw) % STRIDE, (-nh) % STRIDE
    resized = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    left, top = pw // 2, ph // 2
    out = cv2.copyMakeBorder(resized, top, ph - top, left, pw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return out, r, (left, top)


def zoom_geometry(h: int, w: int, zoom: float) -> tuple[int, int, int, int]:
    """Canvas height and width for an h x w image zoomed out `zoom` times, and the image's offset (ox, oy) in it."""
    H, W = int(h * zoom), int(w * zoom)
    return H, W, (W - w) // 2, (H - h) // 2


def zoom_canvas(img: np.ndarray, zoom: float) -> tuple[np.ndarray, tuple[int, int]]:
    """`img` centred in a grey canvas `zoom` times its size, as if the camera stood further back; and its offset."""
    h, w = img.shape[:2]
    H, W, ox, oy = zoom_geometry(h, w, zoom)
    canvas = np.full((H, W, 3), 114, np.uint8)
    canvas[oy : oy + h, ox : ox + w] = img
    return canvas, (ox, oy)


def letterbox_zoomed(img: np.ndarray, zoom: float, size: int) -> tuple[np.ndarray, float, tuple[int, int]] | None:
    """`letterbox(zoom_canvas(img, zoom)[0], size)` without building the canvas, where that is exact; else None.

    It is exact when the shrink is a whole factor k and the image and its offset fall on whole k x k blocks
    (1280x720 and 1920x1080 at zoom 2 and size 256; 640x480 too): area averaging then sees each block all grey
    or all image, so shrinking the image alone and pasting it gives the same bytes. The canvas and the big
    resize cost ~4-5 ms of every unsure 1280x720 frame; this ~1 ms. Other sizes keep the canvas: an earlier
    inexact version of this shifted small photos by a fraction of a pixel and lost reads (model card).
    """
    h, w = img.shape[:2]
    H, W, ox, oy = zoom_geometry(h, w, zoom)
    r = size / max(H, W)
    k = round(1 / r)
    if k < 2 or k * size != max(H, W) or any(v % k for v in (h, w, H, W, ox, oy)):
        return None
    small = np.full((H // k, W // k, 3), 114, np.uint8)
    small[oy // k : (oy + h) // k, ox // k : (ox + w) // k] = cv2.resize(img, (w // k, h // k),
                                                                        interpolation=cv2.INTER_AREA)
    out, _, pad = letterbox(small, size)  # already `size` on its long side: only the stride padding
    return out, r, pad


def decode(pred: np.ndarray, conf: float, iou: float, max_det: int) -> np.ndarray:
    """Raw pose head (17, N): cx cy w h score, then x y v for 4 corners -> (K, 17) rows after NMS."""
    p = pred.T  # (N, 17)
    p = p[p[:, 4] >= conf]
    if not len(p):
        return p
    boxes = np.stack([p[:, 0] - p[:, 2] / 2, p[:, 1] - p[:, 3] / 2, p[:, 2], p[:, 3]], 1)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), p[:, 4].tolist(), conf, iou)
    keep = np.asarray(keep, dtype=int).reshape(-1)[:max_det]
    return p[keep]


class PlateDetector:
    """Plate corners TL, TR, BR, BL in image pixels, best score first."""

    def __init__(self, backend: str = "onnx", weights: str | Path | None = None, imgsz: int = INFER_IMGSZ,
                 conf: float = DET_CONF, iou: float = 0.5, max_det: int = 10, threads: int = 2):
        if backend not in ("onnx", "torch"):
            raise ValueError(f"detector backend {backend!r}: expected 'onnx' or 'torch'")
        self.backend, self.imgsz, self.conf, self.iou, self.max_det = backend, imgsz, conf, iou, max_det
        if backend == "onnx":
            from lpr.ort_session import cpu_session

            self.session = cpu_session(Path(weights or DETECTOR_ONNX), threads)
            self.input_name = self.session.get_inputs()[0].name
            shape = self.session.get_inputs()[0].shape
            self.fixed = shape[2] if isinstance(shape[2], int) else None  # static export: square input
        else:
            ultralytics_offline()
            import torch
            from ultralytics import YOLO

            torch.set_num_threads(threads)
            self.model = YOLO(str(weights or DETECTOR_PT), task="pose")

    def detect(self, img: np.ndarray, imgsz: int | None = None, zoom: float = 1.0) -> list[Detection]:
        """`imgsz` overrides the input side for this call (a zoomed-out look needs fewer pixels); `zoom` > 1
        looks at the image shrunk in the middle of a grey canvas that much larger (close-ups). Boxes and
        corners come back in the image's own pixels either way."""
        size = imgsz or self.imgsz
        if zoom <= 1:
            return self._detect_onnx(img, size) if self.backend == "onnx" else self._detect_torch(img, size)
        fast = letterbox_zoomed(img, zoom, size) if self.backend == "onnx" else None
        if fast is not None:
            H, W, ox, oy = zoom_geometry(*img.shape[:2], zoom)
            dets = self._run_onnx(fast, (H, W))
        else:
            canvas, (ox, oy) = zoom_canvas(img, zoom)
            dets = self._detect_onnx(canvas, size) if self.backend == "onnx" else self._detect_torch(canvas, size)
        off = np.array([ox, oy], np.float32)
        return [Detection((d.box[0] - ox, d.box[1] - oy, d.box[2] - ox, d.box[3] - oy), d.corners - off, d.score,
                          d.corner_conf) for d in dets]

    def _detect_onnx(self, img: np.ndarray, size: int) -> list[Detection]:
        return self._run_onnx(letterbox(img, size), img.shape[:2])

    def _run_onnx(self, letterboxed: tuple[np.ndarray, float, tuple[int, int]],
                  shape: tuple[int, int]) -> list[Detection]:
        """Run on a letterboxed input; map back to the pixels of the `shape` (h, w) image it was made from."""
        lb, r, (left, top) = letterboxed
        if self.fixed:  # a static model wants exactly imgsz x imgsz
            pad_b, pad_r = self.fixed - lb.shape[0], self.fixed - lb.shape[1]
            lb = cv2.copyMakeBorder(lb, 0, pad_b, 0, pad_r, cv2.BORDER_CONSTANT, value=(114, 114, 114))
        x = np.ascontiguousarray(lb[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        pred = self.session.run(None, {self.input_name: x})[0][0]  # (17, N)
        rows = decode(pred, self.conf, self.iou, self.max_det)
        h, w = shape
        dets = []
        for row in rows:
            cx, cy, bw, bh, score = row[:5]
            box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
            box = ((box - [left, top, left, top]) / r).clip(0, [w, h, w, h])
            k = row[5:].reshape(4, 3)
            corners = ((k[:, :2] - [left, top]) / r).astype(np.float32)
            dets.append(Detection(tuple(map(float, box)), corners, float(score), k[:, 2].astype(np.float32)))
        return dets

    def _detect_torch(self, img: np.ndarray, size: int) -> list[Detection]:
        # shrink with INTER_AREA first, as the onnx path does: ultralytics' linear resize aliases big photos,
        # which moved corners by ~5 % of the plate width and cost real phone photos most of their reads
        r = min(1.0, size / max(img.shape[:2]))
        if r < 1:
            img = cv2.resize(img, (max(1, round(img.shape[1] * r)), max(1, round(img.shape[0] * r))),
                             interpolation=cv2.INTER_AREA)
        res = self.model.predict(img, imgsz=size, conf=self.conf, iou=self.iou, max_det=self.max_det,
                                 verbose=False, device="cpu")[0]
        if res.boxes is None or not len(res.boxes):
            return []
        boxes = res.boxes.xyxy.numpy() / r
        scores = res.boxes.conf.numpy()
        kxy = res.keypoints.xy.numpy() / r
        kconf = res.keypoints.conf.numpy() if res.keypoints.conf is not None else np.ones(kxy.shape[:2])
        order = np.argsort(-scores)
        return [Detection(tuple(map(float, boxes[i])), kxy[i].astype(np.float32), float(scores[i]),
                          kconf[i].astype(np.float32)) for i in order]

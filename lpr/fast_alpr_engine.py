"""fast-alpr (MIT) as a peer engine: same read()/read_crop() as lpr.Reader, for side-by-side evaluation.

It is the strongest open reader that runs offline here, so the reader is measured against it on every
set. Models load from a folder (default ../shared/peers/fast-alpr, or $PLATEGATE_FAST_ALPR_DIR); the
libraries come with the optional `peers` extra. It never downloads. Its detector file is an INT8 copy
of the upstream fp32 model, so its latency is reported but is not fast-alpr's own.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from lpr.image_io import to_bgr8
from lpr.plate_format import digits_only
from lpr.rectify import box_corners
from lpr.types import PlateRead

DEFAULT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "peers" / "fast-alpr"
DETECTOR_FILE = "yolo-v9-t-416-license-plates-end2end1.onnx"
OCR_MODEL = "cct_xs_v2_global"  # the peer's README: the model the team measured (v1 reads about the same)


def model_dir() -> Path:
    return Path(os.environ.get("PLATEGATE_FAST_ALPR_DIR") or DEFAULT_DIR)


class FastAlprEngine:
    """fast-alpr's detector (YOLOv9-t end2end) and OCR (fast-plate-ocr CCT), loaded by path."""

    latency_comparable = False  # INT8 detector copy: its timing is not the upstream model's

    def __init__(self, folder: str | Path | None = None, ocr_model: str = OCR_MODEL, threads: int = 2,
                 det_conf: float = 0.4):
        root = Path(folder) if folder else model_dir()
        det_path, ocr_path = root / DETECTOR_FILE, root / f"{ocr_model}.onnx"
        cfg_path = root / f"{ocr_model}_plate_config.yaml"
        for p in (det_path, ocr_path, cfg_path):
            if not p.is_file():
                raise RuntimeError(f"fast-alpr model {p} not found (set $PLATEGATE_FAST_ALPR_DIR to the peer folder)")
        try:
            import onnxruntime as ort
            from fast_plate_ocr import LicensePlateRecognizer
            from open_image_models.detection.core.yolo_v9.inference import YoloV9Detector
        except ImportError as e:
            raise RuntimeError(f"fast-alpr libraries missing ({e.name}): pip install -e '.[peers]'") from e
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        self.detector = YoloV9Detector(str(det_path), ["License Plate"], conf_thresh=det_conf,
                                       providers=providers, sess_options=opts)
        self.ocr = LicensePlateRecognizer(onnx_model_path=str(ocr_path), plate_config_path=str(cfg_path),
                                          device="cpu", providers=providers, sess_options=opts)

    def _ocr(self, crop: np.ndarray) -> tuple[str, tuple[float, ...]]:
        import cv2

        mode = self.ocr.config.image_color_mode
        img = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if mode == "grayscale" else cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
        pred = self.ocr.run_one(img, return_confidence=True)
        text, probs = pred.plate, np.asarray(pred.char_probs if pred.char_probs is not None else [], np.float32)
        keep = [i for i, c in enumerate(text) if c.isdigit()]  # drop the pad symbol and letters
        conf = tuple(float(probs[i]) for i in keep if i < len(probs))
        return digits_only(text), conf

    def read(self, image: np.ndarray) -> list[PlateRead]:
        img = to_bgr8(image)
        t0 = time.perf_counter()
        dets = self.detector.predict(img)
        t1 = time.perf_counter()
        reads = []
        h, w = img.shape[:2]
        for d in dets:
            b = d.bounding_box
            x1, y1, x2, y2 = max(b.x1, 0), max(b.y1, 0), min(b.x2, w), min(b.y2, h)
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            crop = img[y1:y2, x1:x2]
            t2 = time.perf_counter()
            text, conf = self._ocr(crop)
            t3 = time.perf_counter()
            box = (float(x1), float(y1), float(x2), float(y2))
            reads.append(_read(text, conf, float(d.confidence), box, crop,
                               {"detect": (t1 - t0) * 1e3, "rectify": 0.0, "ocr": (t3 - t2) * 1e3}))
        return sorted(reads, key=lambda r: (not r.valid, -r.confidence))

    def read_crop(self, image: np.ndarray) -> PlateRead | None:
        img = to_bgr8(image)
        t0 = time.perf_counter()
        text, conf = self._ocr(img)
        h, w = img.shape[:2]
        timings = {"detect": 0.0, "rectify": 0.0, "ocr": (time.perf_counter() - t0) * 1e3}
        return _read(text, conf, 1.0, (0.0, 0.0, float(w), float(h)), img, timings) if text else None


def _read(text: str, conf: tuple[float, ...], det_score: float, box: tuple[float, float, float, float],
          crop: np.ndarray, timings: dict[str, float]) -> PlateRead:
    return PlateRead(text=text, confidence=(min(conf) if conf else 0.0) * det_score, char_conf=conf,
                     corners=box_corners(box), box=box, det_score=det_score, crop=crop, timings_ms=timings)

"""One place for the reader's paths and constants, and the offline set-up ultralytics needs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
WEIGHTS_DIR = PACKAGE_DIR / "weights"
DETECTOR_PT = WEIGHTS_DIR / "detector.pt"
DETECTOR_ONNX = WEIGHTS_DIR / "detector.onnx"
OCR_PT = WEIGHTS_DIR / "ocr.pt"
OCR_ONNX = WEIGHTS_DIR / "ocr.onnx"  # what the gate runs; exported from ocr.pt by scripts/export_ocr.py
DET_IMGSZ = 256  # detector training input side (CPU budget)
INFER_IMGSZ = 384  # inference input side: trained at 256, the model finds more small plates at 384 (20 ms here)
ALPHABET = "0123456789"
SEPARATOR = "-"  # an OCR trained with separators also reads the gaps between digit groups
FONT_FOR_ULTRALYTICS = "roboto-condensed-500.ttf"  # one of plategen's vendored OFL fonts (installed with it)


def _plotting_font() -> Path | None:
    """The generator's font file, found through the installed package (works from a wheel too)."""
    try:
        from importlib.resources import files

        font = files("plategen") / "fonts" / FONT_FOR_ULTRALYTICS
        return Path(str(font)) if font.is_file() else None
    except ModuleNotFoundError:
        return None


def ultralytics_offline(config_dir: str | Path | None = None) -> Path:
    """Make ultralytics work with no network: offline flag, a writable config dir holding 'Arial.ttf'.

    Must run before `import ultralytics`; safe to call repeatedly. Any TTF works as its plotting font.
    """
    cfg = Path(config_dir or os.environ.get("YOLO_CONFIG_DIR") or Path.home() / ".cache" / "plategate-yolo")
    cfg.mkdir(parents=True, exist_ok=True)
    font = _plotting_font()
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = cfg / name
        if not target.exists() and font is not None:
            shutil.copyfile(font, target)
    os.environ.setdefault("YOLO_CONFIG_DIR", str(cfg))
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ.setdefault("YOLO_VERBOSE", "false")
    return cfg

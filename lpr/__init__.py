"""plategate reader: detect plate corners, rectify, read digits."""
from lpr.types import Detection, OcrResult, PlateRead

__all__ = ["Reader", "Detection", "OcrResult", "PlateRead"]


def __getattr__(name):  # keep `import lpr` light: torch and ultralytics load only when Reader is used
    if name == "Reader":
        from lpr.pipeline import Reader

        return Reader
    raise AttributeError(name)

"""plategate reader: detect plate corners, rectify, read digits."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # type checkers see the names; at run time each loads on first use (below)
    from lpr.pipeline import Reader
    from lpr.types import Detection, OcrResult, PlateRead

__all__ = ["Reader", "Detection", "OcrResult", "PlateRead"]


def __getattr__(name: str) -> object:
    """Lazy: `gate` imports `lpr.plate_format` on every command and must not pay for NumPy, OpenCV or
    ONNX Runtime there (numpy alone added 0.1-0.2 s to each `gate visits`)."""
    if name == "Reader":
        from lpr.pipeline import Reader

        return Reader
    if name in ("Detection", "OcrResult", "PlateRead"):
        import lpr.types

        return getattr(lpr.types, name)
    raise AttributeError(name)

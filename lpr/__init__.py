"""plategate reader: detect plate corners, rectify, read digits."""
from typing import TYPE_CHECKING

from lpr.types import Detection, OcrResult, PlateRead

if TYPE_CHECKING:  # type checkers see Reader; at run time it loads on first use (below)
    from lpr.pipeline import Reader

__all__ = ["Reader", "Detection", "OcrResult", "PlateRead"]


def __getattr__(name: str) -> object:  # `import lpr` stays light: OpenCV and ONNX Runtime load with Reader
    if name == "Reader":
        from lpr.pipeline import Reader

        return Reader
    raise AttributeError(name)

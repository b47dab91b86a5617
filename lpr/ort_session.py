"""One way to open an ONNX model for the gate: CPU, a fixed number of threads, no spinning."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime as ort


def cpu_session(path: str | Path, threads: int) -> "ort.InferenceSession":
    """An ONNX Runtime session on the CPU with ``threads`` intra-op threads.

    Spinning is off: by default a session's idle threads spin for a while after each run, and the reader runs
    two sessions (detector, OCR) and OpenCV in turn, so each stage's threads burned the cores the next stage
    needed. Off, `scripts/benchmark.py`-style frames (1280x720, one plate, 2 threads, quiet 2-core box) read
    at p50 13.9-16.5 ms instead of 18.2-31.8 ms, four runs each, alternating.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

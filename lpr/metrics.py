"""Pure scoring functions for plate reads: edit distance, CER, corner error, overlap, percentiles.

Kept free of I/O and engines so the numbers the evaluation reports can be unit-tested on their own.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GAP = "∅"  # stands for a missing (deleted) or extra (inserted) character in alignments


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions each cost 1."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def cer(truth: str, read: str) -> float:
    """Character error rate of one read: edit distance over the truth length (can exceed 1)."""
    if not truth:
        return 0.0 if not read else 1.0
    return edit_distance(truth, read) / len(truth)


def char_accuracy(pairs: Sequence[tuple[str, str]]) -> float:
    """1 - CER pooled over all (truth, read) pairs, floored at 0; a missing read is ''."""
    total = sum(len(t) for t, _ in pairs)
    if total == 0:
        return float("nan")
    errors = sum(edit_distance(t, r) for t, r in pairs)
    return max(0.0, 1.0 - errors / total)


def align(truth: str, read: str) -> list[tuple[str, str]]:
    """Character alignment with minimal edits: pairs (truth_char, read_char), GAP for a missing side.

    Feeds the per-digit confusion matrix, so a dropped digit shows as truth->GAP rather than
    shifting every following digit into a false substitution.
    """
    n, m = len(truth), len(read)
    d = np.zeros((n + 1, m + 1), dtype=np.int32)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j] + 1, d[i, j - 1] + 1, d[i - 1, j - 1] + (truth[i - 1] != read[j - 1]))
    out: list[tuple[str, str]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (truth[i - 1] != read[j - 1]):
            out.append((truth[i - 1], read[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            out.append((truth[i - 1], GAP))
            i -= 1
        else:
            out.append((GAP, read[j - 1]))
            j -= 1
    return out[::-1]


def _as_corners(c, name: str) -> np.ndarray:
    arr = np.asarray(c, dtype=np.float64)
    if arr.shape != (4, 2):
        raise ValueError(f"{name}: expected 4 corners as a (4, 2) array TL TR BR BL, got shape {arr.shape}")
    return arr


def plate_width(corners) -> float:
    """Plate width in pixels: mean length of the top (TL-TR) and bottom (BL-BR) edges."""
    c = _as_corners(corners, "corners")
    return float((np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3])) / 2)


def corner_error_pct(pred, truth) -> float:
    """Mean distance between matching corners as % of the true plate width.

    Order-sensitive on purpose: the rectifier relies on TL TR BR BL, so corners that are right
    but listed in the wrong order are an error, not a match.
    """
    p, t = _as_corners(pred, "predicted corners"), _as_corners(truth, "true corners")
    width = plate_width(t)
    if width <= 0:
        raise ValueError("true corners: plate width is zero")
    return float(np.linalg.norm(p - t, axis=1).mean() / width * 100.0)


def corners_to_box(corners) -> tuple[float, float, float, float]:
    c = _as_corners(corners, "corners")
    return float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max())


def box_intersection(a: Sequence[float], b: Sequence[float]) -> float:
    """Area shared by two (x1, y1, x2, y2) boxes."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 for degenerate boxes."""
    inter = box_intersection(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p95 and mean of a latency sample; None where there is no sample."""
    if len(values) == 0:
        return {"p50": None, "p95": None, "mean": None}
    v = np.asarray(values, dtype=np.float64)
    return {
        "p50": round(float(np.percentile(v, 50)), 2),
        "p95": round(float(np.percentile(v, 95)), 2),
        "mean": round(float(v.mean()), 2),
    }

"""Write scenes as an ultralytics pose data set (one class, 4 keypoints TL, TR, BR, BL)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

KPT_SHAPE = [4, 3]
FLIP_IDX = [1, 0, 3, 2]  # a horizontal flip swaps left and right corners: TL<->TR, BR<->BL



def label_lines(corners_list, w: int, h: int) -> list[str]:
    """YOLO pose rows: class cx cy bw bh then x y v per corner, normalised; v=0 for corners off the frame."""
    lines = []
    for c in corners_list:
        c = np.asarray(c, np.float64)
        x0, y0 = np.clip(c.min(0), 0, [w, h])
        x1, y1 = np.clip(c.max(0), 0, [w, h])
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        vals = [0, (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
        for x, y in c:
            inside = 0 <= x < w and 0 <= y < h
            vals += [x / w, y / h, 2] if inside else [0.0, 0.0, 0]
        lines.append(" ".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in vals))
    return lines


def write_data_yaml(root: Path, train: str = "train", val: str = "val") -> Path:
    path = root / "data.yaml"
    path.write_text(
        f"path: {root.resolve()}\ntrain: {train}/images\nval: {val}/images\n"
        f"kpt_shape: {KPT_SHAPE}\nflip_idx: {FLIP_IDX}\nnames:\n  0: plate\n"
    )
    return path

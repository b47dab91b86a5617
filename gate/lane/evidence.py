"""Evidence crops: one image per decision, and retention that deletes old ones.

The crop is saved before the ledger decides so the decision row records its
path. Retention deletes only image files under the evidence folder whose
modification time is older than N days, never anything else.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gate.rules.codes import Lane

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class EvidenceStore:
    root: Path

    def save(self, lane: Lane, plate: str, at: datetime, crop: np.ndarray | None) -> str | None:
        """Write ``<root>/<lane>/<UTC time>_<plate>.jpg``; None when there is no crop or the write fails."""
        if crop is None or crop.size == 0:
            return None
        import cv2  # only the process that saves needs OpenCV

        folder = self.root / lane
        folder.mkdir(parents=True, exist_ok=True)
        stamp = at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%S_%fZ")
        path = folder / f"{stamp}_{plate}.jpg"
        if not cv2.imwrite(str(path), crop):
            log.warning("evidence: could not write %s", path)
            return None
        return str(path)

    def purge(self, days: float, now: float | None = None) -> int:
        """Delete evidence images older than ``days`` (by mtime); returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - days * 86400.0
        removed = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(dirpath) / name
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        if removed:
            log.info("evidence: retention removed %d image(s) older than %g day(s) from %s", removed, days, self.root)
        return removed

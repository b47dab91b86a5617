"""Evidence crops: one image per decision, and retention that deletes old ones.

The crop is saved before the ledger decides so the decision row records its
path. Why retention matches names and not just "images under the folder": an
operator may point ``--evidence-dir`` at a folder that already holds other
photos (``photos/holiday.jpg`` was deleted once). Retention deletes only what
``save`` writes: files directly in ``<root>/entry`` or ``<root>/exit`` named
``<UTC time>_<plate>.jpg``, older than N days; never anything else.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gate.rules.codes import Lane

log = logging.getLogger(__name__)

STAMP_FORMAT = "%Y%m%dT%H%M%S_%fZ"
EVIDENCE_NAME = re.compile(r"^\d{8}T\d{6}_\d{6}Z_\d{7,8}\.jpg$")  # what save() writes, nothing else


@dataclass
class EvidenceStore:
    root: Path

    def save(self, lane: Lane, plate: str, at: datetime, crop: np.ndarray | None) -> str | None:
        """Write ``<root>/<lane>/<UTC time>_<plate>.jpg``; None when there is no crop or the write fails."""
        if crop is None or crop.size == 0:
            return None
        import cv2  # only the process that saves needs OpenCV

        folder = self.root / Lane(lane)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = at.astimezone(timezone.utc).strftime(STAMP_FORMAT)
        path = folder / f"{stamp}_{plate}.jpg"
        if not cv2.imwrite(str(path), crop):
            log.warning("evidence: could not write %s", path)
            return None
        return str(path)

    def purge(self, days: float, now: float | None = None) -> int:
        """Delete the gate's own evidence files older than ``days`` (by mtime); returns how many."""
        cutoff = (time.time() if now is None else now) - days * 86400.0
        removed = 0
        for lane in Lane:
            folder = self.root / lane
            if not folder.is_dir() or folder.is_symlink():
                continue
            for path in folder.iterdir():
                if not EVIDENCE_NAME.match(path.name) or path.is_symlink():
                    continue
                try:
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
        if removed:
            log.info("evidence: retention removed %d image(s) older than %g day(s) from %s", removed, days, self.root)
        return removed

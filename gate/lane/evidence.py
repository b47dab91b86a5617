"""Evidence images: the full frame and the plate crop of each decision, and retention that deletes old ones.

``save_pass`` writes both before the ledger decides, so the decision records
them in its transaction (the evidence table, gate.store.evidence); the frame
is downscaled (longest side ``FRAME_MAX_SIDE``) and JPEG-encoded, enough to
see the car and the lane, small enough to keep for a month. Why retention
matches names and not just "images under the folder": an operator may point
``--evidence-dir`` at a folder that already holds other photos
(``photos/holiday.jpg`` was deleted once). Retention deletes only what the
gate writes: files directly in ``<root>/entry`` or ``<root>/exit`` named
``<UTC time>_<plate>[_<kind>_<hex>].jpg|png``, older than N days; never
anything else. It tells ``expire`` (the ledger) which files went, so their
rows say so.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gate.lane.redact import redact
from gate.rules.codes import EvidenceKind, Lane
from gate.store import evidence as files
from gate.store.evidence import EvidenceFile

log = logging.getLogger(__name__)

STAMP_FORMAT = "%Y%m%dT%H%M%S_%fZ"
# what save() and save_pass() write, nothing else
EVIDENCE_NAME = re.compile(r"^\d{8}T\d{6}_\d{6}Z_\d{7,8}(_(frame|plate)_[0-9a-f]{8})?\.(jpg|png)$")
FRAME_MAX_SIDE = 960
JPEG_QUALITY = 85


@dataclass
class EvidenceStore:
    root: Path
    expire: Callable[[Sequence[str]], object] | None = None  # told the names retention deleted (the ledger)

    def save_pass(self, lane: Lane, plate: str, at: datetime, frame: Any, crop: Any) -> list[EvidenceFile]:
        """Write the pass's frame (downscaled) and plate crop as JPEGs; an image that fails is one warning."""
        saved = []
        for kind, image in ((EvidenceKind.FRAME, frame), (EvidenceKind.PLATE, crop)):
            if image is None or getattr(image, "size", 0) == 0:
                continue
            try:
                data = encode_jpeg(downscale(image, FRAME_MAX_SIDE) if kind is EvidenceKind.FRAME else image)
                saved.append(files.write(self.root, lane, plate, at, kind, data))
            except Exception as exc:  # noqa: BLE001 - no evidence is better than no decision
                log.warning("evidence: could not save the %s of %s: %s", kind, plate, redact(exc))
        return saved

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
        """Delete the gate's own evidence files older than ``days`` (by mtime), marked expired first; how many went.

        Marked first: deleted first, a database that was busy or down left rows pointing at files that were gone
        and that no later purge would see again. A row marked whose file then stays (no permission) is deleted by
        the next purge; each such file is one warning line.
        """
        cutoff = (time.time() if now is None else now) - days * 86400.0
        due: list[tuple[str, Path]] = []
        for lane in Lane:
            folder = self.root / lane
            try:
                if not folder.is_dir() or folder.is_symlink():
                    continue
                paths = list(folder.iterdir())
            except OSError as exc:
                log.warning("evidence: cannot list %s: %s", folder, exc.strerror or exc)
                continue
            for path in paths:
                if not EVIDENCE_NAME.match(path.name) or path.is_symlink():
                    continue
                try:
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        due.append((f"{lane.value}/{path.name}", path))
                except OSError:
                    continue  # gone between the listing and the look, or not ours to read
        if due and self.expire is not None:
            self.expire([name for name, _ in due])  # raises (busy, down): nothing deleted, the next purge tries again
        removed = 0
        for _name, path in due:
            try:
                path.unlink()
                removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("evidence: could not delete %s: %s", path, exc.strerror or exc)
        if removed:
            log.info("evidence: retention removed %d image(s) older than %g day(s) from %s", removed, days, self.root)
        return removed


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """The image with its longest side at most ``max_side`` (area interpolation: no aliasing)."""
    import cv2

    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def encode_jpeg(image: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError("JPEG encoding failed")
    return bytes(data.tobytes())

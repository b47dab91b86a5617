"""Evidence images of decisions: files in one folder, one row per (decision, kind) in the evidence table.

Why files are named by the ledger's side and served by id: a name that came
from outside (an upload, a camera) could point anywhere (``../../etc``); the
API and the pages only ever take an evidence id, and the file name is one
this module made: ``<lane>/<UTC time>_<plate>_<kind>_<8 hex>.<jpg|png>``
under the evidence folder (the random part keeps two gates of one lane
apart). Retention (gate.lane.evidence) deletes only names of that shape and
sets ``expired_at``; the row stays, so a page can say the image expired.

``sniff`` checks an image's header (JPEG or PNG) and reads its size without
decoding a pixel: an upload that is not what it says is a 422, not a file.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, Row, bindparam, select, update

from gate.rules.clock import iso
from gate.rules.codes import EvidenceKind, Lane
from gate.rules.errors import InvalidInput
from gate.store import models

STAMP_FORMAT = "%Y%m%dT%H%M%S_%fZ"
# what new_name() makes, relative to the evidence folder; the older crops (<stamp>_<plate>.jpg) too
NAME = re.compile(r"^(entry|exit)/\d{8}T\d{6}_\d{6}Z_\d{7,8}(_(frame|plate)_[0-9a-f]{8})?\.(jpg|png)$")
JPEG, PNG = "image/jpeg", "image/png"
_EXT = {JPEG: "jpg", PNG: "png"}
MAX_SIDE = 20_000  # a header claiming more is not a camera frame
MAX_PIXELS = 120_000_000  # as lpr.image_io: the largest phone sensor, far above any gate camera


@dataclass(frozen=True)
class EvidenceFile:
    """An image written into the evidence folder, to be recorded with its decision."""

    kind: EvidenceKind
    file: str  # relative to the evidence folder, made by new_name()
    content_type: str
    bytes: int
    width: int | None
    height: int | None

    def row(self, decision_id: int, at: datetime) -> dict[str, Any]:
        return {
            "decision_id": decision_id,
            "kind": EvidenceKind(self.kind).value,
            "file": self.file,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "width": self.width,
            "height": self.height,
            "created_at": at,
        }


@dataclass(frozen=True)
class EvidenceRecord:
    """An evidence row with what the API needs to decide who may see it (its decision's lane and visit)."""

    id: int
    decision_id: int
    kind: EvidenceKind
    file: str
    content_type: str
    bytes: int
    width: int | None
    height: int | None
    created_at: datetime
    expired_at: datetime | None
    lane: Lane
    gate: str | None
    plate: str
    visit_id: int | None

    @classmethod
    def from_row(cls, r: Row[Any]) -> "EvidenceRecord":
        return cls(r.id, r.decision_id, EvidenceKind(r.kind), r.file, r.content_type, r.bytes, r.width, r.height,
                   r.created_at, r.expired_at, Lane(r.lane), r.gate, r.plate, r.visit_id)

    def to_dict(self) -> dict[str, Any]:
        """What listings show: never the file name (images are served by id)."""
        return {
            "evidence_id": self.id,
            "decision_id": self.decision_id,
            "kind": self.kind.value,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "width": self.width,
            "height": self.height,
            "created_at": iso(self.created_at),
            "expired_at": iso(self.expired_at),
        }


def sniff(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a JPEG or PNG from its header; InvalidInput for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise InvalidInput("image: a PNG without its IHDR header")
        width, height = struct.unpack(">II", data[16:24])
        return PNG, *_size(width, height)
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG, *_size(*_jpeg_size(data))
    raise InvalidInput("image: expected a JPEG or PNG file")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the JPEG markers to the first start-of-frame (SOF0-SOF15 but DHT, JPG, DAC)."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise InvalidInput("image: a damaged JPEG (no marker where one was due)")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if marker == 0xDA or length < 2:  # image data before any frame header
            break
        i += 2 + length
    raise InvalidInput("image: a JPEG without a frame header")


def _size(width: int, height: int) -> tuple[int, int]:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise InvalidInput(f"image: {width}x{height} pixels: expected 1 to {MAX_SIDE} a side")
    if width * height > MAX_PIXELS:  # a 48 KB 1-bit PNG of 20000x20000 went to every browser that opened the visit
        raise InvalidInput(f"image: {width}x{height} pixels: expected at most {MAX_PIXELS // 1_000_000} megapixels")
    return width, height


def new_name(lane: Lane, plate: str, at: datetime, kind: EvidenceKind, content_type: str) -> str:
    """A fresh relative file name for an evidence image (see the module doc)."""
    stamp = at.astimezone(timezone.utc).strftime(STAMP_FORMAT)
    return f"{Lane(lane).value}/{stamp}_{plate}_{EvidenceKind(kind).value}_{secrets.token_hex(4)}.{_EXT[content_type]}"


def write(root: Path, lane: Lane, plate: str, at: datetime, kind: EvidenceKind, data: bytes) -> EvidenceFile:
    """Check ``data`` (sniff) and write it under ``root`` atomically: a reader never sees half a file."""
    content_type, width, height = sniff(data)
    name = new_name(lane, plate, at, kind, content_type)
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:  # a full or read-only disk: leave no half file behind
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    return EvidenceFile(EvidenceKind(kind), name, content_type, len(data), width, height)


def path_of(root: Path, file: str) -> Path | None:
    """The file of an evidence row under ``root``, or None when the stored name is not one we make."""
    if not NAME.match(file):
        return None
    return root / file


# ------------------------------------------------------------------ queries (in the caller's transaction)

_BY_ID = (
    select(models.evidence, models.decisions.c.lane, models.decisions.c.gate, models.decisions.c.plate,
           models.decisions.c.visit_id)
    .join(models.decisions, models.decisions.c.id == models.evidence.c.decision_id)
    .where(models.evidence.c.id == bindparam("evidence_id"))
)
_OF_DECISIONS = (
    select(models.evidence, models.decisions.c.lane, models.decisions.c.gate, models.decisions.c.plate,
           models.decisions.c.visit_id)
    .join(models.decisions, models.decisions.c.id == models.evidence.c.decision_id)
    .where(models.evidence.c.decision_id.in_(bindparam("ids", expanding=True)))
    .order_by(models.evidence.c.decision_id, models.evidence.c.kind)
)
_EXPIRE = (
    update(models.evidence)
    .where(models.evidence.c.file.in_(bindparam("files", expanding=True)), models.evidence.c.expired_at.is_(None))
    .values(expired_at=bindparam("at", type_=models.UTCDateTime()))
)


def insert(conn: Connection, decision_id: int, files: Sequence[EvidenceFile], at: datetime) -> None:
    if files:
        conn.execute(models.evidence.insert(), [f.row(decision_id, at) for f in files])


def by_id(conn: Connection, evidence_id: int) -> EvidenceRecord | None:
    row = conn.execute(_BY_ID, {"evidence_id": evidence_id}).first()
    return None if row is None else EvidenceRecord.from_row(row)


def of_decisions(conn: Connection, decision_ids: Sequence[int]) -> dict[int, list[EvidenceRecord]]:
    """The evidence of each decision (by decision id); one query for a page of decisions."""
    found: dict[int, list[EvidenceRecord]] = {}
    if decision_ids:
        for row in conn.execute(_OF_DECISIONS, {"ids": list(decision_ids)}):
            found.setdefault(row.decision_id, []).append(EvidenceRecord.from_row(row))
    return found


def expire(conn: Connection, files: Iterable[str], at: datetime, chunk: int = 500) -> int:
    """Mark the rows of deleted files expired; returns how many rows changed."""
    names, changed = list(files), 0
    for start in range(0, len(names), chunk):
        changed += conn.execute(_EXPIRE, {"files": names[start : start + chunk], "at": at}).rowcount
    return changed

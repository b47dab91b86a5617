"""Evidence retention deletes only the gate's own evidence files older than N days, never anything else."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gate.lane.evidence import EvidenceStore

DAY = 86400.0


def touch(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    old = time.time() - age_days * DAY
    os.utime(path, (old, old))
    return path


def test_retention_deletes_only_old_evidence(tmp_path: Path):
    root = tmp_path / "evidence"
    old = [touch(root / "entry" / "20250101T080000_000000Z_1234567.jpg", 40),
           touch(root / "exit" / "20250102T080000_000000Z_76543210.jpg", 31)]
    young = [touch(root / "entry" / "20250301T080000_000000Z_1234567.jpg", 29),
             touch(root / "exit" / "20250302T080000_000000Z_7654321.jpg", 0)]
    not_evidence = [touch(root / "notes.txt", 400), touch(tmp_path / "outside.jpg", 400)]
    removed = EvidenceStore(root).purge(days=30)
    assert removed == 2
    assert [p.exists() for p in old] == [False, False]
    assert all(p.exists() for p in young + not_evidence)


def test_retention_never_deletes_photos_the_gate_did_not_write(tmp_path: Path):
    """Issue 11.7: `--evidence-dir photos` once deleted photos/holiday.jpg and photos/2019/wedding.png."""
    root = tmp_path / "photos"
    theirs = [touch(root / "holiday.jpg", 400), touch(root / "2019" / "wedding.png", 400),
              touch(root / "entry" / "holiday.jpg", 400), touch(root / "exit" / "2019" / "wedding.jpg", 400),
              touch(root / "2019" / "20190101T080000_000000Z_1234567.jpg", 400)]  # our naming, not our folder
    ours = touch(root / "entry" / "20190101T080000_000000Z_1234567.jpg", 400)
    assert EvidenceStore(root).purge(days=30) == 1
    assert not ours.exists() and all(p.exists() for p in theirs)


def test_a_ledger_that_cannot_mark_them_expired_keeps_the_files_for_the_next_purge(tmp_path: Path):
    """Deleted first, a busy ledger left rows pointing at files that were gone, which no later purge saw again."""
    root = tmp_path / "evidence"
    old = touch(root / "entry" / "20250101T080000_000000Z_1234567.jpg", 40)
    marked: list[list[str]] = []

    def busy(names: list[str]) -> None:
        raise RuntimeError("database is locked")

    try:
        EvidenceStore(root, expire=busy).purge(days=30)
    except RuntimeError:
        pass
    assert old.exists()  # nothing deleted that is not marked
    assert EvidenceStore(root, expire=marked.append).purge(days=30) == 1
    assert marked == [["entry/20250101T080000_000000Z_1234567.jpg"]] and not old.exists()


def test_a_file_that_cannot_be_deleted_is_one_warning_and_the_rest_go(tmp_path: Path, monkeypatch, caplog):
    root = tmp_path / "evidence"
    stuck = touch(root / "entry" / "20250101T080000_000000Z_1234567.jpg", 40)
    other = touch(root / "exit" / "20250101T080000_000000Z_7654321.jpg", 40)
    real_unlink = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == stuck:
            raise PermissionError(13, "Permission denied")
        real_unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    assert EvidenceStore(root).purge(days=30) == 1
    assert stuck.exists() and not other.exists() and "could not delete" in caplog.text


def test_retention_on_a_missing_folder_is_a_no_op(tmp_path: Path):
    assert EvidenceStore(tmp_path / "none").purge(days=1) == 0


def test_save_names_the_crop_by_lane_time_and_plate(tmp_path: Path):
    store = EvidenceStore(tmp_path)
    at = datetime(2025, 3, 2, 8, 0, 1, 500000, tzinfo=timezone.utc)
    path = store.save("exit", "1234567", at, np.full((32, 128, 3), 128, np.uint8))
    assert path == str(tmp_path / "exit" / "20250302T080001_500000Z_1234567.jpg") and Path(path).is_file()
    assert store.save("exit", "1234567", at, None) is None
    os.utime(path, (0, 0))  # what save() writes, retention takes back
    assert store.purge(days=30) == 1 and not Path(path).exists()

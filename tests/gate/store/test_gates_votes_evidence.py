"""Every read and decision keeps its gate, its pass's votes and its evidence images; visits their gates."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from gate_support import at

from gate.rules.codes import EvidenceKind
from gate.rules.errors import InvalidInput, UnknownEvidence
from gate.rules.votes import PlateVote
from gate.store import evidence as ev


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny) PNG: header, one IDAT, end."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width * 3 for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_a_read_keeps_its_gate_and_the_visit_its_entry_and_exit_gates(ledger):
    entry = ledger.decide("entry", "12-345-67", at(0), gate="north-entry")
    assert entry.gate == "north-entry" and entry.to_dict()["gate"] == "north-entry"
    ledger.decide("exit", "1234567", at(5), gate="south-exit")
    visit = ledger.visit(entry.visit_id)
    assert (visit.entry_gate, visit.exit_gate) == ("north-entry", "south-exit")
    assert visit.to_dict()["entry_gate"] == "north-entry"
    assert [d["gate"] for d in ledger.decisions()] == ["north-entry", "south-exit"]


def test_without_a_gate_the_lane_name_is_the_gate(ledger):
    decision = ledger.decide("entry", "1234567", at(0))
    assert decision.gate == "entry" and ledger.visit(decision.visit_id).entry_gate == "entry"


@pytest.mark.parametrize("gate", ["", "north gate", "../x", "g" * 33, "-x"])
def test_a_bad_gate_id_is_refused_before_anything_is_written(ledger, gate):
    with pytest.raises(InvalidInput, match="gate"):
        ledger.decide("entry", "1234567", at(0), gate=gate)
    assert ledger.decisions() == []


def test_the_decision_keeps_its_pass_votes_most_frames_first(ledger):
    votes = [{"plate": "12-345-61", "frames": 3, "score": 0.2}, PlateVote("1234567", 9, 0.8)]
    ledger.decide("entry", "1234567", at(0), votes=votes)
    assert ledger.decisions()[0]["votes"] == [
        {"plate": "1234567", "frames": 9, "score": 0.8}, {"plate": "1234561", "frames": 3, "score": 0.2}]


@pytest.mark.parametrize("votes", [
    [{"plate": "1234567", "frames": 0, "score": 0.5}],
    [{"plate": "1234567", "frames": 2, "score": 1.5}],
    [{"plate": "12", "frames": 2, "score": 0.5}],
    "1234567",
])
def test_bad_votes_are_refused(ledger, votes):
    with pytest.raises(ValueError):
        ledger.decide("entry", "1234567", at(0), votes=votes)
    assert ledger.decisions() == []


def test_evidence_is_recorded_with_its_decision_and_expires_when_retention_deletes_it(ledger, tmp_path: Path):
    frame = ev.write(tmp_path, "entry", "1234567", at(0), EvidenceKind.FRAME, png(96, 54))
    crop = ev.write(tmp_path, "entry", "1234567", at(0), EvidenceKind.PLATE, png(128, 32))
    assert ev.NAME.match(frame.file) and (tmp_path / frame.file).read_bytes() == png(96, 54)
    decision = ledger.decide("entry", "1234567", at(0), gate="north", evidence=[frame, crop])
    rows = [ledger.evidence(i) for i in (1, 2)]
    assert [(r.kind, r.decision_id, r.width, r.height, r.lane, r.gate, r.visit_id) for r in rows] == [
        (EvidenceKind.FRAME, decision.decision_id, 96, 54, "entry", "north", decision.visit_id),
        (EvidenceKind.PLATE, decision.decision_id, 128, 32, "entry", "north", decision.visit_id)]
    assert rows[0].expired_at is None
    assert ledger.expire_evidence([frame.file], at(60)) == 1
    assert ledger.evidence(1).expired_at == at(60) and ledger.evidence(2).expired_at is None
    with pytest.raises(UnknownEvidence):
        ledger.evidence(3)


def test_two_images_of_one_kind_are_refused(ledger, tmp_path: Path):
    one = ev.write(tmp_path, "entry", "1234567", at(0), EvidenceKind.FRAME, png())
    with pytest.raises(InvalidInput, match="one image of each kind"):
        ledger.decide("entry", "1234567", at(0), evidence=[one, one])


def test_sniff_reads_jpeg_and_png_sizes_from_the_header_and_refuses_the_rest():
    import cv2
    import numpy as np

    ok, jpeg = cv2.imencode(".jpg", np.zeros((54, 96, 3), np.uint8))
    assert ok and ev.sniff(jpeg.tobytes()) == ("image/jpeg", 96, 54)
    assert ev.sniff(png(7, 5)) == ("image/png", 7, 5)
    for bad in (b"GIF89a....", b"", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"\x89PNG\r\n\x1a\n" + b"\x00" * 4):
        with pytest.raises(InvalidInput, match="image"):
            ev.sniff(bad)


def test_only_names_the_ledger_makes_resolve_to_a_file(tmp_path: Path):
    assert ev.path_of(tmp_path, "../../etc/passwd") is None
    assert ev.path_of(tmp_path, "entry/20250302T080000_000000Z_1234567_frame_0a1b2c3d.jpg") is not None

"""`gate run --gate ID`: the barrier's id in every decision and visit; a bad one is a usage error."""
from __future__ import annotations

from pathlib import Path

from test_bad_lane_input import gate_run, recording  # noqa: F401 - the fixture and the helper

from gate.store.ledger import Ledger


def test_gate_run_records_its_gate_and_the_frame_and_plate_images(gate_run, tmp_path: Path):  # noqa: F811
    result = gate_run("--source", str(recording(tmp_path / "clip")), "--gate", "north-entry")
    assert result.exit_code == 0, result.output
    with Ledger.open(str(tmp_path / "ledger.db")) as ledger:
        (decision,) = ledger.decisions()
        assert decision["gate"] == "north-entry" and decision["votes"][0]["plate"] == "1234567"
        assert [ledger.evidence(i).kind for i in (1, 2)] == ["frame", "plate"]


def test_a_bad_gate_id_is_a_usage_error(gate_run, tmp_path: Path):  # noqa: F811
    result = gate_run("--source", str(recording(tmp_path / "clip")), "--gate", "north gate")
    assert result.exit_code == 2 and "gate 'north gate': expected 1 to 32 letters" in result.output

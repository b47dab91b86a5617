"""`gate decisions`: the decision log on the command line, denials included, as a table, CSV or JSON."""
from __future__ import annotations

import json
from pathlib import Path

from gate_support import at
from typer.testing import CliRunner

from gate.cli import app
from gate.store.ledger import Ledger


def decisions(db: Path, *args: str):
    return CliRunner().invoke(app, ["decisions", "--db", str(db), *args])


def test_gate_decisions_lists_denials_by_gate_in_every_format(tmp_path: Path):
    db = tmp_path / "ledger.db"
    with Ledger.open(str(db)) as ledger:
        ledger.decide("entry", "1234567", at(0), gate="north-entry", votes=[{"plate": "1234567", "frames": 4,
                                                                            "score": 1.0}])
        ledger.decide("exit", "1234567", at(120), gate="south-exit")
    rows = json.loads(decisions(db, "--format", "json", "--action", "deny").output)
    assert [(r["gate"], r["reason"], r["amount_due"] > 0) for r in rows] == [("south-exit", "unpaid", True)]
    table = decisions(db, "--gate", "north-entry").output
    assert "north-entry" in table and "12-345-67 x4" in table and "south-exit" not in table
    csv = decisions(db, "--format", "csv", "--lane", "exit").output.splitlines()
    assert csv[0] == "decision_id,at,lane,gate,plate,action,reason,visit_id,amount_due,flagged,votes"
    assert csv[1].startswith("2,") and ",exit,south-exit,1234567,deny,unpaid,1," in csv[1]


def test_a_bad_filter_is_one_line_and_exit_2(tmp_path: Path):
    Ledger.open(str(tmp_path / "ledger.db")).close()
    result = decisions(tmp_path / "ledger.db", "--action", "opened")
    assert result.exit_code == 2 and result.output.strip().splitlines() == [
        "error: action 'opened': expected one of open, deny, review"]


def test_visits_show_their_gates(tmp_path: Path):
    db = tmp_path / "ledger.db"
    with Ledger.open(str(db)) as ledger:
        ledger.decide("entry", "1234567", at(0), gate="north-entry")
    out = CliRunner().invoke(app, ["visits", "--db", str(db), "--format", "csv"]).output.splitlines()
    assert out[0].endswith(",entry_gate,exit_gate") and out[1].endswith(",north-entry,")


def test_evidence_purge_deletes_old_images_and_marks_them_expired(tmp_path: Path):
    import os

    from gate.rules.codes import EvidenceKind
    from gate.store import evidence as ev

    db, folder = tmp_path / "ledger.db", tmp_path / "evidence"
    png = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (4).to_bytes(4, "big") + (3).to_bytes(4, "big")
           + b"\x08\x02\x00\x00\x00")
    with Ledger.open(str(db)) as ledger:
        old = ev.write(folder, "entry", "1234567", at(0), EvidenceKind.FRAME, png)
        new = ev.write(folder, "entry", "1234567", at(0), EvidenceKind.PLATE, png)
        ledger.decide("entry", "1234567", at(0), evidence=[old, new])
    os.utime(folder / old.file, (0, 0))
    (folder / "notes.txt").write_text("not ours")
    result = CliRunner().invoke(app, ["evidence", "purge", "--days", "30", "--evidence-dir", str(folder),
                                      "--db", str(db)])
    assert result.exit_code == 0 and json.loads(result.output) == {"removed": 1}
    with Ledger.open(str(db)) as ledger:
        assert ledger.evidence(1).expired_at is not None and ledger.evidence(2).expired_at is None
    assert (folder / "notes.txt").exists() and (folder / new.file).exists()

"""`gate review --resolve ID --action ...` does what POST /api/review/{id}/resolve does; `gate read --gate`."""
from __future__ import annotations

import json
from pathlib import Path

from gate_support import at
from typer.testing import CliRunner

from gate.cli import app
from gate.store.commands import GateCommands
from gate.store.ledger import Ledger


def gate(*args: str):
    return CliRunner().invoke(app, list(args))


def test_resolving_with_open_queues_a_pulse_for_the_decisions_gate(tmp_path: Path):
    db = str(tmp_path / "ledger.db")
    read = gate("read", "--lane", "exit", "--plate", "5555555", "--gate", "south-exit", "--db", db)
    assert json.loads(read.output)["gate"] == "south-exit"
    done = gate("review", "--resolve", "1", "--action", "open", "--operator", "dana", "--reason", "pass holder",
                "--db", db)
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["item"]["resolution"] == "open: pass holder"
    with Ledger.open(db) as ledger:
        assert [c.gate for c in GateCommands(ledger).claim("south-exit")] == ["south-exit"]


def test_reassign_needs_a_visit_and_resolve(tmp_path: Path):
    db = str(tmp_path / "ledger.db")
    with Ledger.open(db) as ledger:
        ledger.decide("exit", "5555555", at(0))
    lone = gate("review", "--action", "confirm", "--db", db)
    assert lone.exit_code == 2 and "--action: expected together with --resolve" in lone.output
    missing = gate("review", "--resolve", "1", "--action", "reassign", "--operator", "dana", "--reason", "x",
                   "--db", db)
    assert missing.exit_code == 2 and "visit_id: give it to reassign" in missing.output

"""scripts/soak.py: the ledger's pooled connections are judged apart from the other fds."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import soak  # noqa: E402


def test_a_second_pooled_connection_is_the_ledgers_not_a_leak_of_other_fds(tmp_path: Path):
    db = tmp_path / "ledger.db"
    before = ["/dev/null", "socket:[1]", str(db), f"{db}-wal", f"{db}-shm"]
    after = [*before, str(db), f"{db}-wal"]  # the pool opened a second connection
    assert soak.split_ledger(before, db) == (1, ["/dev/null", "socket:[1]"])
    assert soak.split_ledger(after, db) == (2, ["/dev/null", "socket:[1]"])


def test_a_file_left_open_is_counted_among_the_other_fds(tmp_path: Path):
    db = tmp_path / "ledger.db"
    conns, other = soak.split_ledger([str(db), str(tmp_path / "evidence" / "1.jpg")], db)
    assert conns == 1 and other == [str(tmp_path / "evidence" / "1.jpg")]

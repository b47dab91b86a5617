"""Fixtures for the camera process tests (fakes live in lane_fakes)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from gate.store.ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(str(tmp_path / "ledger.db")) as led:
        yield led

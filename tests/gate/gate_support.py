"""Shared test helpers (a uniquely named module: tests/ has no packages)."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

T0 = datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)
WORKER = Path(__file__).parent / "store" / "gate_worker.py"
PYTHON = sys.executable


def at(minutes: float) -> datetime:
    """T0 + minutes: tests speak in minutes since the lot opened."""
    return T0 + timedelta(minutes=minutes)

"""`gate run` as a process: SIGTERM exits cleanly with its stats, after committing the decision in hand.

The process is started through tests/gate/lane/fake_gate_run.py, which builds the
lane as `gate run` does with a reader that sees one fixed plate on every
non-black frame, so no model weights are needed.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from gate.cli import app
from gate.store.ledger import Ledger


@pytest.fixture
def frames_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    img = np.full((48, 64, 3), 90, np.uint8)
    for i in range(400):
        cv2.imwrite(str(folder / f"{i:05d}.png"), img)
    return folder


FAKE_GATE_RUN = Path(__file__).with_name("fake_gate_run.py")


def gate_run(tmp_path: Path, frames: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, str(FAKE_GATE_RUN), "--plate", "12-345-67", "--lane", "entry", "--source", str(frames),
           "--db", str(tmp_path / "ledger.db"), "--evidence-dir", str(tmp_path / "evidence"), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigterm_exits_cleanly_with_stats(tmp_path: Path, frames_dir: Path):
    proc = gate_run(tmp_path, frames_dir, "--max-fps", "20")  # 400 frames = 20 s unless stopped
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "decision entry 12-345-67" in line:
            break
    assert any("decision entry 12-345-67 -> open" in x for x in lines), "".join(lines)
    proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    assert " fps" in err and "p95" in err
    frames = int(err.split("frames ")[1].split()[0])
    assert 0 < frames < 400  # it stopped early, not at the end of the folder
    with Ledger.open(str(tmp_path / "ledger.db")) as ledger:
        assert [d["plate"] for d in ledger.decisions()] == ["1234567"]


def test_a_missing_source_is_a_usage_error(tmp_path: Path):
    result = CliRunner().invoke(app, ["run", "--lane", "entry", "--source", str(tmp_path / "nope"),
                                      "--db", str(tmp_path / "ledger.db")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_a_source_of_digits_that_are_not_ascii_is_a_usage_error_not_a_crash(tmp_path: Path):
    # "²".isdigit() is True and int("²") raises: it once crashed instead of naming the source
    result = CliRunner().invoke(app, ["run", "--lane", "entry", "--source", "²", "--db", str(tmp_path / "ledger.db")])
    assert result.exit_code == 2 and "source '²': no such file or folder" in result.output


def test_a_reload_asked_while_the_lane_starts_is_remembered_not_fatal():
    """SIGHUP's default action ends the process: during the seconds the reader loads, systemctl reload killed the
    lane (and systemd restarted it into the same window)."""
    import os
    import signal

    from gate.cli import _hold_reloads

    before = signal.getsignal(signal.SIGHUP)
    try:
        asked = _hold_reloads()
        os.kill(os.getpid(), signal.SIGHUP)
        assert asked == [signal.SIGHUP]
    finally:
        signal.signal(signal.SIGHUP, before)

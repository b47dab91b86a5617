"""`gate run` and `gate serve` under a stand-in for systemd: a datagram socket bound here as $NOTIFY_SOCKET.

What systemd would see with Type=notify and WatchdogSec=: READY=1 once the lane reads (or the server
listens), WATCHDOG=1 while alive, the config reloaded on SIGHUP (ExecReload), STOPPING=1 on SIGTERM.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATE = [sys.executable, "-m", "gate.cli"]


class FakeSystemd:
    """The notify socket; ``wait_for(message)`` returns the messages received up to and including it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def env(self, watchdog_s: float) -> dict[str, str]:
        import os

        return {**os.environ, "NOTIFY_SOCKET": str(self.path), "WATCHDOG_USEC": str(int(watchdog_s * 1e6))}

    def wait_for(self, wanted: str, timeout_s: float, proc: subprocess.Popen) -> list[str]:
        deadline = time.monotonic() + timeout_s
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                lines = self.sock.recv(4096).decode().splitlines()
            except socket.timeout:
                if proc.poll() is not None:
                    break
                continue
            self.messages += lines
            if wanted in lines:
                return self.messages
        proc.kill()
        pytest.fail(f"no {wanted} within {timeout_s} s; got {self.messages}; output: {proc.communicate()[0]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(tmp_path: Path):
    fake = FakeSystemd(tmp_path / "notify.sock")
    yield fake
    fake.close()


def test_units_are_type_notify_with_a_watchdog_and_reload_by_sighup():
    for unit in ("plategate-run@.service", "plategate-serve.service"):
        text = (ROOT / "deploy" / unit).read_text()
        assert "Type=notify" in text and "WatchdogSec=" in text and "NotifyAccess=main" in text
        assert "ExecReload=/bin/kill -HUP $MAINPID" in text


@pytest.mark.slow
def test_gate_run_is_ready_alive_reloads_and_says_stopping(systemd, tmp_path: Path):
    config = tmp_path / "plategate.toml"
    config.write_text("[tariff]\nhourly_rate = 12.0\n")
    proc = subprocess.Popen(
        [*GATE, "run", "--lane", "entry", "--source", str(ROOT / "gate" / "demo" / "entry.mp4"), "--loop",
         "--max-fps", "10", "--db", str(tmp_path / "ledger.db"), "--config", str(config),
         "--evidence-dir", str(tmp_path / "evidence")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=systemd.env(watchdog_s=1.0), cwd=tmp_path)
    try:
        systemd.wait_for("READY=1", 60, proc)
        systemd.wait_for("WATCHDOG=1", 5, proc)
        config.write_text("[tariff]\nhourly_rate = 15.0\n")
        proc.send_signal(signal.SIGHUP)
        assert systemd.wait_for("READY=1", 10, proc)[-2:] == ["RELOADING=1", "READY=1"]
        config.write_text("[tariff]\nhourly_rate = -1\n")
        proc.send_signal(signal.SIGHUP)
        systemd.wait_for("READY=1", 10, proc)
        proc.send_signal(signal.SIGTERM)
        systemd.wait_for("STOPPING=1", 15, proc)
        output = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "config reloaded: tariff changed" in output
    assert output.count("config reload failed, keeping the previous config") == 1 and "hourly_rate" in output
    assert "stopped" in output


@pytest.mark.slow
def test_gate_serve_is_ready_once_listening_and_alive_from_its_event_loop(systemd, tmp_path: Path):
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "plategate.toml"
    config.write_text("[tariff]\nhourly_rate = 12.0\n")
    proc = subprocess.Popen(
        [*GATE, "serve", "--port", str(port), "--db", str(tmp_path / "ledger.db"), "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=systemd.env(watchdog_s=0.5), cwd=tmp_path)
    try:
        systemd.wait_for("READY=1", 60, proc)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200  # listening already
        systemd.wait_for("WATCHDOG=1", 5, proc)
        config.write_text("[tariff]\nhourly_rate = 20.0\n")
        proc.send_signal(signal.SIGHUP)
        assert systemd.wait_for("READY=1", 10, proc)[-2:] == ["RELOADING=1", "READY=1"]
        proc.send_signal(signal.SIGTERM)
        systemd.wait_for("STOPPING=1", 15, proc)
        output = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "config reloaded: tariff changed" in output

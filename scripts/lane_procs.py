"""`gate run` processes for the lane benchmark and the soak test: start, wait for READY, sample /proc, stop, parse.

Each process gets its own sd_notify socket (gate.notify), so "ready" means what systemd would see: the
reader loaded and the first frame read. Its stderr goes to a file (a pipe nobody reads would stall it).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

GATE = [sys.executable, "-m", "gate.cli"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Sample:
    """One look at a process: wall time, resident memory, open fds, CPU seconds so far."""

    t: float
    rss_mb: float
    fds: int
    cpu_s: float


def sample(pid: int) -> Sample:
    with open(f"/proc/{pid}/statm") as f:
        rss_pages = int(f.read().split()[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime (fields 14, 15 of stat)
    return Sample(time.monotonic(), rss_pages * PAGE / 2**20, len(os.listdir(f"/proc/{pid}/fd")), cpu)


def fd_targets(pid: int) -> list[str]:
    """What each open fd of the process points at (files, sockets, pipes), sorted: to say what a new fd is."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue  # closed between the listing and the look
    return sorted(out)


def system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return sum(parts) - idle, sum(parts)


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


class Lane:
    """One `gate run` subprocess with its notify socket and log file."""

    def __init__(self, name: str, args: list[str], workdir: Path) -> None:
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.sock_path = workdir / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.setblocking(False)
        self.log_path = workdir / "gate-run.log"
        self._log = open(self.log_path, "w")
        env = {**os.environ, "NOTIFY_SOCKET": str(self.sock_path), "OMP_NUM_THREADS": "2"}
        self.proc = subprocess.Popen([*GATE, "run", *args], stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     cwd=workdir)
        self.ready_at: float | None = None

    def poll_ready(self) -> bool:
        while self.ready_at is None:
            try:
                msg = self.sock.recv(4096).decode()
            except BlockingIOError:
                break
            if "READY=1" in msg.splitlines():
                self.ready_at = time.monotonic()
        return self.ready_at is not None

    def stop(self, timeout_s: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        self.sock.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_ready(lanes: list[Lane], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(lane.poll_ready() for lane in lanes):
        dead = [lane for lane in lanes if lane.proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            for lane in lanes:
                lane.stop(5)
            why = f"{dead[0].name} exited: {dead[0].output()[-2000:]}" if dead else f"not ready in {timeout_s} s"
            raise SystemExit(f"error: gate run {why}")
        time.sleep(0.05)


SUMMARY = re.compile(r"frames (?P<frames>\d+) in (?P<elapsed>[\d.]+) s = (?P<fps>[\d.]+) fps; "
                     r"dropped (?P<dropped>\d+); "
                     r"(?:skipped (?P<skipped>\d+) \(no motion\); )?reconnects (?P<reconnects>\d+); "
                     r"decisions (?P<decisions>\d+) \(failed (?P<failed>\d+)")
STAGE = re.compile(r"^\s+(?P<stage>\w+)\s+p50\s+(?P<p50>[\d.]+) ms\s+p95\s+(?P<p95>[\d.]+) ms\s+n=(?P<n>\d+)", re.M)


def parse_summary(output: str) -> dict:
    """`gate run`'s stats on exit (gate.lane.stats.RunStats.summary) as numbers."""
    matches = list(SUMMARY.finditer(output))
    if not matches:
        raise ValueError("no stats summary in gate run's output: " + output[-1000:])
    m = matches[-1]
    out: dict = {k: (float(v) if "." in v else int(v)) for k, v in m.groupdict(default="0").items()}
    out["stages"] = {s["stage"]: {"p50": float(s["p50"]), "p95": float(s["p95"]), "n": int(s["n"])}
                     for s in STAGE.finditer(output[m.start():])}
    out["loops"] = output.count(": looped (")
    return out

"""What a lane's process measured: frames, decisions, failures and per-stage latency."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

STAGES = ("wait", "detect", "rectify", "ocr", "read", "evidence", "decide", "relay")  # the summary's order
# Percentiles are over each stage's most recent samples: a lane runs for months, and keeping every sample
# grew by ~2.5 KB a second at 10 fps (6 GB a month).
STAGE_WINDOW = 10_000


class RunEnd(StrEnum):
    """Why a lane's process ended, and the exit code `gate run` gives it (a supervisor must see a dead camera)."""

    RUNNING = "running"
    STOPPED = "stopped"  # SIGTERM/SIGINT: the frame in hand was finished
    ENDED = "ended"  # a recording or a stills batch was read to its end
    SOURCE_FAILED = "source-failed"  # could not be opened, gave no frame, or its reconnects gave up

    @property
    def exit_code(self) -> int:
        return 3 if self is RunEnd.SOURCE_FAILED else 0


@dataclass
class RunStats:
    """Frame rate and per-stage latency, printed when the process exits."""

    frames: int = 0
    decisions: int = 0
    failed_decisions: int = 0
    relay_failures: int = 0
    dropped: int = 0
    skipped: int = 0  # --motion-skip: frames the reader did not look at (nothing moved in an empty lane)
    noise_passes: dict[str, int] = field(default_factory=dict)  # passes ended without a decision, by reason
    reconnects: int = 0
    end: RunEnd = RunEnd.RUNNING
    failure: str | None = None  # the source's reason when it failed (credentials already masked)
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    stages: dict[str, deque[float]] = field(default_factory=dict)  # the last STAGE_WINDOW samples of each
    counts: dict[str, int] = field(default_factory=dict)  # every sample, for the summary's n=

    def add(self, stage: str, ms: float) -> None:
        window = self.stages.get(stage)
        if window is None:
            window = self.stages[stage] = deque(maxlen=STAGE_WINDOW)
        window.append(ms)
        self.counts[stage] = self.counts.get(stage, 0) + 1

    @property
    def elapsed_s(self) -> float:
        return (self.ended or time.perf_counter()) - self.started

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        lines = [
            f"frames {self.frames} in {self.elapsed_s:.1f} s = {self.fps:.1f} fps; dropped {self.dropped}; "
            + (f"skipped {self.skipped} (no motion); " if self.skipped else "") +
            f"reconnects {self.reconnects}; decisions {self.decisions} (failed {self.failed_decisions}, "
            f"relay failures {self.relay_failures}); {self.end}" + (f": {self.failure}" if self.failure else "")
        ]
        if self.noise_passes:
            reasons = ", ".join(f"{k} {n}" for k, n in sorted(self.noise_passes.items()))
            lines.append(f"passes without a decision: {reasons}")
        names = [s for s in STAGES if s in self.stages] + sorted(set(self.stages) - set(STAGES))
        for name in names:
            v = np.asarray(self.stages[name])
            p50, p95 = np.percentile(v, 50), np.percentile(v, 95)
            lines.append(f"  {name:<9} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  n={self.counts.get(name, len(v))}")
        return "\n".join(lines)


"""The camera gate process: frames in, one ledger decision per vehicle pass, relay out.

Frame sources (all through OpenCV, or an injected capture factory in tests):
- live (camera index, rtsp/http URL): a background thread keeps only the
  latest frame, so a slow reader drops stale frames instead of building a
  backlog; a read failure reconnects with exponential backoff, forever;
- video file or folder of images (name order): every frame in order, with
  the media clock (frame index / fps) as time, so runs are deterministic;
  ``--max-fps`` paces them instead of dropping.

The loop: read -> tracker (gate.lane.voting) -> for each settled pass: save the
evidence crop, ``ledger.decide`` (committed on return), log one line, pulse
the relay on "open" (retried, never touching the ledger). SIGTERM/SIGINT set
a flag; the frame in hand, and its decision, finish before the loop exits.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from gate.rules.clock import now_utc
from gate.lane.evidence import EvidenceStore
from gate.lane.relay import RetryingRelay
from gate.lane.voting import PassResult, PassTracker
from lpr.plate_format import format_plate

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
FAKE_READER_ENV = "PLATEGATE_FAKE_READER"


# ----------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class Frame:
    t: float  # stream seconds: media time for files/folders, wall seconds since start for live sources
    image: np.ndarray
    index: int


class Capture(Protocol):
    """The slice of cv2.VideoCapture the process uses (fakes in tests provide the same)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[Any], Capture]


@dataclass(frozen=True)
class SourceSpec:
    target: str | int  # what the capture factory opens
    live: bool  # a stream that can drop and come back, vs. a finite recording


def parse_source(text: str | int) -> SourceSpec:
    """'0' -> camera 0 (live); rtsp/http URL -> live; folder or file -> recording."""
    if isinstance(text, int) or str(text).isdigit():
        return SourceSpec(int(text), live=True)
    if str(text).lower().startswith(LIVE_SCHEMES):
        return SourceSpec(str(text), live=True)
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"source {text!r}: no such file or folder")
    return SourceSpec(str(path), live=False)


class FolderCapture:
    """A folder of images in name order, read like a video at ``fps``."""

    def __init__(self, folder: str | Path, fps: float = 10.0) -> None:
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self.fps = fps
        self.pos = 0

    def isOpened(self) -> bool:
        return bool(self.files)

    def read(self) -> tuple[bool, Any]:
        import cv2

        while self.pos < len(self.files):
            img = cv2.imread(str(self.files[self.pos]), cv2.IMREAD_COLOR)
            self.pos += 1
            if img is not None:
                return True, img
            log.warning("source: skipping unreadable image %s", self.files[self.pos - 1])
        return False, None

    def get(self, prop: int) -> float:
        import cv2

        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_COUNT: float(len(self.files))}.get(prop, 0.0)

    def release(self) -> None:
        self.pos = len(self.files)


def open_capture(target: str | int) -> Capture:
    """The default factory: a folder -> FolderCapture, anything else -> cv2.VideoCapture."""
    if isinstance(target, str) and Path(target).is_dir():
        return FolderCapture(target)
    import cv2

    return cv2.VideoCapture(target)


class ReconnectingCapture:
    """Reads frames in order; on failure a live source reconnects with backoff, a recording ends.

    ``give_up_after`` (reconnect attempts) is for tests and batch jobs; a gate
    camera keeps trying forever (None).
    """

    def __init__(
        self,
        spec: SourceSpec,
        factory: CaptureFactory = open_capture,
        *,
        media_clock: bool | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        give_up_after: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.spec = spec
        self.factory = factory
        self.media_clock = (not spec.live) if media_clock is None else media_clock
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.give_up_after = give_up_after
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self._cap: Capture | None = None
        self._fps = 0.0
        self._index = 0
        self._t0 = time.monotonic()

    def _open(self) -> bool:
        try:
            cap = self.factory(self.spec.target)
            if cap is not None and cap.isOpened():
                self._cap = cap
                import cv2

                self._fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                return True
            if cap is not None:
                cap.release()
        except Exception as exc:  # noqa: BLE001 - a camera that cannot open is retried, not fatal
            log.warning("source %s: open failed: %s", self.spec.target, exc)
        return False

    def _release(self) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            except Exception:  # noqa: BLE001
                pass
            self._cap = None

    def _grab(self) -> Any | None:
        if self._cap is None:
            return None
        try:
            ok, img = self._cap.read()
        except Exception as exc:  # noqa: BLE001 - a driver error is a camera loss
            log.warning("source %s: read raised %s", self.spec.target, exc)
            return None
        return img if ok and img is not None else None

    def _reconnect(self) -> bool:
        """Live only: reopen with doubling backoff until it works, we give up, or stop is set."""
        self._release()
        log.warning("source %s: camera lost; reconnecting", self.spec.target)
        delay, attempt = self.backoff_s, 0
        while not self.stop.is_set():
            if self.give_up_after is not None and attempt >= self.give_up_after:
                log.error("source %s: gave up after %d reconnect attempts", self.spec.target, attempt)
                return False
            attempt += 1
            if self._open():
                self.reconnects += 1
                log.warning("source %s: reconnected after %d attempt(s)", self.spec.target, attempt)
                return True
            log.warning("source %s: reconnect attempt %d failed; next in %.1f s", self.spec.target, attempt, delay)
            self.stop.wait(delay)
            delay = min(delay * 2, self.max_backoff_s)
        return False

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a recording / when stopped or given up."""
        if self._cap is None and not self._open():
            if not self.spec.live or not self._reconnect():
                if not self.spec.live:
                    log.error("source %s: cannot open", self.spec.target)
                return None
        while not self.stop.is_set():
            img = self._grab()
            if img is not None:
                frame = Frame(self._time(), img, self._index)
                self._index += 1
                return frame
            if not self.spec.live:
                return None  # end of the recording
            if not self._reconnect():
                return None
        return None

    def _time(self) -> float:
        if self.media_clock:
            fps = self._fps if self._fps > 0 else 10.0
            return self._index / fps
        return time.monotonic() - self._t0

    def close(self) -> None:
        self._release()


class LatestFrameSource:
    """Live sources: a thread reads as fast as frames come and keeps only the newest."""

    def __init__(self, inner: ReconnectingCapture) -> None:
        self.inner = inner
        self.dropped = 0
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._ended = False
        self._thread = threading.Thread(target=self._pump, name="frame-grabber", daemon=True)
        self._thread.start()

    @property
    def reconnects(self) -> int:
        return self.inner.reconnects

    def _pump(self) -> None:
        while not self.inner.stop.is_set():
            frame = self.inner.read()
            with self._cond:
                if frame is None:
                    self._ended = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1  # never consumed: stale, replaced by a newer one
                self._latest = frame
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def read(self) -> Frame | None:
        with self._cond:
            while self._latest is None and not self._ended and not self.inner.stop.is_set():
                self._cond.wait(0.1)
            frame, self._latest = self._latest, None
            return frame

    def close(self) -> None:
        self.inner.stop.set()
        self._thread.join(timeout=2.0)
        self.inner.close()


class InOrderSource:
    """Recordings (and tests): every frame, in order, from the reading thread itself."""

    def __init__(self, inner: ReconnectingCapture) -> None:
        self.inner = inner
        self.dropped = 0

    @property
    def reconnects(self) -> int:
        return self.inner.reconnects

    def read(self) -> Frame | None:
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()


FrameSource = LatestFrameSource | InOrderSource


def make_source(
    spec: SourceSpec,
    stop: threading.Event,
    factory: CaptureFactory = open_capture,
    drop_stale: bool | None = None,
    **kw: Any,
) -> FrameSource:
    """Live -> latest-frame thread; recording -> in order (``drop_stale`` overrides)."""
    inner = ReconnectingCapture(spec, factory, stop=stop, **kw)
    return LatestFrameSource(inner) if (spec.live if drop_stale is None else drop_stale) else InOrderSource(inner)


# ----------------------------------------------------------------------------- stats
@dataclass
class RunStats:
    """Frame rate and per-stage latency, printed when the process exits."""

    frames: int = 0
    decisions: int = 0
    failed_decisions: int = 0
    relay_failures: int = 0
    dropped: int = 0
    reconnects: int = 0
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    stages: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, ms: float) -> None:
        self.stages.setdefault(stage, []).append(ms)

    @property
    def elapsed_s(self) -> float:
        return (self.ended or time.perf_counter()) - self.started

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        lines = [
            f"frames {self.frames} in {self.elapsed_s:.1f} s = {self.fps:.1f} fps; dropped {self.dropped}; "
            f"reconnects {self.reconnects}; decisions {self.decisions} (failed {self.failed_decisions}, "
            f"relay failures {self.relay_failures})"
        ]
        order = ["wait", "detect", "rectify", "ocr", "read", "evidence", "decide", "relay"]
        names = [s for s in order if s in self.stages] + sorted(set(self.stages) - set(order))
        for name in names:
            v = np.asarray(self.stages[name])
            p50, p95 = np.percentile(v, 50), np.percentile(v, 95)
            lines.append(f"  {name:<9} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  n={len(v)}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- the process
class ReaderLike(Protocol):
    def read(self, image: np.ndarray) -> Sequence[Any]: ...


class LedgerLike(Protocol):
    def decide(self, lane: str, plate: str, at: datetime | None = None, confidence: float | None = None,
               char_conf: Sequence[float] | None = None, evidence_path: str | None = None) -> Any: ...


@dataclass
class Outcome:
    """One pass and what the ledger made of it (kept for the demo and tests)."""

    passed: PassResult
    at: datetime
    decision: Any  # gate.rules.decision.Decision
    relay_ok: bool | None  # None: the relay was not pulsed (deny / review)


class GateProcess:
    """One lane's loop. Construct it with injected parts; ``run()`` until the source ends or stop()."""

    def __init__(
        self,
        lane: str,
        source: FrameSource,
        reader: ReaderLike,
        ledger: LedgerLike,
        relay: RetryingRelay,
        tracker: PassTracker | None = None,
        evidence: EvidenceStore | None = None,
        *,
        start_at: datetime | None = None,
        max_fps: float | None = None,
        retention_days: float | None = None,
        retention_every_s: float = 3600.0,
        stop: threading.Event | None = None,
    ) -> None:
        if lane not in ("entry", "exit"):
            raise ValueError(f"lane {lane!r}: expected entry or exit")
        self.lane = lane
        self.source = source
        self.reader = reader
        self.ledger = ledger
        self.relay = relay
        self.tracker = tracker or PassTracker()
        self.evidence = evidence
        self.start_at = start_at or now_utc()
        self.max_fps = max_fps
        self.retention_days = retention_days
        self.retention_every_s = retention_every_s
        self.stop_event = stop or getattr(getattr(source, "inner", None), "stop", None) or threading.Event()
        self.stats = RunStats()
        self.outcomes: deque[Outcome] = deque(maxlen=1000)  # recent decisions; bounded for a gate that runs for months
        self._last_purge = 0.0

    def stop(self, *_: Any) -> None:
        """Signal-safe: the loop finishes the frame (and decision) in hand, then exits."""
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> RunStats:
        self.stats = RunStats()
        self._purge_if_due(force=True)
        period = 1.0 / self.max_fps if self.max_fps else 0.0
        next_at = time.perf_counter()
        ended = False
        try:
            while not self.stop_event.is_set():
                if period:
                    delay = next_at - time.perf_counter()
                    if delay > 0 and self.stop_event.wait(delay):
                        break
                    next_at = max(next_at + period, time.perf_counter())
                t0 = time.perf_counter()
                frame = self.source.read()
                self.stats.add("wait", (time.perf_counter() - t0) * 1e3)
                if frame is None:
                    ended = not self.stop_event.is_set()
                    break
                self._frame(frame)
                self._purge_if_due()
            if ended:  # the recording ended: its last passes are over
                for p in self.tracker.flush():
                    self._decide(p)
        finally:
            self.stats.ended = time.perf_counter()
            self.stats.dropped = self.source.dropped
            self.stats.reconnects = self.source.reconnects
            self.source.close()
        return self.stats

    def _frame(self, frame: Frame) -> None:
        t0 = time.perf_counter()
        try:
            reads = list(self.reader.read(frame.image))
        except Exception:  # noqa: BLE001 - one bad frame must not stop the gate
            log.exception("%s: reader failed on frame %d", self.lane, frame.index)
            reads = []
        self.stats.add("read", (time.perf_counter() - t0) * 1e3)
        self.stats.frames += 1
        if reads:
            for stage, ms in (getattr(reads[0], "timings_ms", None) or {}).items():
                self.stats.add(stage, float(ms))
        for p in self.tracker.feed(frame.t, reads):
            self._decide(p)

    def _decide(self, p: PassResult) -> None:
        at = self.start_at + timedelta(seconds=p.decided_t)
        plate = p.vote.text
        t0 = time.perf_counter()
        evidence_path = None
        if self.evidence is not None:
            try:
                evidence_path = self.evidence.save(self.lane, plate, at, p.crop)
            except Exception:  # noqa: BLE001 - no evidence is better than no decision
                log.exception("%s: could not save evidence for %s", self.lane, plate)
        t1 = time.perf_counter()
        self.stats.add("evidence", (t1 - t0) * 1e3)
        try:
            decision = self.ledger.decide(self.lane, plate, at=at, confidence=p.vote.confidence,
                                          char_conf=p.vote.char_conf, evidence_path=evidence_path)
        except Exception:  # noqa: BLE001 - database down etc.: log loudly, keep the gate running
            self.stats.failed_decisions += 1
            log.exception("%s %s: ledger decision failed; gate stays closed", self.lane, format_plate(plate))
            return
        t2 = time.perf_counter()
        self.stats.add("decide", (t2 - t1) * 1e3)
        self.stats.decisions += 1
        log.info(
            "decision %s %s -> %s (%s) visit=%s due=%s%s votes=%d/%d conf=%.2f pass=%.1fs evidence=%s",
            self.lane, format_plate(plate), decision.action, decision.reason, decision.visit_id,
            decision.amount_due, " flagged" if decision.flagged else "", p.vote.agree, p.vote.reads,
            p.vote.confidence, p.decided_t - p.first_t, evidence_path or "-",
        )
        relay_ok = None
        if decision.action == "open":
            relay_ok = self.relay.pulse(self.lane, {"plate": plate, "visit_id": decision.visit_id,
                                                    "decision_id": getattr(decision, "decision_id", None)})
            self.stats.add("relay", (time.perf_counter() - t2) * 1e3)
            if not relay_ok:
                self.stats.relay_failures += 1
        self.outcomes.append(Outcome(p, at, decision, relay_ok))

    def _purge_if_due(self, force: bool = False) -> None:
        if self.evidence is None or self.retention_days is None:
            return
        now = time.monotonic()
        if force or now - self._last_purge >= self.retention_every_s:
            self._last_purge = now
            try:
                self.evidence.purge(self.retention_days)
            except Exception:  # noqa: BLE001
                log.exception("evidence retention failed")


# ----------------------------------------------------------------------------- test hook
@dataclass
class FixedPlateReader:
    """Test hook ($PLATEGATE_FAKE_READER=<plate> or 1): reads ``plate`` on every non-blank frame.

    Lets the process, its signals and its ledger path be exercised without
    model weights. Never used unless the variable is set.
    """

    plate: str = "1234567"

    def read(self, image: np.ndarray) -> list[Any]:
        from lpr.types import PlateRead

        if image is None or image.size == 0 or float(image.max()) == 0.0:
            return []
        h, w = image.shape[:2]
        box = (w * 0.4, h * 0.6, w * 0.6, h * 0.7)
        corners = np.array([[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]]], np.float32)
        crop = np.ascontiguousarray(image[int(box[1]) : int(box[3]), int(box[0]) : int(box[2])])
        n = len(self.plate)
        return [PlateRead(self.plate, 0.95, (0.95,) * n, corners, box, 0.95, n in (7, 8), crop,
                          {"detect": 0.0, "rectify": 0.0, "ocr": 0.0})]


def make_reader(threads: int = 2) -> ReaderLike:
    """The real lpr.Reader (loaded here, lazily), or the fake when $PLATEGATE_FAKE_READER is set."""
    fake = os.environ.get(FAKE_READER_ENV)
    if fake:
        log.warning("using the fake reader ($%s=%s): test hook, not for a real gate", FAKE_READER_ENV, fake)
        return FixedPlateReader("1234567" if fake in ("1", "true", "yes") else fake.replace("-", ""))
    from lpr import Reader

    return Reader(threads=threads)


def build_process(
    lane: str,
    source: str | int,
    ledger: LedgerLike,
    *,
    reader: ReaderLike | None = None,
    relay: str | None = None,
    evidence_dir: str | Path | None = "evidence",
    retention_days: float | None = None,
    max_fps: float | None = None,
    pass_gap_s: float = 2.0,
    start_at: datetime | None = None,
    factory: CaptureFactory = open_capture,
) -> GateProcess:
    """Wire a lane from options (used by ``gate run`` and the demo). The reader loads here if not given."""
    from gate.lane.relay import make_relay
    from gate.lane.voting import PassConfig

    stop = threading.Event()
    frames = make_source(parse_source(source), stop, factory)
    return GateProcess(
        lane,
        frames,
        reader if reader is not None else make_reader(),
        ledger,
        RetryingRelay(make_relay(relay)),
        PassTracker(PassConfig(pass_gap_s=pass_gap_s)),
        EvidenceStore(Path(evidence_dir)) if evidence_dir else None,
        start_at=start_at,
        max_fps=max_fps,
        retention_days=retention_days,
        stop=stop,
    )

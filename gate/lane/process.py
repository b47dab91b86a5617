"""One lane's camera process: frames in, one ledger decision per vehicle pass, relay out.

The loop: read a frame (gate.lane.sources) -> reader -> tracker
(gate.lane.voting) -> for each settled pass: save the evidence crop,
``ledger.decide`` (committed on return), log one line, hand the relay pulse
to its worker thread when the decision opens (retried there, never touching
the ledger, never holding up the next car). SIGTERM/SIGINT set a flag; the
frame in hand, and its decision, finish before the loop exits.

In stills mode (gate.lane.stills) each image is one pass and the source is
told when its decision is committed, so it can move the file away.

Under systemd (gate.notify) the loop says READY=1 once the reader is loaded
and the source gave its first frame (a stills folder: at once), keeps the
watchdog fed while it makes progress, and says STOPPING=1 on its way out.
SIGHUP reloads the config (gate.reload) between two frames; with
``motion`` the reader skips frames where nothing moved in an empty lane
(gate.lane.motion).

``build_process`` wires a lane from the CLI's options and validates them in
one place (ValueError naming the value: `gate run` exits 2); the reader,
the capture factory and the clock are injected, so tests run it with fakes.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from gate.lane.commands import Claim, CommandPoller
from gate.lane.evidence import EvidenceStore
from gate.lane.motion import MotionGate
from gate.lane.redact import RedactingFormatter, redact
from gate.lane.relay import DEFAULT_MAX_AGE_S, DEFAULT_TIMEOUT_S, RelayWorker, RetryingRelay, make_relay
from gate.lane.sources import CaptureFactory, Frame, FrameSource, make_source, open_capture, parse_source
from gate.lane.stats import RunEnd, RunStats
from gate.lane.stills import StillPasses, StillsConfig, StillsSource
from gate.lane.voting import NoisePass, PassConfig, PassResult, PassTracker, ReadLike
from gate.notify import Notifier, Watchdog
from gate.reload import ConfigReloader
from gate.rules.clock import now_utc
from gate.rules.codes import Lane
from gate.rules.decision import Decision
from gate.rules.votes import PlateVote, gate_id
from gate.store.evidence import EvidenceFile
from lpr.plate_format import format_plate

log = logging.getLogger(__name__)


class TimedRead(ReadLike, Protocol):
    """What the process needs of lpr.types.PlateRead: the tracker's fields and the stage timings."""

    @property
    def timings_ms(self) -> Mapping[str, float]: ...


class ReaderLike(Protocol):
    """lpr.Reader, or a fake in tests (tests/gate/lane/lane_fakes.py)."""

    def read(self, image: np.ndarray) -> Sequence[TimedRead]: ...


class LedgerLike(Protocol):
    """gate.store.ledger.Ledger as the process uses it."""

    def decide(
        self,
        lane: Lane,
        plate: str,
        at: datetime | None = None,
        confidence: float | None = None,
        char_conf: Sequence[float] | None = None,
        evidence_path: str | None = None,
        *,
        gate: str | None = None,
        votes: Sequence[PlateVote] | None = None,
        evidence: Sequence[EvidenceFile] = (),
        doubt: str | None = None,
    ) -> Decision: ...


class Passes(Protocol):
    """Frames' reads -> passes to decide: PassTracker (video) or StillPasses (one still, one pass)."""

    dropped: Counter[NoisePass]  # passes that ended without a decision, by reason

    @property
    def gap_s(self) -> float:
        """How long after its last read a pass may end normally (0 for stills)."""
        ...

    def feed(self, t: float, reads: Sequence[ReadLike], image: np.ndarray | None = None) -> list[PassResult]: ...
    def flush(self, t: float | None = None) -> list[PassResult]: ...


@dataclass(frozen=True)
class Outcome:
    """One pass and what the ledger made of it (kept for the demo and tests)."""

    passed: PassResult
    at: datetime
    decision: Decision
    pulse: Future[bool] | None  # None: the relay was not pulsed (deny / review)

    @property
    def relay_ok(self) -> bool | None:
        """Whether the barrier got its pulse (waits for the relay worker); None when not pulsed."""
        return None if self.pulse is None else self.pulse.result()


class GateProcess:
    """One lane's loop. Construct it with injected parts; ``run()`` until the source ends or stop()."""

    def __init__(
        self,
        lane: Lane,
        source: FrameSource,
        reader: ReaderLike,
        ledger: LedgerLike,
        relay: RetryingRelay,
        tracker: Passes | None = None,
        evidence: EvidenceStore | None = None,
        *,
        start_at: datetime | None = None,
        max_fps: float | None = None,
        retention_days: float | None = None,
        retention_every_s: float = 3600.0,
        relay_max_age_s: float = DEFAULT_MAX_AGE_S,
        gate: str | None = None,
        commands: Claim | None = None,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        notifier: Notifier | None = None,
        ready_at_first_frame: bool = True,
        reloader: ConfigReloader | None = None,
        motion: MotionGate | None = None,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        try:
            self.lane = Lane(lane)
        except ValueError:
            raise ValueError(f"lane {lane!r}: expected entry or exit") from None
        self.source = source
        self.reader = reader
        self.ledger = ledger
        self.relay = relay
        self.tracker: Passes = tracker or PassTracker()
        self.evidence = evidence
        self.gate = gate_id(gate or self.lane.value)  # the barrier's id in the ledger (--gate)
        self.commands = commands  # claims this gate's manual opens (gate.lane.commands); None: not polled
        self.start_at = start_at or now_utc()
        # a live camera or stills: each frame re-anchors stream time to this wall clock, so a step of the box's
        # clock (NTP syncing a box that booted without one) dates the next decision right; anchored once at
        # start, exits were dated an hour early until a restart. Recordings keep start_at + media time.
        self.wall = wall
        self.max_fps = max_fps
        self.retention_days = retention_days
        self.retention_every_s = retention_every_s
        self.relay_max_age_s = relay_max_age_s
        self.stop_event = stop or source.stop
        self.clock = clock  # seconds, for the retention schedule; tests pass a fake one
        self.stats = RunStats()
        self.outcomes: deque[Outcome] = deque(maxlen=1000)  # recent decisions; bounded for a gate that runs for months
        self._last_purge = 0.0
        self.notifier = notifier or Notifier.from_env()
        self.ready_at_first_frame = ready_at_first_frame  # False: a stills folder, whose first car may be hours away
        self.reloader = reloader
        self.motion = motion

    def stop(self, _signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal-safe: the loop finishes the frame (and decision) in hand, then exits."""
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        if self.reloader is not None:
            signal.signal(signal.SIGHUP, self.reloader.request)

    def run(self) -> RunStats:
        self.stats = RunStats()
        self._pulses = RelayWorker(self.relay, self.relay_max_age_s)
        poll_stop = threading.Event()
        self.poller = None
        if self.commands is not None:
            self.poller = CommandPoller(self.lane, self.gate, self.commands, self._pulses.submit)
            self.poller.start(poll_stop)
        self._purge_if_due(force=True)
        period = 1.0 / self.max_fps if self.max_fps else 0.0
        next_at = time.perf_counter()
        ended = False
        watchdog = Watchdog(self.notifier)
        watchdog.start()
        ready = False
        if not self.ready_at_first_frame:
            ready = self._ready()
        try:
            while not self.stop_event.is_set():
                watchdog.beat()
                if period:
                    delay = next_at - time.perf_counter()
                    with watchdog.waiting():
                        if delay > 0 and self.stop_event.wait(delay):
                            break
                    next_at = max(next_at + period, time.perf_counter())
                t0 = time.perf_counter()
                with watchdog.waiting():
                    frame = self.source.read()
                self.stats.add("wait", (time.perf_counter() - t0) * 1e3)
                if frame is None:
                    ended = not self.stop_event.is_set()
                    break
                ready = ready or self._ready()
                if self.wall is not None and not frame.late:  # a late still keeps the anchor of its time
                    self.start_at = self.wall() - timedelta(seconds=frame.t)
                self._reload_if_asked()
                self.source.done(frame, self._frame(frame))
                self._purge_if_due()
            if ended:  # the recording ended: its last passes are over
                self._reload_if_asked()
                for p in self.tracker.flush():
                    self._decide(p)
        finally:
            self.notifier.stopping()
            watchdog.stop()
            self.source.close()
            poll_stop.set()
            if self.poller is not None:
                self.poller.join()
            self._pulses.close()  # the pulses handed over are delivered (or given up) before we exit
            self.stats.ended = time.perf_counter()
            self.stats.dropped = self.source.dropped
            self.stats.noise_passes = {str(k): n for k, n in self.tracker.dropped.items()}
            self.stats.reconnects = self.source.reconnects
            self.stats.failure = self.source.failure
            self.stats.end = (RunEnd.SOURCE_FAILED if self.source.failure
                              else RunEnd.ENDED if ended else RunEnd.STOPPED)
        return self.stats

    def _ready(self) -> bool:
        """READY=1 for systemd (Type=notify): the reader is loaded and the source is up."""
        self.notifier.ready(f"lane {self.lane}: reading {self.source.name}")
        return True

    def _reload_if_asked(self) -> None:
        """SIGHUP came: the config is read again now, between two decisions (gate.reload)."""
        if self.reloader is not None and self.reloader.requested:
            self.notifier.send("RELOADING=1")
            self.reloader.apply_if_requested()
            self.notifier.ready()

    def _frame(self, frame: Frame) -> bool:
        """Read one frame and decide the passes it settles; False when a decision could not be committed."""
        t0 = time.perf_counter()
        reads: list[TimedRead]
        if self.motion is not None and not self.motion.should_read(frame.image):
            self.stats.skipped += 1  # nothing moved in an empty lane: a frame without plates
            reads = []
        else:
            try:
                reads = list(self.reader.read(frame.image))
            except Exception:  # noqa: BLE001 - one bad frame must not stop the gate
                log.exception("%s: reader failed on frame %d", self.lane, frame.index)
                reads = []
            if self.motion is not None:
                self.motion.saw(bool(reads))
            self.stats.add("read", (time.perf_counter() - t0) * 1e3)
        self.stats.frames += 1
        if reads:
            for stage, ms in reads[0].timings_ms.items():
                self.stats.add(stage, float(ms))
        ready = self.tracker.feed(frame.t, reads, frame.image)
        if frame.origin and not ready:
            log.warning("%s: no plate read in %s", self.lane, redact(frame.origin))
        return all([self._decide(p, frame.origin, frame.late) for p in ready])

    def _decide(self, p: PassResult, origin: str = "", late: bool = False) -> bool:
        at = self.start_at + timedelta(seconds=p.decided_t)
        plate = p.vote.text
        # the pulse's max age runs from here: a remote ledger's retries once took 13 s and the pulse still went
        due = self._pulses.clock()
        t0 = time.perf_counter()
        saved: list[EvidenceFile] = []
        if self.evidence is not None:  # save_pass warns about an image it cannot write, never raises
            saved = self.evidence.save_pass(self.lane, plate, at, p.frame, p.crop)
        evidence_path = ",".join(e.file for e in saved) or None
        t1 = time.perf_counter()
        self.stats.add("evidence", (t1 - t0) * 1e3)
        try:
            decision = self.ledger.decide(self.lane, plate, at=at, confidence=p.vote.confidence,
                                          char_conf=p.vote.char_conf, gate=self.gate, votes=list(p.votes),
                                          evidence=saved, doubt=p.doubt)
        except Exception:  # noqa: BLE001 - database down etc.: log loudly, keep the gate running
            self.stats.failed_decisions += 1
            log.exception("%s %s: ledger decision failed; gate stays closed", self.lane, format_plate(plate))
            return False
        t2 = time.perf_counter()
        self.stats.add("decide", (t2 - t1) * 1e3)
        self.stats.decisions += 1
        log.info(
            "decision %s %s -> %s (%s) visit=%s due=%s%s votes=%d/%d conf=%.2f pass=%.1fs evidence=%s%s",
            self.lane, format_plate(plate), decision.action, decision.reason, decision.visit_id,
            decision.amount_due, " flagged" if decision.flagged else "", p.vote.agree, p.vote.reads,
            p.vote.confidence, p.decided_t - p.first_t, evidence_path or "-",
            f" still={redact(Path(origin).name)}" if origin else "",
        )
        pulse = None
        # A pass decided long after its car's last read (the camera dropped mid-pass and came back, or gave
        # up and its passes were flushed) is not the car at the barrier now: a pulse would open for whoever
        # stands there. The decision stands; an attendant opens by hand, as for a relay that failed.
        since_last = p.decided_t - p.last_t
        if decision.opens and late:  # not a relay failure: its failed decision (if any) was logged as an error
            log.warning("relay %s: not pulsed, a still decided late (tried again, or waiting since before the "
                        "start): its car is gone or waits for an attendant (plate=%s visit=%s)", self.lane,
                        format_plate(plate), decision.visit_id)
        elif decision.opens and (since_last > self.tracker.gap_s + self.relay_max_age_s or self.source.failure):
            self.stats.relay_failures += 1
            log.error("relay %s: not pulsed, the pass's last read was %.0f s before its decision%s; decision "
                      "stands, open by hand (plate=%s visit=%s)", self.lane, since_last,
                      " and the camera is gone" if self.source.failure else "", format_plate(plate),
                      decision.visit_id)
        elif decision.opens:
            pulse = self._pulses.submit(self.lane, {"plate": plate, "visit_id": decision.visit_id,
                                                    "decision_id": decision.decision_id}, due)
            pulse.add_done_callback(lambda f: self._pulsed(f, t2))
        # the full frame is in the evidence folder by now: kept here, 1000 of them held 2.7 GB (the soak test
        # saw RSS grow 45 MB a minute on a looped clip)
        self.outcomes.append(Outcome(replace(p, frame=None), at, decision, pulse))
        return True

    def _pulsed(self, pulse: Future[bool], handed_over: float) -> None:
        """On the relay worker: the pulse's latency from the decision, and whether it failed."""
        self.stats.add("relay", (time.perf_counter() - handed_over) * 1e3)
        if not pulse.result():
            self.stats.relay_failures += 1

    def _purge_if_due(self, force: bool = False) -> None:
        if self.evidence is None or self.retention_days is None:
            return
        now = self.clock()
        if force or now - self._last_purge >= self.retention_every_s:
            self._last_purge = now
            try:
                self.evidence.purge(self.retention_days)
            except Exception:  # noqa: BLE001
                log.exception("evidence retention failed")


def log_to_stderr(level: int = logging.INFO) -> None:
    """The lane's log: one line per decision from this module; the ledger's own line is muted.

    Every line goes through RedactingFormatter: no camera or relay password reaches the log.
    """
    logging.basicConfig(level=level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("gate.store.ledger").setLevel(logging.WARNING)


def build_process(
    lane: Lane,
    source: str | int,
    ledger: LedgerLike,
    *,
    reader: ReaderLike | None = None,
    relay: str | None = None,
    relay_timeout_s: float = DEFAULT_TIMEOUT_S,
    evidence_dir: str | Path | None = "evidence",
    retention_days: float | None = None,
    max_fps: float | None = None,
    pass_gap_s: float = 2.0,
    give_up_after: int | None = None,
    stills: StillsConfig | None = None,
    start_at: datetime | None = None,
    factory: CaptureFactory = open_capture,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] | None = None,
    loop: bool = False,
    motion_skip: bool = False,
    reloader: ConfigReloader | None = None,
    notifier: Notifier | None = None,
    threads: int = 2,
    gate: str | None = None,
    commands: Claim | None = None,
) -> GateProcess:
    """Wire a lane from options (used by ``gate run`` and the demo); a bad option is a ValueError naming it.

    ``stills`` (a folder only) makes each image one pass (gate.lane.stills). ``give_up_after``: a live
    camera's reconnect attempts in a row before the process ends as SOURCE_FAILED (None: forever).
    Without ``reader`` the real lpr.Reader loads here (ONNX Runtime, OpenCV); tests and the demo's
    ``--fake-reader`` pass their own. ``loop``: a recording starts again at its end (soak tests, benchmarks;
    each start counts as a reconnect). ``motion_skip``: see gate.lane.motion. A live camera or stills are dated
    by the wall clock as each frame comes (GateProcess ``wall``), unless ``start_at`` fixes the timeline.
    """
    try:
        lane = Lane(lane)
    except ValueError:
        raise ValueError(f"lane {lane!r}: expected entry or exit") from None
    spec = parse_source(source)
    if stills is not None and (spec.live or not Path(str(spec.target)).is_dir()):
        raise ValueError(f"source {spec.name!r}: stills mode expects a folder of images")
    if give_up_after is not None and give_up_after < 0:
        raise ValueError(f"reconnect attempts {give_up_after!r}: expected 0 or more")
    if stills is not None and (loop or motion_skip):
        raise ValueError(f"{'--loop' if loop else '--motion-skip'}: expected a video source, not --stills")
    if threads < 1:
        raise ValueError(f"threads {threads!r}: expected 1 or more")
    if loop and spec.live:
        raise ValueError(f"--loop: source {spec.name!r} is a live camera, expected a recording")
    gate = gate_id(gate or lane.value)
    pulses = RetryingRelay(make_relay(relay, relay_timeout_s))
    evidence = _evidence_store(evidence_dir, getattr(ledger, "expire_evidence", None))
    stop = threading.Event()
    frames: FrameSource
    passes: Passes
    if stills is not None:
        frames, passes = StillsSource(str(spec.target), stills, stop=stop, clock=clock, sleep=sleep), StillPasses()
    else:
        frames = make_source(spec, stop, factory, give_up_after=give_up_after, loop=loop)
        passes = PassTracker(PassConfig(pass_gap_s=pass_gap_s))
    if reader is None:
        import cv2

        from lpr import Reader

        cv2.setNumThreads(threads)  # OpenCV's pool would otherwise take every core of a box shared by lanes
        reader = Reader(threads=threads)
    return GateProcess(lane, frames, reader, ledger, pulses, passes, evidence, start_at=start_at, max_fps=max_fps,
                       retention_days=retention_days, stop=stop, clock=clock, notifier=notifier,
                       ready_at_first_frame=stills is None, reloader=reloader,
                       motion=MotionGate() if motion_skip else None, gate=gate, commands=commands,
                       wall=now_utc if start_at is None and (spec.live or stills is not None) else None)


def _evidence_store(
    folder: str | Path | None, expire: Callable[[Sequence[str]], object] | None = None
) -> EvidenceStore | None:
    """The evidence folder, created now: one that cannot be written is a bad option, not a failure per car."""
    if not folder:
        return None
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"evidence dir {redact(str(path))!r}: cannot create it ({exc.strerror or exc}), "
                         "expected a writable folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"evidence dir {redact(str(path))!r}: not writable, expected a writable folder")
    return EvidenceStore(path, expire)

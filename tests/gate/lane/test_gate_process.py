"""The camera loop (gate.lane.process.GateProcess) with fake captures and readers on a real SQLite ledger.

No test sleeps or polls: threads meet through events, and time is the media clock or an injected one.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lane_fakes import FrameScriptReader, ScriptedCapture, capture_factory, frame, plate_read
from sqlalchemy import select

from gate.lane.evidence import EvidenceStore
from gate.lane.process import GateProcess
from gate.lane.relay import RelayWorker, RetryingRelay, SimulatedRelay
from gate.lane.sources import SourceSpec, make_source
from gate.lane.voting import PassTracker
from gate.store.models import evidence

START = datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)


class BrokenRelay:
    def __init__(self) -> None:
        self.tries = 0

    def pulse(self, lane: str, info: dict) -> None:
        self.tries += 1
        raise ConnectionError("relay controller unreachable")


def make_process(ledger, sessions, script, *, lane="entry", live=False, relay=None, evidence=None,
                 **options) -> GateProcess:
    stop = threading.Event()
    source = make_source(SourceSpec("fake-camera", live=live), stop, capture_factory(sessions), drop_stale=False,
                         media_clock=True, backoff_s=0.001, give_up_after=2)
    reader = script if isinstance(script, FrameScriptReader) else FrameScriptReader(script)
    return GateProcess(lane, source, reader, ledger,
                       RetryingRelay(relay or SimulatedRelay(), sleep=lambda s: None), PassTracker(), evidence,
                       start_at=START, stop=stop, **options)


def test_one_decision_for_a_car_standing_60_frames(ledger):
    script = {i: [plate_read("1234567")] for i in range(60)}
    process = make_process(ledger, [ScriptedCapture(list(range(60)))], script)
    stats = process.run()
    assert stats.frames == 60
    assert [o.decision.plate for o in process.outcomes] == ["1234567"]
    assert len(ledger.decisions()) == 1


def test_voting_fixes_a_misread_before_the_ledger_sees_it(ledger):
    texts = ["1234567", "1234567", "1234587", "1234567", "1234567", "1234567"]
    script = {i: [plate_read(t)] for i, t in enumerate(texts)}
    process = make_process(ledger, [ScriptedCapture(list(range(6)))], script)
    process.run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567"]


def test_camera_loss_and_return(ledger, caplog):
    # camera 1: car A, then the camera dies; one reopen fails; camera 2: car B; then it is gone for good
    script = {i: [plate_read("1234567")] for i in range(15)}
    script.update({i: [plate_read("7654321")] for i in range(100, 115)})
    sessions = [ScriptedCapture(list(range(20)), fail="raise"), OSError("no route to camera"),
                ScriptedCapture(list(range(100, 120)), fail="false")]
    process = make_process(ledger, sessions, script, live=True)
    with caplog.at_level(logging.WARNING, logger="gate.lane.sources"):
        stats = process.run()
    assert [o.decision.plate for o in process.outcomes] == ["1234567", "7654321"]
    assert stats.reconnects == 1 and stats.frames == 40
    assert "camera lost" in caplog.text and "reconnected" in caplog.text


def test_a_recording_that_ends_is_not_reconnected(ledger, caplog):
    script = {i: [plate_read("1234567")] for i in range(5)}
    sessions = [ScriptedCapture(list(range(5))), ScriptedCapture(list(range(5)))]
    process = make_process(ledger, sessions, script, live=False)
    with caplog.at_level(logging.WARNING, logger="gate.lane.sources"):
        stats = process.run()
    assert stats.frames == 5 and stats.reconnects == 0 and "camera lost" not in caplog.text


def test_relay_failure_does_not_lose_the_decision(ledger, caplog):
    relay = BrokenRelay()
    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], script, relay=relay)
    with caplog.at_level(logging.INFO):
        stats = process.run()
    assert relay.tries == 3  # retried
    assert stats.relay_failures == 1 and process.outcomes[0].relay_ok is False
    (visit,) = ledger.visits(plate="1234567")
    assert visit.state == "open"  # the entry stands: the ledger is untouched by the relay
    assert [d["action"] for d in ledger.decisions()] == ["open"]
    assert "decision entry 12-345-67 -> open" in caplog.text and "gave up after 3 tries" in caplog.text


def test_a_pass_decided_long_after_its_last_read_never_pulses(ledger, caplog):
    # two cars, each read twice (too few to settle). The first pass ends on the next frame after the usual gap
    # and pulses; the second's next frame comes a minute later (the camera was gone): the car that stood there
    # may have been let out by hand, another may stand there now
    relay = SimulatedRelay()
    process = make_process(ledger, [], {}, relay=relay)
    process._pulses = RelayWorker(process.relay, process.relay_max_age_s)  # as run() makes it
    decided = []
    with caplog.at_level(logging.ERROR):
        for t, reads in [(0.0, ["1234567"]), (0.1, ["1234567"]), (2.2, []), (3.0, ["7654321"]), (3.1, ["7654321"]),
                         (63.0, [])]:
            for p in process.tracker.feed(t, [plate_read(x) for x in reads]):
                decided.append(process._decide(p))
    process._pulses.close()
    assert [(o.decision.plate, o.decision.action) for o in process.outcomes] == [("1234567", "open"),
                                                                                ("7654321", "open")]
    assert relay.pulses == 1 and process.outcomes[1].pulse is None  # only the first car's pass pulsed
    assert "not pulsed" in caplog.text and "open by hand" in caplog.text


def test_a_decision_slower_than_the_pulses_max_age_never_pulses(ledger, caplog):
    """The max age ran from the hand-over, after the decision: a remote ledger's retries once took 13 s and
    the barrier still opened, for whichever car stood there by then."""
    now = [100.0]
    relay = SimulatedRelay()

    class SlowLedger:
        def __init__(self, took_s: float) -> None:
            self.took_s = took_s

        def decide(self, *args, **kwargs):
            now[0] += self.took_s  # the ledger's answer came this much later
            return ledger.decide(*args, **kwargs)

    for plate, took_s in [("1234567", 1.0), ("2345678", 5.5), ("7654321", 13.0)]:
        process = make_process(SlowLedger(took_s), [], {})
        process.relay = RetryingRelay(relay, sleep=lambda s: None, clock=lambda: now[0])
        process._pulses = RelayWorker(process.relay, process.relay_max_age_s)  # as run() makes it
        with caplog.at_level(logging.WARNING):
            reads = [process.tracker.feed(t, [plate_read(plate)]) for t in (0.0, 0.1, 0.2)]
            for p in [p for ready in reads for p in ready] + process.tracker.flush():
                process._decide(p)
        process._pulses.close()
    assert [d["action"] for d in ledger.decisions()] == ["open", "open", "open"]
    assert relay.pulses == 2  # not the last: its pulse was 13 s old before it was sent (a lock wait of 5.5 s is)


def test_a_live_lane_dates_decisions_by_the_wall_clock_as_it_steps(ledger):
    """Anchored once at start, a box that booted an hour slow dated exits an hour early until a restart
    (a paid car's grace stretched, an unpaid one let out); each frame now re-anchors to the wall clock."""
    wall = [START]
    script = {i: [plate_read("1234567" if i < 10 else "7654321")] for i in range(20)}
    process = make_process(ledger, [ScriptedCapture(list(range(20)))], script, wall=lambda: wall[0])

    class Stepping(FrameScriptReader):
        def read(self, image):
            if int(image[0, 0, 0]) == 10:  # NTP steps the clock an hour forward before the second car
                wall[0] = START + timedelta(hours=1)
            return super().read(image)

    process.reader = Stepping(script)
    process.run()
    first, second = [o.decision.at for o in process.outcomes]
    assert abs((first - START).total_seconds()) < 5
    assert abs((second - START - timedelta(hours=1)).total_seconds()) < 5


def test_deny_and_review_never_pulse_the_relay(ledger):
    relay = SimulatedRelay()
    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], script, lane="exit", relay=relay)
    process.run()
    assert process.outcomes[0].decision.action == "review" and relay.pulses == 0


def test_evidence_is_saved_and_recorded_with_its_decision(ledger, tmp_path: Path):
    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], script,
                           evidence=EvidenceStore(tmp_path / "evidence"))
    process.run()
    saved = sorted((tmp_path / "evidence" / "entry").glob("*_1234567_*.jpg"))
    assert [p.name.split("_")[3] for p in saved] == ["frame", "plate"]
    with ledger.engine.connect() as conn:
        files = conn.execute(select(evidence.c.file).order_by(evidence.c.kind)).scalars().all()
    assert [tmp_path / "evidence" / f for f in files] == saved


def test_stop_finishes_the_frame_in_hand_and_exits(ledger):
    """stop() (the SIGTERM handler) from another thread: the loop ends promptly, decision committed."""

    class SignallingRelay(SimulatedRelay):
        """Tells the test when the first decision has been committed and the barrier pulsed."""

        def __init__(self) -> None:
            super().__init__()
            self.pulsed = threading.Event()

        def pulse(self, lane: str, info: dict) -> None:
            super().pulse(lane, info)
            self.pulsed.set()

    relay = SignallingRelay()
    reader = FrameScriptReader({}, default=[plate_read("1234567")])
    process = make_process(ledger, [ScriptedCapture(list(range(60000)))], reader, relay=relay)
    runner = threading.Thread(target=process.run)
    runner.start()
    assert relay.pulsed.wait(timeout=30)
    process.stop()
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert len(ledger.decisions()) == 1 and process.stats.frames < 60000


class GatedCapture(ScriptedCapture):
    """An endless live camera that delivers frames only when the test lets it, and says when it waits."""

    def __init__(self) -> None:
        super().__init__([])
        self.allowed = 0
        self.cond = threading.Condition()
        self.waiting = threading.Event()
        self.closed = False

    def allow(self, n: int) -> None:
        with self.cond:
            self.waiting.clear()
            self.allowed += n
            self.cond.notify_all()

    def read(self):
        with self.cond:
            while self.pos >= self.allowed and not self.closed:
                self.waiting.set()  # every allowed frame has been handed over (and stored by the grabber)
                self.cond.wait()
            if self.closed:
                return False, None
            self.pos += 1
            return True, frame(self.pos)

    def release(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def test_live_sources_drop_stale_frames_instead_of_queueing():
    camera = GatedCapture()
    stop = threading.Event()
    source = make_source(SourceSpec(0, live=True), stop, lambda _t: camera)
    try:
        got = []
        for _ in range(3):
            camera.allow(5)  # five frames arrive while the reader is busy elsewhere
            assert camera.waiting.wait(timeout=30)
            got.append(source.read().index)
    finally:
        stop.set()
        camera.release()
        source.close()
    assert got == [4, 9, 14]  # always the newest frame
    assert source.dropped == 12  # the four older frames of each burst were never queued


def test_evidence_retention_runs_at_start_then_once_per_period(ledger, tmp_path: Path):
    class CountingStore(EvidenceStore):
        purges = 0

        def purge(self, days: float, now: float | None = None) -> int:
            self.purges += 1
            return 0

    clock = iter([0.0, 100.0, 3599.0, 3600.0, 3700.0] + [3700.0] * 100).__next__
    store = CountingStore(tmp_path / "evidence")
    process = make_process(ledger, [ScriptedCapture(list(range(4)))], {}, evidence=store,
                           retention_days=30, retention_every_s=3600.0, clock=clock)
    process.run()
    assert store.purges == 2  # at start (t=0) and when an hour had passed (t=3600), not in between

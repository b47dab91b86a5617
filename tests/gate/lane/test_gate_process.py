"""The camera loop (gate.lane.process.GateProcess) with fake captures and readers on a real SQLite ledger."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from gate_run_fakes import FrameScriptReader, ScriptedCapture, capture_factory, frame, plate_read
from sqlalchemy import select

from gate.lane.process import GateProcess, SourceSpec, make_source
from gate.lane.evidence import EvidenceStore
from gate.store.models import reads
from gate.lane.relay import RetryingRelay, SimulatedRelay
from gate.lane.voting import PassTracker

START = datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)


class BrokenRelay:
    def __init__(self) -> None:
        self.tries = 0

    def pulse(self, lane: str, info: dict) -> None:
        self.tries += 1
        raise ConnectionError("relay controller unreachable")


def make_process(ledger, sessions, script, *, lane="entry", live=False, relay=None, evidence=None) -> GateProcess:
    stop = threading.Event()
    source = make_source(SourceSpec("fake-camera", live=live), stop, capture_factory(sessions), drop_stale=False,
                         media_clock=True, backoff_s=0.001, give_up_after=2)
    reader = script if isinstance(script, FrameScriptReader) else FrameScriptReader(script)
    return GateProcess(lane, source, reader, ledger,
                       RetryingRelay(relay or SimulatedRelay(), sleep=lambda s: None), PassTracker(), evidence,
                       start_at=START, stop=stop)


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
    with caplog.at_level(logging.WARNING, logger="gate.lane.process"):
        stats = process.run()
    assert [o.decision.plate for o in process.outcomes] == ["1234567", "7654321"]
    assert stats.reconnects == 1 and stats.frames == 40
    assert "camera lost" in caplog.text and "reconnected" in caplog.text


def test_a_recording_that_ends_is_not_reconnected(ledger, caplog):
    script = {i: [plate_read("1234567")] for i in range(5)}
    sessions = [ScriptedCapture(list(range(5))), ScriptedCapture(list(range(5)))]
    process = make_process(ledger, sessions, script, live=False)
    with caplog.at_level(logging.WARNING, logger="gate.lane.process"):
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


def test_deny_and_review_never_pulse_the_relay(ledger):
    relay = SimulatedRelay()
    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], script, lane="exit", relay=relay)
    process.run()
    assert process.outcomes[0].decision.action == "review" and relay.pulses == 0


def test_evidence_is_saved_and_its_path_recorded(ledger, tmp_path: Path):
    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], script,
                           evidence=EvidenceStore(tmp_path / "evidence"))
    process.run()
    saved = list((tmp_path / "evidence" / "entry").glob("*_1234567.jpg"))
    assert len(saved) == 1
    with ledger.engine.connect() as conn:
        assert conn.execute(select(reads.c.evidence_path)).scalars().all() == [str(saved[0])]


def test_stop_finishes_the_frame_in_hand_and_exits(ledger):
    """stop() (the SIGTERM handler) from another thread: the loop ends promptly, decision committed."""
    reader = FrameScriptReader({}, default=[plate_read("1234567")])
    process = make_process(ledger, [ScriptedCapture(list(range(60000)))], reader)
    process.max_fps = 100.0
    runner = threading.Thread(target=process.run)
    runner.start()
    deadline = time.monotonic() + 10
    while not process.outcomes and time.monotonic() < deadline:
        time.sleep(0.01)
    process.stop()
    runner.join(timeout=5)
    assert not runner.is_alive()
    assert len(ledger.decisions()) == 1 and process.stats.frames < 60000


def test_live_sources_drop_stale_frames_instead_of_queueing():
    class Endless(ScriptedCapture):
        def read(self):
            time.sleep(0.001)
            self.pos += 1
            return True, frame(self.pos % 60000)

    stop = threading.Event()
    source = make_source(SourceSpec(0, live=True), stop, lambda _t: Endless([]))
    try:
        got = []
        for _ in range(5):
            f = source.read()
            got.append(f.index)
            time.sleep(0.05)  # a slow reader
    finally:
        source.close()
    assert source.dropped > 0
    assert got == sorted(got) and got[-1] - got[0] > 4  # it skipped ahead to the newest frames

"""A lane names its gate, keeps each pass's votes and its frame and plate images, lets retention expire
them, and turns an operator's manual open into one relay pulse (fake relay, injected waits, no sleeps)."""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from lane_fakes import FrameScriptReader, ScriptedCapture, capture_factory, plate_read
from test_gate_process import START

from gate.lane.commands import CommandPoller
from gate.lane.evidence import EvidenceStore
from gate.lane.process import GateProcess
from gate.lane.relay import RetryingRelay, SimulatedRelay
from gate.lane.sources import SourceSpec, make_source
from gate.lane.voting import PassTracker
from gate.rules.clock import now_utc
from gate.store.commands import GateCommands
from gate.store.evidence import sniff


def big_frame(i: int) -> np.ndarray:
    img = np.full((1080, 1920, 3), 60, np.uint8)
    img[0, 0, 0], img[0, 0, 1] = i % 256, i // 256
    return img


class BigCapture(ScriptedCapture):
    def read(self):
        ok, small = super().read()
        return (ok, big_frame(int(small[0, 0, 0]))) if ok else (ok, small)


def lane(ledger, script, *, gate=None, evidence=None, frames=10, relay=None, commands=None):
    stop = threading.Event()
    source = make_source(SourceSpec("fake-camera", live=False), stop, capture_factory([BigCapture(list(range(frames)))]),
                         drop_stale=False, media_clock=True, backoff_s=0.001, give_up_after=1)
    return GateProcess("entry", source, FrameScriptReader(script), ledger,
                       RetryingRelay(relay or SimulatedRelay(), sleep=lambda s: None), PassTracker(), evidence,
                       start_at=START, stop=stop, gate=gate, commands=commands)


def test_the_lane_decides_at_its_gate_with_the_pass_votes(ledger):
    texts = ["1234567", "1234567", "1234587", "1234567", "1234567"]
    process = lane(ledger, {i: [plate_read(t)] for i, t in enumerate(texts)}, gate="north-entry")
    process.run()
    (decision,) = ledger.decisions()
    assert (decision["gate"], decision["plate"]) == ("north-entry", "1234567")
    assert decision["votes"] == [{"plate": "1234567", "frames": 3, "score": 0.75},
                                 {"plate": "1234587", "frames": 1, "score": 0.25}]
    assert ledger.visit(decision["visit_id"]).entry_gate == "north-entry"


def test_without_gate_the_lane_name_is_the_gate(ledger):
    lane(ledger, {i: [plate_read("1234567")] for i in range(5)}).run()
    assert ledger.decisions()[0]["gate"] == "entry"


def test_each_decision_keeps_a_downscaled_frame_and_the_plate(ledger, tmp_path: Path):
    store = EvidenceStore(tmp_path / "evidence", expire=ledger.expire_evidence)
    lane(ledger, {i: [plate_read("1234567")] for i in range(5)}, evidence=store).run()
    frame, plate = (ledger.evidence(i) for i in (1, 2))
    assert (frame.kind, frame.width, frame.height, frame.content_type) == ("frame", 960, 540, "image/jpeg")
    assert (plate.kind, plate.width, plate.height) == ("plate", 128, 32)
    data = (tmp_path / "evidence" / frame.file).read_bytes()
    assert sniff(data) == ("image/jpeg", 960, 540) and frame.bytes == len(data)


def test_retention_marks_the_deleted_images_expired(ledger, tmp_path: Path):
    store = EvidenceStore(tmp_path / "evidence", expire=ledger.expire_evidence)
    lane(ledger, {i: [plate_read("1234567")] for i in range(5)}, evidence=store).run()
    frame = ledger.evidence(1)
    os.utime(tmp_path / "evidence" / frame.file, (0, 0))  # only the frame is old
    assert store.purge(days=30) == 1
    assert ledger.evidence(1).expired_at is not None and ledger.evidence(2).expired_at is None


class FakeRelay:
    def __init__(self) -> None:
        self.pulses: list[dict] = []

    def submit(self, lane, info) -> Future:
        self.pulses.append(info)
        done: Future = Future()
        done.set_result(True)
        return done


def test_a_manual_open_is_pulsed_once_by_its_own_gate(ledger):
    commands = GateCommands(ledger)
    queued = commands.queue_open("north-exit", "dana", "ticket machine broken")
    commands.queue_open("south-exit", "dana", "another gate")
    relay = FakeRelay()
    north = CommandPoller("exit", "north-exit", commands.claim, relay.submit)
    assert north.poll_once() == 1
    assert relay.pulses == [{"gate": "north-exit", "command_id": queued.id, "visit_id": None, "manual": True}]
    assert north.poll_once() == 0  # done: never pulsed twice
    second = CommandPoller("exit", "north-exit", commands.claim, relay.submit)
    assert second.poll_once() == 0  # nor by a second process of the same gate
    assert [(c.gate, c.done_at is not None) for c in commands.recent()] == [("south-exit", False),
                                                                              ("north-exit", True)]


def test_a_manual_open_that_waited_too_long_is_not_pulsed(ledger):
    commands = GateCommands(ledger, max_age_s=60)
    commands.queue_open("north-exit", "dana", "camera down")
    relay = FakeRelay()
    late = CommandPoller("exit", "north-exit", lambda g: commands.claim(g, now=now_utc() + timedelta(minutes=10)),
                         relay.submit)
    assert late.poll_once() == 0 and relay.pulses == []
    assert commands.recent()[0].done_at is not None


def test_the_poller_polls_about_once_a_second_until_stopped(ledger):
    commands = GateCommands(ledger)
    relay = FakeRelay()
    waits: list[float] = []
    stop = threading.Event()

    def wait(seconds: float) -> bool:  # an injected clock: three polls, then stop
        waits.append(seconds)
        if len(waits) == 2:
            commands.queue_open("north-exit", "dana", "by hand")
        return len(waits) > 3

    CommandPoller("exit", "north-exit", commands.claim, relay.submit).run(stop, wait)
    assert waits == [1.0] * 4 and len(relay.pulses) == 1


def test_a_poll_that_fails_is_a_warning_and_the_next_one_tries_again(caplog):
    calls = []

    def claim(gate):
        calls.append(gate)
        if len(calls) == 1:
            raise ConnectionError("database down")
        return []

    poller = CommandPoller("exit", "north-exit", claim, FakeRelay().submit)
    assert poller.poll_once() == 0 and poller.poll_once() == 0
    assert "could not poll its commands: database down" in caplog.text


def test_gate_run_pulses_a_manual_open_through_its_relay(ledger):
    """The lane's loop starts the poller, which polls at once: the pulse goes through the lane's relay worker."""
    commands = GateCommands(ledger)
    queued = commands.queue_open("entry", "dana", "camera down")

    class RecordingRelay(SimulatedRelay):
        def __init__(self) -> None:
            super().__init__()
            self.infos: list[dict] = []

        def pulse(self, lane, info) -> None:
            super().pulse(lane, info)
            self.infos.append(info)

    relay = RecordingRelay()
    process = lane(ledger, {}, frames=3, relay=relay, commands=commands.claim)
    process.run()  # the poller is joined before the relay worker closes: its pulse is delivered
    assert relay.infos == [{"gate": "entry", "command_id": queued.id, "visit_id": None, "manual": True}]
    assert process.poller is not None and process.poller.pulses[0].result() is True


@pytest.mark.slow
def test_a_manual_open_claimed_while_the_lane_stops_is_still_pulsed(ledger):
    """A remote claim takes up to the ledger timeout (5 s): a stopping lane waits for it before it closes its relay
    worker, since the command is already marked done on the server."""
    from gate.lane.remote import RemoteCommand

    relay, claimed = SimulatedRelay(), []

    def slow_claim(gate):
        if claimed:
            return []
        time.sleep(5.5)
        claimed.append(gate)
        return [RemoteCommand(7, None, "dana", "camera down", False)]

    process = lane(ledger, {}, frames=3, relay=relay, commands=slow_claim)
    process.run()  # the recording ends at once, the claim still in flight
    assert claimed and relay.pulses == 1


def test_a_claim_answered_after_the_relay_closed_says_to_open_by_hand(caplog):
    from gate.lane.remote import RemoteCommand

    def closed(_lane, _info):
        raise RuntimeError("cannot schedule new futures after shutdown")

    poller = CommandPoller("exit", "north-exit", lambda gate: [RemoteCommand(7, None, "dana", "camera down", False)],
                           closed)
    assert poller.poll_once() == 0
    assert "manual open 7 by dana was claimed but NOT pulsed" in caplog.text

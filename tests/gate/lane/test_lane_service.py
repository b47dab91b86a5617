"""A lane as a service: READY/STOPPING for systemd, SIGHUP reloading the config between two decisions,
--motion-skip and --loop. Fake captures and readers on a real SQLite ledger; no sleeps.
"""
from __future__ import annotations

import logging
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from lane_fakes import FrameScriptReader, ScriptedCapture, capture_factory, plate_read
from typer.testing import CliRunner

from gate.cli import app
from gate.lane.motion import MotionConfig, MotionGate, changed_fraction, small_grey
from gate.lane.process import GateProcess
from gate.lane.relay import RetryingRelay, SimulatedRelay
from gate.lane.sources import SourceSpec, make_source
from gate.lane.voting import PassTracker
from gate.notify import Notifier
from gate.reload import ConfigReloader

START = datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def systemd(tmp_path: Path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.setblocking(False)

    def received() -> list[str]:
        out = []
        while True:
            try:
                out.append(sock.recv(4096).decode().split("\n")[0])
            except BlockingIOError:
                return out

    yield Notifier(str(tmp_path / "notify.sock")), received
    sock.close()


def make_process(ledger, sessions, reader, **options) -> GateProcess:
    stop = threading.Event()
    source = make_source(SourceSpec("fake-camera", live=False), stop, capture_factory(sessions), drop_stale=False,
                         media_clock=True, loop=options.pop("loop", False))
    return GateProcess("entry", source, reader, ledger, RetryingRelay(SimulatedRelay(), sleep=lambda s: None),
                       PassTracker(), None, start_at=START, stop=stop, **options)


# --- systemd -------------------------------------------------------------------------------------------------

def test_ready_once_the_first_frame_is_read_and_stopping_on_the_way_out(ledger, systemd):
    notifier, received = systemd
    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], FrameScriptReader(script), notifier=notifier)
    process.run()
    assert received() == ["READY=1", "STOPPING=1"]


def test_a_camera_that_gives_no_frame_never_says_ready(ledger, systemd):
    notifier, received = systemd
    process = make_process(ledger, [ScriptedCapture([])], FrameScriptReader({}), notifier=notifier)
    stats = process.run()
    assert stats.failure and received() == ["STOPPING=1"]  # systemd's start times out: the unit failed


def test_a_stills_folder_is_ready_before_its_first_car(ledger, systemd):
    notifier, received = systemd
    process = make_process(ledger, [ScriptedCapture([])], FrameScriptReader({}), notifier=notifier,
                           ready_at_first_frame=False)
    process.run()
    assert received()[0] == "READY=1"


# --- SIGHUP --------------------------------------------------------------------------------------------------

class HupAt(FrameScriptReader):
    """Reads as scripted; while reading frame ``at`` a SIGHUP "arrives" (the handler is called)."""

    def __init__(self, script, at: int, hup) -> None:
        super().__init__(script)
        self.at, self.hup = at, hup

    def read(self, image):
        if int(image[0, 0, 0]) == self.at:
            self.hup()
        return super().read(image)


def two_cars() -> dict[int, list]:
    """Car A in frames 0-9, car B in frames 40-49 (an empty lane of 3 s between)."""
    return {**{i: [plate_read("1234567")] for i in range(10)}, **{i: [plate_read("7654321")] for i in range(40, 50)}}


def test_sighup_applies_the_new_config_from_the_next_decision_without_losing_the_pass(ledger, tmp_path: Path):
    config = tmp_path / "plategate.toml"
    config.write_text("[policy]\nmin_confidence = 0.5\n")
    reloader = ConfigReloader(ledger, str(config))
    reloader.reload()

    def hup() -> None:  # car B has one read so far: its pass is in progress when the file changes
        config.write_text("[policy]\nmin_confidence = 0.95\n")
        reloader.request()

    process = make_process(ledger, [ScriptedCapture(list(range(60)))], HupAt(two_cars(), 40, hup), reloader=reloader)
    process.run()
    a, b = process.outcomes
    assert (a.decision.plate, a.decision.flagged) == ("1234567", False)
    assert (b.decision.plate, b.decision.flagged) == ("7654321", True)  # 0.9 is now below min_confidence
    assert b.passed.vote.reads >= 3 and b.passed.first_t == pytest.approx(4.0)  # its first read was kept
    assert ledger.policy.min_confidence == 0.95


def test_a_bad_file_keeps_the_old_config_and_logs_one_line(ledger, tmp_path: Path, caplog):
    config = tmp_path / "plategate.toml"
    config.write_text("[policy]\nmin_confidence = 0.95\n")
    reloader = ConfigReloader(ledger, str(config))
    assert reloader.reload().ok
    config.write_text('[policy]\nmin_confidence = "high"\n')
    reloader.request()
    with caplog.at_level(logging.INFO, logger="gate.reload"):
        result = reloader.apply_if_requested()
    assert result is not None and not result.ok
    assert ledger.policy.min_confidence == 0.95
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "keeping the previous config" in caplog.text and "min_confidence" in caplog.text
    assert reloader.apply_if_requested() is None  # one SIGHUP, one reload


@pytest.mark.parametrize("zone", ["Asia", "Europe"])
def test_a_time_zone_that_names_a_region_is_refused_on_reload_not_fatal(ledger, tmp_path: Path, caplog, zone):
    """"Asia" is a folder of zones: IsADirectoryError went past the reloader and killed the running lane."""
    config = tmp_path / "plategate.toml"
    config.write_text("[policy]\nmin_confidence = 0.95\n")
    reloader = ConfigReloader(ledger, str(config))
    assert reloader.reload().ok
    config.write_text(f'timezone = "{zone}"\n')
    with caplog.at_level(logging.ERROR, logger="gate.reload"):
        result = reloader.reload()
    assert not result.ok and f"timezone = '{zone}': expected an IANA time zone" in result.message
    assert ledger.policy.min_confidence == 0.95 and "\n" not in result.message


def test_a_reload_that_changes_nothing_says_so(ledger, tmp_path: Path):
    config = tmp_path / "plategate.toml"
    config.write_text("[tariff]\nhourly_rate = 20.0\n")
    reloader = ConfigReloader(ledger, str(config))
    assert reloader.reload().message == "config reloaded: tariff changed"
    assert reloader.reload().message == "config reloaded: no change"


# --- --motion-skip -------------------------------------------------------------------------------------------

def scene(car: int | None, noise_seed: int | None = None) -> np.ndarray:
    """A 1280x720 grey lane; a car is a dark block whose position is ``car`` (None: empty lane)."""
    img = np.full((720, 1280, 3), 120, np.uint8)
    if noise_seed is not None:  # sensor noise of a few grey levels
        img = np.clip(img + np.random.default_rng(noise_seed).normal(0, 4, img.shape), 0, 255).astype(np.uint8)
    if car is not None:
        img[300:600, 100 + 40 * car : 500 + 40 * car] = 30
    return img


def test_an_empty_still_lane_is_skipped_once_the_reader_saw_no_plate():
    gate = MotionGate()
    assert gate.should_read(scene(None, 1))
    gate.saw(False)
    assert [gate.should_read(scene(None, s)) for s in range(2, 12)] == [False] * 10  # noise is not motion
    assert gate.should_read(scene(0)) and gate.skipped == 10


def test_a_car_standing_at_the_barrier_is_read_on_every_frame():
    gate = MotionGate()
    for _ in range(5):
        assert gate.should_read(scene(3))
        gate.saw(True)


def test_motion_is_measured_against_the_last_frame_read_so_slow_changes_add_up():
    gate = MotionGate(MotionConfig(pixel_delta=12))
    base = scene(None)
    assert gate.should_read(base)
    gate.saw(False)
    for level in range(1, 20):  # the light goes up one grey level per frame
        frame = np.clip(base.astype(int) + level, 0, 255).astype(np.uint8)
        if gate.should_read(frame):
            break
    assert level == 13  # read once the change since the last read passed the threshold


def test_changed_fraction_of_the_small_frame():
    a, b = small_grey(scene(None)), small_grey(scene(2))
    assert a.shape == (36, 64)
    assert changed_fraction(a, a) == 0.0 and 0.1 < changed_fraction(a, b) < 0.3
    assert changed_fraction(a, a[:10]) == 1.0


def test_bad_motion_thresholds_are_refused():
    with pytest.raises(ValueError, match="moved_fraction"):
        MotionConfig(moved_fraction=1.5)


class SceneCapture(ScriptedCapture):
    """1280x720 frames: the car at frames ``car_frames`` (moving one step a frame), else an empty lane."""

    def __init__(self, n: int, car_frames: range) -> None:
        super().__init__(list(range(n)))
        self.car_frames = car_frames

    def read(self):
        if self.pos >= len(self.ids):
            return False, None
        i = self.ids[self.pos]
        self.pos += 1
        return True, scene(i - self.car_frames.start if i in self.car_frames else None)


class DarkBlockReader:
    """Reads plate 1234567 wherever the car's dark block is in view."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image):
        self.calls += 1
        return [plate_read("1234567")] if int(image[450, 640, 0]) < 60 or int(image[450, 300, 0]) < 60 else []


@pytest.mark.parametrize("motion", [False, True])
def test_motion_skip_decides_the_same_with_fewer_reads(ledger, motion):
    reader = DarkBlockReader()
    process = make_process(ledger, [SceneCapture(60, range(20, 30))], reader,
                           motion=MotionGate() if motion else None)
    stats = process.run()
    assert [o.decision.plate for o in process.outcomes] == ["1234567"]
    assert stats.frames == 60
    if motion:  # the empty lane before and after the car: read once each, then skipped
        assert stats.skipped >= 45 and reader.calls == 60 - stats.skipped
        assert "skipped" in stats.summary()
    else:
        assert reader.calls == 60 and stats.skipped == 0


class StandingCarCapture(SceneCapture):
    """The car drives in at ``car_frames.start`` and stands still at the barrier for the rest of them."""

    def read(self):
        if self.pos >= len(self.ids):
            return False, None
        i = self.ids[self.pos]
        self.pos += 1
        return True, scene(0 if i in self.car_frames else None)


class OneMissReader(DarkBlockReader):
    """Misses the plate once, on the third frame it sees the car."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def read(self, image):
        found = super().read(image)
        if found:
            self.seen.append(True)
            if len(self.seen) == 3:
                return []
        return found


def test_motion_skip_reads_on_a_standing_car_after_one_missed_frame(ledger):
    """Skipping resumed after the one miss: a car standing still never changed the frame, so it was never read
    again and its pass ended with three reads."""
    reader = OneMissReader()
    process = make_process(ledger, [StandingCarCapture(60, range(20, 40))], reader, motion=MotionGate())
    process.run()
    assert len(reader.seen) == 20  # every frame of the standing car was read, the missed one included
    assert [o.decision.plate for o in process.outcomes] == ["1234567"]


# --- --loop --------------------------------------------------------------------------------------------------

def test_a_looped_recording_plays_again_its_clock_going_on(ledger):
    script = {i: [plate_read("1234567")] for i in range(3)}
    sessions = [ScriptedCapture(list(range(40))) for _ in range(3)]  # 4 s a play: each is a new pass
    process = make_process(ledger, sessions, FrameScriptReader(script), loop=True)
    stats = process.run()  # the fake camera has three plays: the fourth open fails and ends the run
    assert stats.frames == 120 and stats.reconnects == 2
    assert stats.failure == "cannot open again to loop"
    assert [round(o.at.timestamp() - START.timestamp(), 1) for o in process.outcomes] == [0.2, 4.2, 8.2]


@pytest.mark.parametrize("option", ["--loop", "--motion-skip"])
def test_loop_and_motion_skip_need_a_video_source(tmp_path: Path, option):
    folder = tmp_path / "stills"
    folder.mkdir()
    result = CliRunner().invoke(app, ["run", "--lane", "entry", "--source", str(folder), "--stills", option,
                                      "--db", str(tmp_path / "ledger.db"), "--evidence-dir", str(tmp_path / "ev")])
    assert result.exit_code == 2 and f"{option}: expected a video source" in result.output


def test_loop_refuses_a_live_camera(tmp_path: Path):
    result = CliRunner().invoke(app, ["run", "--lane", "entry", "--source", "rtsp://admin:pw@cam/s", "--loop",
                                      "--db", str(tmp_path / "ledger.db"), "--evidence-dir", str(tmp_path / "ev")])
    assert result.exit_code == 2 and "live camera" in result.output and "pw" not in result.output


# --- memory over months --------------------------------------------------------------------------------------

def test_kept_outcomes_hold_no_full_frames(ledger, tmp_path: Path):
    """The soak test caught this: 1000 outcomes with their 1280x720 frames held 2.7 GB."""
    from gate.lane.evidence import EvidenceStore

    script = {i: [plate_read("1234567")] for i in range(10)}
    process = make_process(ledger, [ScriptedCapture(list(range(10)))], FrameScriptReader(script))
    process.evidence = EvidenceStore(tmp_path / "evidence")
    process.run()
    (outcome,) = process.outcomes
    assert outcome.passed.frame is None and outcome.passed.crop is not None


def test_stage_timings_keep_a_bounded_window_and_count_every_sample(monkeypatch):
    from gate.lane import stats as stats_module

    monkeypatch.setattr(stats_module, "STAGE_WINDOW", 5)
    stats = stats_module.RunStats()
    for ms in range(20):
        stats.add("read", float(ms))
    assert list(stats.stages["read"]) == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert "n=20" in stats.summary() and "p50     17.0 ms" in stats.summary()


def test_a_sign_beside_a_car_opens_no_visit_and_the_summary_counts_it(ledger):
    sign = (900.0, 300.0, 1000.0, 330.0)
    scatter = ["98888215", "98868215", "96888215", "98888275", "90888215"]  # never read twice alike
    script = {i: [plate_read("1234567"), plate_read(t, conf=0.6, box=sign)] for i, t in enumerate(scatter)}
    stats = make_process(ledger, [ScriptedCapture(list(range(len(scatter))))], FrameScriptReader(script)).run()
    assert [v.plate.replace("-", "") for v in ledger.visits()] == ["1234567"]
    assert "passes without a decision: outvoted 1" in stats.summary()

"""Issue 11, the lane's half: `gate run` against broken sources, secrets, foreign files, bombs, a mute relay, stills.

Each test is one finding of the campaign, replayed: what was done to the gate and what it must do now.
`gate run` runs in-process through the real command line with a fake reader (no weights); the tests
that need a separate process (what reaches stderr, from every layer) use tests/gate/lane/fake_gate_cli.py.
Time is injected (clocks, sleepers); no test sleeps.
"""
from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from gate_support import at
from lane_fakes import FixedPlateReader, FrameScriptReader, ScriptedCapture, capture_factory, frame, plate_read
from PIL import Image
from typer.testing import CliRunner

import lpr
from gate.cli import app
from gate.lane.process import GateProcess, build_process
from gate.lane.redact import redact
from gate.lane.relay import HttpRelay, PulseUnknown, RetryingRelay, make_relay
from gate.lane.sources import FolderCapture, ReconnectingCapture, SourceSpec, make_source
from gate.lane.stats import RunEnd
from gate.lane.stills import StillsConfig
from gate.lane.voting import PassTracker
from gate.store.ledger import Ledger

SECRET = "S3cretPass"
CAMERA_URL = f"rtsp://admin:{SECRET}@127.0.0.1:1/s"  # port 1: nothing listens, the connection is refused
DAY = 86400.0


# ---------------------------------------------------------------- helpers


@pytest.fixture
def gate_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`gate run ARGS` in-process with a fixed-plate reader; returns the CliRunner result."""
    monkeypatch.setattr(lpr, "Reader", lambda **_: FixedPlateReader("1234567"), raising=False)
    monkeypatch.setattr(GateProcess, "install_signal_handlers", lambda self: None)  # pytest keeps its own

    def invoke(*args: str, db: Path | None = None):
        base = ["run", "--lane", "entry", "--db", str(db or tmp_path / "ledger.db")]
        if "--evidence-dir" not in args:
            base += ["--evidence-dir", str(tmp_path / "evidence")]
        return CliRunner().invoke(app, [*base, *args])

    return invoke


def recording(folder: Path, n: int = 6) -> Path:
    """A folder of n grey frames: the fixed-plate reader reads one car."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i:05d}.png"), np.full((48, 64, 3), 90, np.uint8))
    return folder


def aged(path: Path, days: float, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    old = time.time() - days * DAY
    os.utime(path, (old, old))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30000x30000 PNG of ~100 KB: 900 megapixels once decoded."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    Image.new("1", (30000, 30000)).save(path, optimize=True)
    return path


# ---------------------------------------------------------------- 5. a source that cannot be opened


@pytest.mark.parametrize("make", ["video that is text", "empty folder", "text file", "folder of broken images"])
def test_5_a_source_that_cannot_be_opened_exits_3(gate_run, tmp_path: Path, make: str):
    if make == "video that is text":
        source = tmp_path / "g.mp4"
        source.write_text("x\n")
    elif make == "empty folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif make == "text file":
        source = tmp_path / "notes.txt"
        source.write_text("not a video\n")
    else:
        source = tmp_path / "broken"
        aged(source / "00001.jpg", 0, b"not a jpeg")
    result = gate_run("--source", str(source))
    assert result.exit_code == 3, result.output
    assert f"error: source {source}:" in result.output  # one line naming the source and why
    assert "source-failed" in result.output  # the stats still come out


def test_5_a_recording_read_to_its_end_exits_0(gate_run, tmp_path: Path):
    result = gate_run("--source", str(recording(tmp_path / "clip")))
    assert result.exit_code == 0, result.output
    assert "decisions 1 " in result.output and "; ended" in result.output


def test_5_a_live_camera_that_never_comes_back_exits_3_once_its_reconnects_give_up(gate_run):
    result = gate_run("--source", CAMERA_URL, "--give-up-after", "1")
    assert result.exit_code == 3, result.output
    assert "gave up after 1 reconnect attempts" in result.output


def test_5_a_live_camera_is_retried_forever_by_default():
    """Without --give-up-after the gate waits for its camera (here: stopped by the test after 4 attempts)."""
    stop = threading.Event()
    attempts = itertools.count(1)

    def factory(_target: object):
        if next(attempts) >= 5:
            stop.set()
        raise OSError("no route to camera")

    source = ReconnectingCapture(SourceSpec("rtsp://cam/s", live=True), factory, backoff_s=0.0, stop=stop)
    assert source.read() is None and source.failure is None  # stopped, not failed


@pytest.mark.parametrize(("args", "expected"), [
    (["--watch"], "--watch: expected together with --stills"),
    (["--stills-done", "done"], "--stills-done: expected together with --stills"),
    (["--relay", "gpio:17"], "relay 'gpio:17': expected 'sim' or an http(s) URL"),
])
def test_5_bad_options_are_one_line_errors_with_exit_2(gate_run, tmp_path: Path, args, expected):
    result = gate_run("--source", str(recording(tmp_path / "clip")), *args)
    assert result.exit_code == 2 and f"error: {expected}" in result.output, result.output


def test_5_a_reader_needs_at_least_one_thread(ledger, tmp_path: Path):
    with pytest.raises(ValueError, match=r"threads 0: expected 1 or more"):
        build_process("entry", str(recording(tmp_path / "clip")), ledger, evidence_dir=None, threads=0)


def test_5_stills_need_a_folder_and_evidence_needs_a_writable_one(gate_run, tmp_path: Path):
    still = aged(tmp_path / "car.jpg", 0)
    result = gate_run("--source", str(still), "--stills")
    assert result.exit_code == 2 and "stills mode expects a folder of images" in result.output
    blocker = aged(tmp_path / "evidence-file", 0)
    result = gate_run("--source", str(recording(tmp_path / "clip")), "--evidence-dir", str(blocker))
    assert result.exit_code == 2 and "expected a writable folder" in result.output, result.output


# ---------------------------------------------------------------- 6. the camera password


@pytest.mark.parametrize(("text", "shown"), [
    (CAMERA_URL, "rtsp://admin:***@127.0.0.1:1/s"),
    (f"source 'http://cam/snap.cgi?user=admin&pwd={SECRET}&res=hd' lost",
     "source 'http://cam/snap.cgi?user=admin&pwd=***&res=hd' lost"),
    (f"https://relay:{SECRET}@relay.local/pulse?token={SECRET}", "https://relay:***@relay.local/pulse?token=***"),
    ("rtsp://cam-entry/stream", "rtsp://cam-entry/stream"),
    (f"rtsp://admin:p@{SECRET}@cam/s lost", "rtsp://admin:***@cam/s lost"),
    (f"http://cam/snap?access_token={SECRET}&X-Api-Key={SECRET}", "http://cam/snap?access_token=***&X-Api-Key=***"),
    (f"rtsp://a:{SECRET}@cam1:554, rtsp://b:{SECRET}@cam2/s", "rtsp://a:***@cam1:554, rtsp://b:***@cam2/s"),
    (f'{{"url":"rtsp://admin:{SECRET}@cam:554","owner":"x@y"}}', '{"url":"rtsp://admin:***@cam:554","owner":"x@y"}'),
    ("http://cam/list?monkey=3&bypass=1", "http://cam/list?monkey=3&bypass=1"),
    (f"http://cam/s?accessToken={SECRET}&clientSecret={SECRET}&X-Amz-Signature={SECRET}",
     "http://cam/s?accessToken=***&clientSecret=***&X-Amz-Signature=***"),
    # a raw "/" or quote in the password: the very URLs a camera fails to open (and whose failure is logged)
    (f"rtsp://admin:ab/{SECRET}@10.0.0.5/stream", "rtsp://admin:***@10.0.0.5/stream"),
    (f"source 'rtsp://admin:pa'{SECRET}@cam/s': open failed", "source 'rtsp://admin:***@cam/s': open failed"),
    (f'rtsp://admin:pa"{SECRET}@cam/s', "rtsp://admin:***@cam/s"),
    (f"http://cam/cgi?pw={SECRET}&u=admin&p={SECRET}&page=2", "http://cam/cgi?pw=***&u=admin&p=***&page=2"),
    (f"rtsp://ops@site.com:{SECRET}@cam/s", "rtsp://ops@site.com:***@cam/s"),  # an "@" in the user name
    ("/var/cams/entry", "/var/cams/entry"),
])
def test_6_redact_masks_passwords_and_keeps_the_rest(text: str, shown: str):
    assert redact(text) == shown


def test_6_source_log_lines_never_carry_the_password(caplog):
    """The open error itself may quote the URL (drivers do): it is masked as well."""
    stop = threading.Event()

    def factory(target: object):
        raise OSError(f"could not open {target}")

    source = ReconnectingCapture(SourceSpec(CAMERA_URL, live=True), factory, backoff_s=0.0, give_up_after=3,
                                 stop=stop)
    with caplog.at_level(logging.DEBUG):
        assert source.read() is None
    assert SECRET not in caplog.text and SECRET not in (source.failure or "")
    assert "rtsp://admin:***@127.0.0.1:1/s" in caplog.text and "gave up" in caplog.text


@pytest.mark.parametrize("option", ["--source", "--relay"])
def test_6_errors_about_a_bad_url_mask_its_password(gate_run, tmp_path: Path, option: str):
    url = f"ftp://admin:{SECRET}@cam/stream"  # neither a source scheme nor a relay scheme
    args = [option, url] if option == "--source" else ["--source", str(recording(tmp_path / "clip")), option, url]
    result = gate_run(*args)
    assert result.exit_code == 2 and SECRET not in result.output and "admin:***@cam" in result.output


@pytest.mark.slow
def test_6_gate_run_never_writes_the_camera_password(tmp_path: Path):
    """The issue's run, as a process: every line on stdout and stderr, from every layer, is checked."""
    cli = Path(__file__).with_name("fake_gate_cli.py")
    cmd = [sys.executable, str(cli), "run", "--lane", "entry", "--source", CAMERA_URL, "--give-up-after", "2",
           "--db", str(tmp_path / "ledger.db"), "--evidence-dir", str(tmp_path / "evidence")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "source rtsp://admin:***@127.0.0.1:1/s: cannot open; gave up after 2 reconnect attempts" in done.stderr


# ---------------------------------------------------------------- 7. retention and other people's photos


def test_7_retention_keeps_photos_the_gate_did_not_write(gate_run, tmp_path: Path):
    photos = tmp_path / "photos"
    theirs = [aged(photos / "holiday.jpg", 400), aged(photos / "2019" / "wedding.png", 400),
              aged(photos / "entry" / "holiday.jpg", 400)]
    ours = aged(photos / "entry" / "20190101T080000_000000Z_7654321.jpg", 400)
    result = gate_run("--source", str(recording(tmp_path / "clip")), "--evidence-dir", str(photos),
                      "--retention-days", "30")
    assert result.exit_code == 0, result.output
    assert all(p.exists() for p in theirs) and not ours.exists()
    assert len(list((photos / "entry").glob("*_1234567_*.jpg"))) == 2  # today's frame and plate are kept


# ---------------------------------------------------------------- 8. decompression bomb


def test_8_a_bomb_in_a_folder_source_is_skipped_from_its_header(bomb: Path, tmp_path: Path, caplog):
    folder = recording(tmp_path / "clip", n=4)
    (folder / "00002.png").write_bytes(bomb.read_bytes())  # a bomb between frames
    capture = FolderCapture(folder)
    with caplog.at_level(logging.WARNING, logger="gate.lane.sources"):
        images = [img for ok, img in iter(capture.read, (False, None))]
    assert len(images) == 3 and all(img.shape == (48, 64, 3) for img in images)
    (line,) = caplog.messages  # one line, naming the file and the limit
    assert "00002.png" in line and "megapixels" in line and "refused before decoding" in line


def test_8_gate_run_on_a_folder_with_a_bomb_goes_on(gate_run, bomb: Path, tmp_path: Path):
    folder = recording(tmp_path / "clip", n=6)
    (folder / "00000.png").write_bytes(bomb.read_bytes())
    result = gate_run("--source", str(folder))
    assert result.exit_code == 0 and "frames 5 " in result.output and "decisions 1 " in result.output


def test_8_a_bomb_among_stills_is_skipped_and_left_in_place(ledger, bomb: Path, tmp_path: Path, caplog):
    folder = tmp_path / "stills"
    write_still(folder / "a.png", 1)
    (folder / "b.png").write_bytes(bomb.read_bytes())
    process = stills_process(ledger, folder, {1: [plate_read("1234567")]}, done=tmp_path / "done")
    with caplog.at_level(logging.WARNING):
        process.run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567"]
    assert (folder / "b.png").exists() and "refused before decoding" in caplog.text


# ---------------------------------------------------------------- 11. a relay that accepts and never answers


@pytest.fixture
def mute_relay():
    """A relay controller that accepts the connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/pulse"
    server.close()


def test_11_the_http_relay_gives_up_on_a_mute_controller_after_its_timeout(mute_relay: str):
    relay = make_relay(mute_relay, timeout_s=0.2)
    assert relay == HttpRelay(mute_relay, 0.2)
    t0 = time.monotonic()
    with pytest.raises(PulseUnknown):  # the request went out: the controller may have acted on it
        relay.pulse("entry", {"plate": "1234567"})
    assert time.monotonic() - t0 < 2.0
    sleeps: list[float] = []
    assert RetryingRelay(relay, tries=3, sleep=sleeps.append).pulse("entry", {"plate": "1234567"}) is False
    assert sleeps == []  # given up after the one try: a second pulse could open for the car behind


def test_11_the_relay_timeout_is_an_option(gate_run, tmp_path: Path):
    result = gate_run("--source", str(recording(tmp_path / "clip")), "--relay-timeout", "0")
    assert result.exit_code == 2


class StuckRelay:
    """Holds the first pulse until the ledger has decided the next car (or 10 s pass: the old behaviour)."""

    def __init__(self, next_car_decided: threading.Event) -> None:
        self.next_car_decided = next_car_decided
        self.held_up_next_car: list[bool] = []

    def pulse(self, lane: str, info: dict) -> None:
        self.held_up_next_car.append(not self.next_car_decided.wait(timeout=10))


class WatchingLedger:
    """The real ledger, and an event once it has decided ``n`` times."""

    def __init__(self, ledger: Ledger, n: int) -> None:
        self.ledger, self.n, self.decided = ledger, n, threading.Event()

    def decide(self, *args, **kwargs):
        decision = self.ledger.decide(*args, **kwargs)
        if len(self.ledger.decisions()) >= self.n:
            self.decided.set()
        return decision


def test_11_a_stuck_relay_does_not_hold_up_the_next_car(ledger):
    watching = WatchingLedger(ledger, n=2)
    relay = StuckRelay(watching.decided)
    script = {i: [plate_read("1234567")] for i in range(5)}
    script.update({i: [plate_read("7654321")] for i in range(30, 35)})  # the next car, 2.5 s later
    stop = threading.Event()
    source = make_source(SourceSpec("cam", live=False), stop, capture_factory([ScriptedCapture(
        [*range(5), *range(5, 30), *range(30, 35)])]), media_clock=True)
    process = GateProcess("entry", source, FrameScriptReader(script), watching,
                          RetryingRelay(relay, sleep=lambda s: None), PassTracker(), stop=stop)
    process.run()
    assert [o.decision.plate for o in process.outcomes] == ["1234567", "7654321"]
    assert relay.held_up_next_car == [False, False]  # the second car was decided while the first pulse hung
    assert [o.relay_ok for o in process.outcomes] == [True, True]


def test_11_a_pulse_past_its_deadline_is_given_up_not_sent_late(caplog):
    sent: list[dict] = []

    class Relay:
        def pulse(self, lane: str, info: dict) -> None:
            sent.append(info)

    now = iter([100.0, 106.0]).__next__
    relay = RetryingRelay(Relay(), clock=now)
    assert relay.pulse("exit", {"plate": "1234567"}, deadline=105.0) is True  # in time
    assert relay.pulse("exit", {"plate": "7654321"}, deadline=105.0) is False  # a car may have left by now
    assert [i["plate"] for i in sent] == ["1234567"] and "too late, not sent" in caplog.text


# ---------------------------------------------------------------- 12. stills: one photo per car


def write_still(path: Path, frame_id: int) -> Path:
    """A still the fake reader recognises by id (PNG keeps the id pixel exact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), frame(frame_id))
    return path


def stills_process(ledger, folder: Path, script: dict, *, watch: bool = False, done: Path | None = None,
                   sleep=None, lane: str = "entry") -> GateProcess:
    clock = itertools.count(0.0, 1.0).__next__  # each look at the clock is one second later
    return build_process(lane, str(folder), ledger, reader=FrameScriptReader(script), evidence_dir=None,
                         stills=StillsConfig(watch=watch, done_dir=done, poll_s=0.5), clock=clock, sleep=sleep)


def test_12_each_still_is_one_car(ledger, tmp_path: Path):
    """50 photos of 50 cars made 8 visits: a pass needed two reads. Now every still decides once."""
    plates = ["1234567", "7654321", "12345678", "2345678"]
    for i in range(len(plates)):
        write_still(tmp_path / "stills" / f"car{i:02d}.jpg.png", i)
    script = {i: [plate_read(p)] for i, p in enumerate(plates)}
    stats = stills_process(ledger, tmp_path / "stills", script).run()
    assert [d["plate"] for d in ledger.decisions()] == plates
    assert stats.end is RunEnd.ENDED and stats.decisions == 4


def test_12_a_still_is_decided_on_its_best_read(ledger, tmp_path: Path):
    write_still(tmp_path / "stills" / "car.png", 1)
    script = {1: [plate_read("7654321", 0.6), plate_read("1234567", 0.97), plate_read("12345", 0.99)]}
    stills_process(ledger, tmp_path / "stills", script).run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567"]  # "12345" is not a plate


def test_12_an_unsure_still_goes_to_review(ledger, tmp_path: Path):
    write_still(tmp_path / "stills" / "car.png", 1)
    stills_process(ledger, tmp_path / "stills", {1: [plate_read("1234567", 0.3)]}).run()
    (decision,) = ledger.decisions()
    assert decision["flagged"]
    assert [item.kind for item in ledger.review_queue()] == ["low-confidence"]


def test_12_a_still_without_a_plate_is_logged_and_the_next_one_decided(ledger, tmp_path: Path, caplog):
    write_still(tmp_path / "stills" / "a.png", 1)
    write_still(tmp_path / "stills" / "b.png", 2)
    with caplog.at_level(logging.INFO):
        stills_process(ledger, tmp_path / "stills", {2: [plate_read("1234567")]}).run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567"]
    assert "no plate read in" in caplog.text and "a.png" in caplog.text
    assert "decision entry 12-345-67 -> open" in caplog.text and "still=b.png" in caplog.text  # which photo


def test_12_a_watched_folder_takes_new_stills_once_complete_and_moves_them_to_done(ledger, tmp_path: Path):
    folder, done = tmp_path / "upload", tmp_path / "done"
    folder.mkdir()
    holder: list[GateProcess] = []
    half = folder / "b.png"

    step = itertools.count()

    def camera_uploads():
        """The sleeper between polls: what the camera uploads meanwhile."""
        k = next(step)
        if k == 0:
            write_still(folder / "a.png", 1)
        elif k == 2:
            half.write_bytes(cv2.imencode(".png", frame(2))[1].tobytes()[:20])  # upload in progress
        elif k == 3:
            write_still(half, 2)  # upload finished
        elif k == 6:
            holder[0].stop()

    script = {1: [plate_read("1234567")], 2: [plate_read("7654321")]}
    process = stills_process(ledger, folder, script, watch=True, done=done, sleep=lambda s: camera_uploads())
    holder.append(process)
    stats = process.run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567", "7654321"]  # each once, the half file never
    assert sorted(p.name for p in done.iterdir()) == ["a.png", "b.png"] and not list(folder.iterdir())
    assert stats.end is RunEnd.STOPPED


def test_12_watching_without_done_leaves_stills_and_decides_each_once(ledger, tmp_path: Path):
    folder = tmp_path / "upload"
    write_still(folder / "old.png", 9)  # there before the gate started: left alone
    holder: list[GateProcess] = []

    step = itertools.count()

    def camera_uploads():
        k = next(step)
        if k == 0:
            write_still(folder / "latest.png", 1)
        elif k == 4:
            write_still(folder / "latest.png", 2)  # the camera writes the same name again: the next car
            os.utime(folder / "latest.png", ns=(10**18, 10**18))
        elif k == 8:
            holder[0].stop()

    script = {1: [plate_read("1234567")], 2: [plate_read("7654321")], 9: [plate_read("5555555")]}
    process = stills_process(ledger, folder, script, watch=True, sleep=lambda s: camera_uploads())
    holder.append(process)
    process.run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567", "7654321"]
    assert sorted(p.name for p in folder.iterdir()) == ["latest.png", "old.png"]


def test_12_a_still_whose_decision_failed_stays_and_is_tried_again(ledger, tmp_path: Path, caplog):
    folder, done = tmp_path / "upload", tmp_path / "done"
    write_still(folder / "a.png", 1)
    holder: list[GateProcess] = []

    class DatabaseDownOnce:
        calls = 0

        def decide(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 1:
                raise OSError("database is locked")
            return ledger.decide(*args, **kwargs)

    step = itertools.count()

    def polls():
        if next(step) == 6:
            holder[0].stop()

    process = build_process("entry", str(folder), DatabaseDownOnce(), evidence_dir=None,
                            reader=FrameScriptReader({1: [plate_read("1234567")]}),
                            stills=StillsConfig(watch=True, done_dir=done, poll_s=0.5),
                            clock=itertools.count(0.0).__next__, sleep=lambda s: polls())
    holder.append(process)
    with caplog.at_level(logging.WARNING):
        process.run()
    assert [d["plate"] for d in ledger.decisions()] == ["1234567"]  # decided on the second try, once
    assert (done / "a.png").exists() and "stays for another try" in caplog.text


class PulseRecorder:
    def __init__(self) -> None:
        self.pulsed: list[str] = []

    def pulse(self, lane: str, info: dict) -> None:
        self.pulsed.append(info["plate"])


def exit_stills(ledger, folder: Path, script: dict, polls) -> tuple[GateProcess, PulseRecorder]:
    """An exit lane watching ``folder`` (done dir beside it), its relay recorded, a second per clock look."""
    start = at(60)
    process = build_process("exit", str(folder), ledger, evidence_dir=None, reader=FrameScriptReader(script),
                            stills=StillsConfig(watch=True, done_dir=folder.parent / "done", poll_s=0.5),
                            clock=itertools.count(0.0).__next__, sleep=lambda s: polls(process), start_at=start)
    relay = PulseRecorder()
    process.relay = RetryingRelay(relay, sleep=lambda s: None)
    return process, relay


def test_12_a_still_tried_again_after_a_failed_decision_is_dated_when_taken_and_never_pulsed(ledger, tmp_path):
    """A retry minutes later pulsed the barrier for whichever car stood there then, and billed until then."""
    ledger.decide("entry", "1234567", at(50))  # inside its free minutes when the still was taken
    folder = tmp_path / "upload"
    folder.mkdir()
    step = itertools.count()
    tries: list = []

    class DatabaseDownThrice:
        def decide(self, *args, **kwargs):
            tries.append(kwargs["at"])
            if len(tries) <= 3:
                raise OSError("database is locked")
            return ledger.decide(*args, **kwargs)

    def polls(process):
        k = next(step)
        if k == 0:
            write_still(folder / "car.png", 1)  # uploaded after the start: not a backlog
        elif k == 12:
            process.stop()

    process, relay = exit_stills(DatabaseDownThrice(), folder, {1: [plate_read("1234567")]}, polls)
    process.run()
    (decision,) = [d for d in ledger.decisions() if d["lane"] == "exit"]
    assert decision["action"] == "open" and len(tries) == 4
    assert relay.pulsed == []  # decided, never pulsed: open by hand
    assert len(set(tries)) == 1  # every try dated when the still was first taken, not when it was tried again


def test_12_stills_waiting_at_start_are_a_backlog_decided_but_never_pulsed(ledger, tmp_path: Path):
    ledger.decide("entry", "1234567", at(50))
    ledger.decide("entry", "7654321", at(50))
    folder = tmp_path / "upload"
    write_still(folder / "old.png", 1)  # there before the gate started (a restart after a crash)
    step = itertools.count()

    def polls(process):
        k = next(step)
        if k == 1:
            write_still(folder / "new.png", 2)
        elif k == 6:
            process.stop()

    script = {1: [plate_read("1234567")], 2: [plate_read("7654321")]}
    process, relay = exit_stills(ledger, folder, script, polls)
    process.run()
    assert [(d["plate"], d["action"]) for d in ledger.decisions() if d["lane"] == "exit"] == [
        ("1234567", "open"), ("7654321", "open")]
    assert relay.pulsed == ["7654321"]  # the fresh still only


def test_12_gate_run_stills(gate_run, tmp_path: Path):
    folder = tmp_path / "stills"
    for i in range(3):
        write_still(folder / f"{i}.png", i + 1)
    result = gate_run("--source", str(folder), "--stills", "--stills-done", str(tmp_path / "done"))
    assert result.exit_code == 0, result.output
    assert "decisions 3 " in result.output and len(list((tmp_path / "done").iterdir())) == 3


def test_a_still_whose_header_claims_a_gigapixel_is_set_aside_and_the_next_car_decided(ledger, tmp_path: Path):
    """53 bytes claiming 40000x40000 made OpenCV raise out of the lane: every restart died on it again."""
    folder = tmp_path / "stills"
    write_still(folder / "a.png", 1)
    (folder / "b.png").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 40000 +X 40000\n")
    write_still(folder / "c.png", 2)
    stills_process(ledger, folder, {1: [plate_read("1234567")], 2: [plate_read("7654321")]},
                   done=tmp_path / "done").run()
    assert sorted(d["plate"] for d in ledger.decisions()) == ["1234567", "7654321"]

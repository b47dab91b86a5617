"""sd_notify by hand (gate.notify): datagrams to $NOTIFY_SOCKET, and a watchdog that goes silent on a stuck loop.

A real AF_UNIX datagram socket bound by the test stands in for systemd; time is an injected clock.
"""
from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from gate.notify import Notifier, State, Watchdog


@pytest.fixture
def systemd(tmp_path: Path):
    """A socket where systemd would listen; yields (its path, a function returning the messages received)."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)

    def received() -> list[str]:
        out = []
        while True:
            try:
                out.append(sock.recv(4096).decode())
            except BlockingIOError:
                return out

    yield str(path), received
    sock.close()


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_outside_systemd_nothing_is_sent():
    notifier = Notifier.from_env({})
    assert not notifier.enabled and notifier.watchdog_s is None
    assert notifier.ready() is False and notifier.send(State.WATCHDOG) is False


def test_ready_status_and_stopping_reach_the_socket(systemd):
    path, received = systemd
    notifier = Notifier.from_env({"NOTIFY_SOCKET": path})
    assert notifier.ready("lane entry: reading cam") and notifier.stopping()
    assert received() == ["READY=1\nSTATUS=lane entry: reading cam", "STOPPING=1"]


def test_an_abstract_socket_name_starts_with_at():
    name = f"plategate-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        assert Notifier(f"@{name}").ready()
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_a_socket_that_went_away_is_not_an_error(tmp_path: Path):
    assert Notifier(str(tmp_path / "gone.sock")).ready() is False


def test_the_watchdog_interval_is_ours_only_for_our_pid():
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000"}
    assert Notifier.from_env(env).watchdog_s == 30.0
    assert Notifier.from_env({**env, "WATCHDOG_PID": str(os.getpid())}).watchdog_s == 30.0
    assert Notifier.from_env({**env, "WATCHDOG_PID": "1"}, pid=4242).watchdog_s is None
    assert Notifier.from_env({**env, "WATCHDOG_USEC": "0"}).watchdog_s is None


def test_watchdog_pings_every_half_interval_while_the_loop_beats(systemd):
    path, received = systemd
    clock = Clock()
    dog = Watchdog(Notifier(path, watchdog_s=10.0), clock)
    sent = []
    for _ in range(40):  # a frame every 0.5 s for 20 s
        dog.beat()
        sent.append(dog.tick())
        clock.t += 0.5
    assert sum(sent) == 4  # at 0, 5, 10, 15 s
    assert set(received()) == {"WATCHDOG=1"}


def test_a_loop_stuck_on_one_frame_falls_silent_so_systemd_restarts_it(systemd):
    path, received = systemd
    clock = Clock()
    dog = Watchdog(Notifier(path, watchdog_s=10.0), clock)
    dog.beat()
    assert dog.tick()
    clock.t = 5.0  # still busy with the same frame: half of WatchdogSec
    assert not dog.healthy() and not dog.tick()
    clock.t = 60.0
    assert not dog.tick()
    assert received() == ["WATCHDOG=1"]


def test_waiting_for_a_camera_is_not_being_stuck(systemd):
    path, received = systemd
    clock = Clock()
    dog = Watchdog(Notifier(path, watchdog_s=10.0), clock)
    pings = []
    with dog.waiting():  # a stills folder with no car for 10 minutes
        for t in range(0, 600, 5):
            clock.t = float(t)
            assert dog.tick()
            pings += received()
    assert len(pings) == 120


def test_a_socket_nobody_reads_never_blocks_the_loop(systemd):
    path, received = systemd
    notifier = Notifier(path)
    sent = [notifier.send(State.WATCHDOG) for _ in range(1000)]  # the queue holds a few: the rest are dropped
    assert sent[0] and not all(sent)


def test_the_watchdog_thread_pings_on_its_own(systemd):
    path, received = systemd
    dog = Watchdog(Notifier(path, watchdog_s=0.2))
    with dog.waiting():
        dog.start()
        dog.stop()  # the thread ticks once as it starts
    assert received()[:1] == ["WATCHDOG=1"]


def test_no_watchdog_without_watchdog_sec(systemd):
    path, received = systemd
    dog = Watchdog(Notifier(path))
    dog.start()
    assert not dog.enabled and not dog.tick()
    dog.stop()
    assert received() == []

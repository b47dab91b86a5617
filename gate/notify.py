"""Tell systemd that a `gate run` lane or `gate serve` is ready and alive (``Type=notify``, ``WatchdogSec=``).

sd_notify by hand, no new dependency: one datagram per message to the
AF_UNIX socket named by ``$NOTIFY_SOCKET`` ("@name" is Linux's abstract
namespace). Outside systemd the variable is unset and every call is a no-op,
so the commands behave the same in a shell, the demo and the tests.

Why a watchdog at all: a lane whose loop hangs (a reader stuck in a driver,
a deadlock) still looks "active" to systemd and the barrier never opens by
itself again. With ``WatchdogSec=`` systemd restarts a service that has not
said ``WATCHDOG=1`` for that long; ``Watchdog`` says it every half of it
while the loop makes progress, and stays silent once the loop has been busy
with one frame for that long. Waiting for a frame is not being stuck: the
sources bound their own waits (a lost camera reconnects and gives up after
``--give-up-after``; a watched stills folder may stay empty for hours).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Callable, Iterator, Mapping

log = logging.getLogger(__name__)


class State(StrEnum):
    """The sd_notify(3) messages plategate sends."""

    READY = "READY=1"
    WATCHDOG = "WATCHDOG=1"
    STOPPING = "STOPPING=1"
    RELOADING = "RELOADING=1"


@dataclass(frozen=True)
class Notifier:
    """Sends sd_notify messages to ``address`` (None: not under systemd, nothing is sent)."""

    address: str | None = None
    watchdog_s: float | None = None  # WatchdogSec= as systemd passed it (WATCHDOG_USEC), None when off

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, pid: int | None = None) -> "Notifier":
        """$NOTIFY_SOCKET and $WATCHDOG_USEC; the watchdog is ours only when $WATCHDOG_PID is unset or our pid."""
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        watchdog_s = None
        usec, owner = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not owner or owner == str(os.getpid() if pid is None else pid)):
            watchdog_s = int(usec) / 1e6
        return cls(address, watchdog_s)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *messages: str) -> bool:
        """One datagram of newline-separated ``messages``; False (and a debug line) when it cannot be sent.

        Never raises and never blocks (a full socket queue drops the message): a lane must keep deciding
        cars even if systemd's socket went away or stopped reading.
        """
        if self.address is None or not messages:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(messages).encode(), socket.MSG_DONTWAIT, target)
            return True
        except OSError as exc:
            log.debug("sd_notify to %s failed: %s", self.address, exc)
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.send(State.READY, *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        return self.send(State.STOPPING)

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")


class Watchdog:
    """``WATCHDOG=1`` every half ``WatchdogSec`` while the loop makes progress (see the module docstring).

    The loop calls ``beat()`` once per turn and wraps its wait for the next frame in ``waiting()``;
    ``tick()`` pings when a ping is due and the loop is healthy. ``start()`` runs ``tick()`` on a daemon
    thread, so a loop blocked on one frame falls silent while one waiting for a camera does not. Tests
    drive ``tick()`` with an injected clock.
    """

    def __init__(self, notifier: Notifier, clock: Callable[[], float] = time.monotonic) -> None:
        self.notifier = notifier
        self.clock = clock
        self.interval_s = notifier.watchdog_s / 2 if notifier.watchdog_s else None
        self.pings = 0
        self._last_beat = clock()
        self._last_ping: float | None = None
        self._waiting = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.interval_s is not None and self.notifier.enabled

    def beat(self) -> None:
        """The loop made progress (a frame handled, a turn begun)."""
        self._last_beat = self.clock()

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """The loop waits for its source: healthy however long it takes (the source bounds its waits)."""
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1
            self.beat()

    def healthy(self) -> bool:
        """Waiting for a frame, or busy with one for less than half of ``WatchdogSec``."""
        if self.interval_s is None:
            return True
        return self._waiting > 0 or self.clock() - self._last_beat < self.interval_s

    def tick(self) -> bool:
        """Ping when due and healthy; True when a ping was sent."""
        if not self.enabled or self.interval_s is None:
            return False
        now = self.clock()
        if self._last_ping is not None and now - self._last_ping < self.interval_s:
            return False
        if not self.healthy():
            return False
        if self.notifier.send(State.WATCHDOG):
            self._last_ping = now
            self.pings += 1
            return True
        return False

    def start(self) -> None:
        """Tick on a daemon thread (a few times per interval, so a ping is never late by much)."""
        if not self.enabled or self.interval_s is None or self._thread is not None:
            return
        period = max(0.05, self.interval_s / 4)

        def run() -> None:
            self.tick()
            while not self._stop.wait(period):
                self.tick()

        self._thread = threading.Thread(target=run, name="sd-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None

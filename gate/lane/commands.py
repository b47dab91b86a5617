"""A lane's command poller: an operator's manual open (gate.store.commands) becomes a relay pulse.

Why a thread of its own and not a step of the frame loop: the loop can wait
seconds on a camera that reconnects, and a manual open is for exactly the
moments when the camera is no help. Every ``interval_s`` (about a second) it
claims its gate's pending commands (one indexed query, no write lock while
there are none) and hands each pulse to the relay worker, as a decision's
pulse is. A claim that fails (database down) is one warning; the next poll
tries again. A stale command (older than the store's max age) is logged and
not pulsed.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from gate.lane.redact import redact
from gate.rules.codes import Lane

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1.0
# how long a stopping lane waits for a poll in flight: a remote claim takes up to --ledger-timeout (5 s); a command
# claimed is done on the server, so its pulse must still reach the relay before the relay worker closes
JOIN_S = 12.0


class CommandLike(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def visit_id(self) -> int | None: ...
    @property
    def requested_by(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def stale(self) -> bool: ...


Claim = Callable[[str], Sequence[CommandLike]]
Submit = Callable[[Lane, dict[str, Any]], "Future[bool]"]


@dataclass
class CommandPoller:
    """Claims ``gate``'s commands every ``interval_s`` and pulses the relay for each (see the module doc)."""

    lane: Lane
    gate: str
    claim: Claim
    submit: Submit
    interval_s: float = DEFAULT_INTERVAL_S
    pulses: list["Future[bool]"] = field(default_factory=list)  # the last few, for tests and the log
    _thread: threading.Thread | None = None

    def poll_once(self) -> int:
        """One poll: claim and pulse; returns how many pulses were handed to the relay."""
        try:
            commands = list(self.claim(self.gate))
        except Exception as exc:  # noqa: BLE001 - the ledger may be down; the next poll tries again
            log.warning("gate %s: could not poll its commands: %s", self.gate, redact(exc))
            return 0
        sent = 0
        for command in commands:
            if command.stale:
                log.warning("gate %s: manual open %d by %s came too late, not pulsed (%s)", self.gate,
                            command.id, command.requested_by, command.reason)
                continue
            log.info("gate %s: manual open %d by %s: %s", self.gate, command.id, command.requested_by,
                     command.reason)
            info = {"gate": self.gate, "command_id": command.id, "visit_id": command.visit_id, "manual": True}
            try:
                self.pulses = [*self.pulses[-9:], self.submit(self.lane, info)]
            except RuntimeError as exc:  # the relay worker closed: the lane stopped while this claim was answered
                log.error("gate %s: manual open %d by %s was claimed but NOT pulsed (%s): open the barrier by hand",
                          self.gate, command.id, command.requested_by, exc)
                continue
            sent += 1
        return sent

    def run(self, stop: threading.Event, wait: Callable[[float], bool] | None = None) -> None:
        """Poll at once, then every ``interval_s`` until ``stop`` is set; ``wait(seconds)`` returns True to stop
        (default: stop.wait). The first poll takes what was queued while the lane was starting."""
        pause = wait or stop.wait
        self.poll_once()
        while not pause(self.interval_s):
            self.poll_once()

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self.run, args=(stop,), name=f"commands-{self.gate}", daemon=True)
        self._thread.start()

    def join(self, timeout: float = JOIN_S) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

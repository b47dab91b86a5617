"""The barrier relay: pulse it to open the gate, after the ledger has committed.

Why the retry wrapper never raises: the decision is already durable when the
relay is pulsed; a relay fault must be retried and logged (an attendant can
open by hand) but can never undo or repeat the ledger's decision.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from gate.rules.codes import Action, Lane

log = logging.getLogger(__name__)


class Relay(Protocol):
    def pulse(self, lane: Lane, info: dict[str, Any]) -> None:
        """Open the barrier once; raise on failure."""


@dataclass
class SimulatedRelay:
    """Default relay: logs the pulse (a bench or demo has no barrier)."""

    pulses: int = 0

    def pulse(self, lane: Lane, info: dict[str, Any]) -> None:
        self.pulses += 1
        log.info("relay %s: pulse (simulated) plate=%s visit=%s", lane, info.get("plate"), info.get("visit_id"))


@dataclass
class HttpRelay:
    """POST ``{"lane", "action": "open", ...}`` as JSON to a relay controller; any non-2xx is a failure."""

    url: str
    timeout_s: float = 2.0

    def pulse(self, lane: Lane, info: dict[str, Any]) -> None:
        body = json.dumps({"lane": lane, "action": Action.OPEN, **info}, default=str).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # raises HTTPError on 4xx/5xx
            if not 200 <= resp.status < 300:
                raise OSError(f"relay answered HTTP {resp.status}")


@dataclass
class RetryingRelay:
    """Tries ``tries`` times with doubling backoff; returns whether the barrier got its pulse."""

    inner: Relay
    tries: int = 3
    backoff_s: float = 0.2
    sleep: Callable[[float], None] = time.sleep

    def pulse(self, lane: Lane, info: dict[str, Any]) -> bool:
        delay = self.backoff_s
        for attempt in range(1, self.tries + 1):
            try:
                self.inner.pulse(lane, info)
                return True
            except Exception as exc:  # noqa: BLE001 - any relay fault is retried, never raised
                log.warning("relay %s: pulse failed (try %d/%d): %s", lane, attempt, self.tries, exc)
                if attempt < self.tries:
                    self.sleep(delay)
                    delay *= 2
        log.error("relay %s: gave up after %d tries; decision stands, open by hand (plate=%s visit=%s)",
                  lane, self.tries, info.get("plate"), info.get("visit_id"))
        return False


def make_relay(spec: str | None) -> Relay:
    """``None``/"sim" -> SimulatedRelay; an http(s) URL -> HttpRelay."""
    if not spec or spec == "sim":
        return SimulatedRelay()
    if spec.startswith(("http://", "https://")):
        return HttpRelay(spec)
    raise ValueError(f"relay {spec!r}: expected 'sim' or an http(s) URL")

"""The barrier relay: pulse it to open the gate, after the ledger has committed.

Why the retry wrapper never raises: the decision is already durable when the
relay is pulsed; a relay fault must be retried and logged (an attendant can
open by hand) but can never undo or repeat the ledger's decision. Only a pulse
that surely did not act is sent again (the connection failed, or the controller
answered an error); one sent and never answered may have opened the barrier, and
a second pulse then would open it for the car behind (``PulseUnknown``).

Why pulses run on a worker thread (``RelayWorker``) with a short timeout: a
relay that accepted the connection but never answered once held every
opening for 6.6 s (3 tries of 2 s), and the next car with it. The decision
loop only hands the pulse over. A pulse not delivered within ``max_age_s``
is given up rather than sent late: a late pulse would open the barrier for
whichever car stands there by then.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from gate.lane.redact import redact
from gate.rules.codes import Action, Lane

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 0.5  # a relay controller on the lot's network answers in milliseconds
DEFAULT_MAX_AGE_S = 5.0  # after this a pulse is given up: the attendant opens by hand


class PulseUnknown(Exception):
    """The controller took the pulse and gave no answer: the barrier may have opened, so it is not sent again."""


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


@dataclass(frozen=True)
class HttpRelay:
    """POST ``{"lane", "action": "open", ...}`` as JSON to a relay controller; any non-2xx is a failure."""

    url: str
    timeout_s: float = DEFAULT_TIMEOUT_S  # per try: connect, and each wait for the answer

    def pulse(self, lane: Lane, info: dict[str, Any]) -> None:
        body = json.dumps({"lane": lane, "action": Action.OPEN, **info}, default=str).encode()
        # urllib reads http://user:pass@host as a port "pass@host" (InvalidURL, the password in the error):
        # the user info goes in a Basic auth header and the URL is sent without it
        parts = urllib.parse.urlsplit(self.url)
        url, auth = self.url, None
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            secret = urllib.parse.unquote(parts.password or "")
            auth = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
            url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        if auth is not None:
            req.add_unredirected_header("Authorization", auth)  # never carried to a redirect's host
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # raises HTTPError on 4xx/5xx
                status = resp.status
        except urllib.error.URLError:
            raise  # not sent (connect failed), or the controller answered that it failed (HTTPError): retried
        except (OSError, http.client.HTTPException) as exc:  # sent, then a read timeout or a dropped connection
            raise PulseUnknown(f"no answer after the pulse was sent ({type(exc).__name__})") from None
        if not 200 <= status < 300:  # an answer that is not a success (urllib raises for most): retried
            raise OSError(f"relay answered HTTP {status}")


@dataclass
class RetryingRelay:
    """Tries ``tries`` times with doubling backoff; returns whether the barrier got its pulse."""

    inner: Relay
    tries: int = 3
    backoff_s: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def pulse(self, lane: Lane, info: dict[str, Any], deadline: float | None = None) -> bool:
        """Pulse, retrying; no try starts after ``deadline`` (``clock`` seconds)."""
        delay = self.backoff_s
        for attempt in range(1, self.tries + 1):
            if deadline is not None and self.clock() > deadline:
                log.error("relay %s: pulse too late, not sent; decision stands, open by hand (plate=%s visit=%s)",
                          lane, info.get("plate"), info.get("visit_id"))
                return False
            try:
                self.inner.pulse(lane, info)
                return True
            except PulseUnknown as exc:
                # a second pulse could open the barrier again for the car behind: an attendant checks instead
                log.error("relay %s: %s; the barrier may have opened, not sent again; check it, open by hand if "
                          "shut (plate=%s visit=%s)", lane, exc, info.get("plate"), info.get("visit_id"))
                return False
            except Exception as exc:  # noqa: BLE001 - any other relay fault is retried, never raised
                log.warning("relay %s: pulse failed (try %d/%d): %s", lane, attempt, self.tries, redact(exc))
                if attempt < self.tries:
                    self.sleep(delay)
                    delay *= 2
        log.error("relay %s: gave up after %d tries; decision stands, open by hand (plate=%s visit=%s)",
                  lane, self.tries, info.get("plate"), info.get("visit_id"))
        return False


@dataclass
class RelayWorker:
    """Pulses off the decision path: one thread, pulses in order, each given up ``max_age_s`` after it was due."""

    relay: RetryingRelay
    max_age_s: float = DEFAULT_MAX_AGE_S
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay"), init=False
    )

    def clock(self) -> float:
        """The relay's clock: what ``due`` of ``submit`` is read on."""
        return self.relay.clock()

    def submit(self, lane: Lane, info: dict[str, Any], due: float | None = None) -> Future[bool]:
        """Hand a pulse over; the future says whether the barrier got it. It is given up ``max_age_s`` after the
        hand-over, or twice that after ``due`` (this worker's ``clock()`` when its decision started), whichever
        comes first: a remote ledger's retries once took 13 s and the barrier still opened, yet a decision may
        itself take up to 5 s (a lock wait, a backlog sent first) and its car is still there."""
        now = self.relay.clock()
        deadline = now + self.max_age_s if due is None else min(now + self.max_age_s, due + 2 * self.max_age_s)
        return self._pool.submit(self.relay.pulse, lane, info, deadline)

    def close(self) -> None:
        """Wait for the pulses handed over (each is bounded by its deadline and the relay's timeout)."""
        self._pool.shutdown(wait=True)


def make_relay(spec: str | None, timeout_s: float = DEFAULT_TIMEOUT_S) -> Relay:
    """``None``/"sim" -> SimulatedRelay; an http(s) URL -> HttpRelay with ``timeout_s`` per try."""
    if not spec or spec == "sim":
        return SimulatedRelay()
    if timeout_s <= 0:
        raise ValueError(f"relay timeout {timeout_s!r}: expected seconds > 0")
    if spec.startswith(("http://", "https://")):
        return HttpRelay(spec, timeout_s)
    raise ValueError(f"relay {redact(repr(spec))}: expected 'sim' or an http(s) URL")

"""A remote lane: ``gate run --ledger-url URL --token T`` decides through `gate serve` (POST /api/reads).

Why a queue on disk: the server may be down (restart, network) while cars
keep coming. A read that cannot be sent is written to the lane's state
folder (one JSON file per read, written to a temporary name, synced and
renamed, so a crash leaves whole files or none) and sent, oldest first,
before any newer read and by a background flusher, once the server answers:
nothing is lost and an exit is never decided before the entry queued ahead
of it. Meanwhile the barrier stays shut (an exit owes money the lane cannot
check), except at an entry when ``open_entry_offline`` says a car may come
in unrecorded for now (its visit opens when the queued read arrives). A
queued read's late decision never pulses the relay: that car is gone. A
car's read waits at most one decision's timeout for the backlog ahead of it;
if the backlog is longer, the read joins its end and the barrier stays shut.

A read whose content the server refuses (400, 409, 422) is not retried: a
live read fails closed with one error line; a queued one is moved to
``rejected/`` beside the queue, for an attendant. Any other 4xx (401/403: a
revoked or rotated token; 404/405: a wrong URL; 408, 413, 429: a proxy or a
busy server) is the lane's or the path's fault, not the read's: sending stops,
every read stays queued in order and is retried later, and one line says why
(logged again only when the reason changes); no entry opens offline while the
server refuses the lane, and at start a refused token (401/403) or one bound
to another gate or lane ends the lane with exit 2. The token is sent only in
the Authorization header and never logged.

Each read carries a ``read_id`` (uuid4 hex), made once and kept in its
queued file: a read resent because its answer was lost (a timeout, a reset
after the server committed) gets the first decision back instead of being
decided twice (a second exit could deny a car whose visit the first closed).

A queued read the server keeps failing with a 5xx while its ``/health``
answers (say the read trips a server bug) would block every newer read
forever: after ``defer_after_tries`` tries or ``defer_after_s`` seconds it
is moved to ``deferred/`` beside the queue, and retried from there every
``deferred_every_s`` when the queue is empty (its exit or entry may then be
decided after newer reads: an attendant sees it in the review queue). While
``/health`` fails too (the database or the server is down, a proxy answers
502), nothing is deferred: order is kept. A 503 is the server's answer when
its ledger cannot be written (a full disk, a held lock), which /health, only
reading, does not see: order is kept for ``defer_busy_after_s`` (30 min)
before the head read is set aside, so a read the database can never take
does not shut every later exit for good.
"""
from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Sequence

from gate.lane.redact import redact
from gate.rules.clock import now_utc, parse_time
from gate.rules.codes import Action, Lane, Reason
from gate.rules.decision import Decision
from gate.rules.errors import GateError, InvalidInput
from gate.rules.votes import PlateVote, gate_id
from gate.store.evidence import EvidenceFile
from lpr.plate_format import format_plate, normalize_plate

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 5.0  # a decision while the car waits: a server slower than this counts as down
RETRY_EVERY_S = 2.0
DEFER_AFTER_TRIES = 5  # 5xx answers to the same queued read while the server is up ...
DEFER_AFTER_S = 300.0  # ... or this long: it is set aside in deferred/
DEFERRED_EVERY_S = 300.0  # how often deferred reads are tried again (only when the queue is empty)
# A 503 (the server's ledger busy or unwritable) keeps the order this long before the head read is set aside: a
# full disk is an outage to wait out, but a read the database can never take must not shut every later exit
DEFER_BUSY_AFTER_S = 1800.0
# the server refused this read's content (bad input, a conflict): the read, not the lane, is at fault
_REFUSED_CONTENT = {400, 409, 422}
READ_KEYS = ("lane", "plate", "gate_id", "at")  # what a queued file holds to be a read at all


class Unreachable(Exception):
    """The server did not answer (connection, timeout, 5xx) or does not take reads now: try again later."""


class Held(Unreachable):
    """Any other 4xx (token, URL, proxy, rate limit): nothing is wrong with the read; keep the queue, retry later."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ServerError(Unreachable):
    """The server answered 5xx: its fault, or this read's; counted against the read at the head of the queue."""


class ServerBusy(ServerError):
    """The server answered 503: its ledger is busy or cannot be written (a full disk, a held lock)."""


class Refused(GateError):
    """The server answered 4xx: the read will not be accepted as it is."""


class ReadQueue:
    """Reads waiting for the server: ``<folder>/<seq>.json``, oldest first; ``rejected/`` for refused ones,
    ``deferred/`` for those set aside after repeated server errors (module doc)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"state dir {redact(str(self.folder))!r}: cannot create it ({exc.strerror or exc}), "
                             "expected a writable folder") from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise ValueError(f"state dir {redact(str(self.folder))!r}: not writable, expected a writable folder")
        self._lock_file = _lock(self.folder)
        # past the names set aside too: a new read must never replace one there
        taken = [*self._files(), *self._files("rejected"), *self._files("deferred")]
        self._next = max((int(p.stem) for p in taken), default=0) + 1

    def _files(self, under: str = "") -> list[Path]:
        return sorted(p for p in (self.folder / under).glob("*.json") if p.stem.isascii() and p.stem.isdigit())

    def __len__(self) -> int:
        return len(self._files())

    def put(self, body: dict[str, Any]) -> Path:
        """Append a read durably (temporary file, fsync, rename, fsync of the folder)."""
        path = self.folder / f"{self._next:012d}.json"
        self._next += 1
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(body, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.folder)
        return path

    def oldest(self) -> tuple[Path, dict[str, Any]] | None:
        return next(self._readable(self._files()), None)

    def deferred(self) -> list[tuple[Path, dict[str, Any]]]:
        """The reads set aside after repeated server errors, oldest first."""
        return list(self._readable(self._files("deferred")))

    def _readable(self, paths: list[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
        for path in paths:
            try:
                body = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in READ_KEYS):
                    raise ValueError(f"not a read: expected an object with {', '.join(READ_KEYS)}")
                normalize_plate(body["plate"])
            except (OSError, ValueError) as exc:  # damaged by hand: set aside, never block the queue
                log.error("queued read %s cannot be read (%s): moved to rejected/", path.name, redact(exc))
                self.reject(path)
                continue
            yield path, body

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def reject(self, path: Path) -> None:
        self._move(path, "rejected")

    def defer(self, path: Path) -> None:
        self._move(path, "deferred")

    def _move(self, path: Path, under: str) -> None:
        folder = self.folder / under
        folder.mkdir(exist_ok=True)
        os.replace(path, folder / path.name)
        _fsync_dir(folder)


@dataclass(frozen=True)
class RemoteCommand:
    """A manual open handed out by the server (gate.store.commands), as the command poller needs it."""

    id: int
    visit_id: int | None
    requested_by: str
    reason: str
    stale: bool


class RemoteLedger:
    """The lane's ledger over HTTP (the LedgerLike of gate.lane.process), with the read queue."""

    def __init__(
        self,
        url: str,
        token: str,
        queue: ReadQueue,
        *,
        evidence_root: Path | None = None,
        open_entry_offline: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        defer_after_tries: int = DEFER_AFTER_TRIES,
        defer_after_s: float = DEFER_AFTER_S,
        deferred_every_s: float = DEFERRED_EVERY_S,
        defer_busy_after_s: float = DEFER_BUSY_AFTER_S,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"ledger URL {redact(repr(url))}: expected http(s)://host:port")
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError(f"ledger URL {redact(repr(url))}: expected http(s)://host:port") from None
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"ledger URL {redact(repr(url))}: no user or password in it; the lane signs in with "
                             "its API token (--token)")
        if not token or not token.strip():
            raise ValueError("--token: the camera's API token is required with --ledger-url")
        if timeout_s <= 0:
            raise ValueError(f"ledger timeout {timeout_s!r}: expected seconds > 0")
        self.url = url.rstrip("/")
        self._token = token.strip()
        self.queue = queue
        self.evidence_root = evidence_root
        self.open_entry_offline = open_entry_offline
        self.timeout_s = timeout_s
        self._lock = threading.Lock()  # the queue's order: one sender at a time
        # a car's read wants the lock: the background flusher lets go after the read it is sending (a backlog of
        # 30 reads at 0.2 s each held a car at the barrier 6 s, past the relay's deadline)
        self._car_waiting = threading.Event()
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._held: str | None = None  # why the server does not take this lane's reads now (logged once)
        self.defer_after_tries, self.defer_after_s = defer_after_tries, defer_after_s
        self.deferred_every_s = deferred_every_s
        self.defer_busy_after_s = defer_busy_after_s
        self._failing: tuple[str, int, float] | None = None  # the head read's name, its 5xx answers, since when
        self._deferred_at = time.monotonic()  # when deferred reads were last tried

    # ------------------------------------------------------------------ LedgerLike

    def decide(
        self,
        lane: Lane,
        plate: str,
        at: datetime | None = None,
        confidence: float | None = None,
        char_conf: Sequence[float] | None = None,
        evidence_path: str | None = None,
        *,
        gate: str | None = None,
        votes: Sequence[PlateVote] | None = None,
        evidence: Sequence[EvidenceFile] = (),
        doubt: str | None = None,
    ) -> Decision:
        """The server's committed decision; when it cannot be reached, the read is queued (module doc)."""
        lane = Lane(lane)
        when = at or now_utc()
        body = self._body(lane, normalize_plate(plate), when, confidence, gate or lane.value, votes, evidence)
        if doubt is not None:
            body["doubt"] = doubt
        self._car_waiting.set()
        with self._lock:
            self._car_waiting.clear()
            # the older reads first, for at most one decision's wait: a car never waits on a long backlog
            try:
                self._flush_locked(deadline=time.monotonic() + self.timeout_s)
            except Exception as exc:  # noqa: BLE001 - whatever the backlog does, this car's read is not lost
                log.error("read queue: %s", redact(exc))
            if len(self.queue) == 0:
                try:
                    return self._send_read(body)
                except Unreachable as exc:
                    reason = str(exc)
                except Refused:
                    self.queue.reject(self.queue.put(body))  # kept for an attendant; the gate stays shut
                    raise
            else:
                reason = f"{len(self.queue)} older read(s) still queued"
            path = self.queue.put(body)
        return self._offline(lane, body, path, reason)

    def expire_evidence(self, files: Sequence[str], at: datetime | None = None) -> int:
        """The lane's own copies only: the server keeps (and expires) what it was sent."""
        return 0

    def check_token(self, gate: str, lane: Lane) -> None:
        """At start: a token the server refuses (401/403) or one bound to another barrier is a bad option
        (ValueError: the lane exits 2), not a lane whose reads would wait forever. A server that cannot be
        reached now says nothing of the token: the lane starts and queues (module doc)."""
        try:
            me = self._call("GET", "/api/whoami")
        except Held as exc:
            if exc.status in (401, 403):
                raise ValueError(f"ledger server {redact(self.url)} refuses this lane's token ({exc}): expected "
                                 "a live camera token (gate token create --role camera)") from None
            log.warning("ledger server %s: could not check this lane's token (%s)", redact(self.url), exc)
            return
        except Unreachable as exc:
            log.warning("ledger server %s unreachable at start (%s): reads queue until it answers",
                        redact(self.url), exc)
            return
        bound = (me.get("gate"), me.get("lane")) if isinstance(me, dict) else (None, None)
        if bound[0] is not None and bound != (gate, lane.value):
            raise ValueError(f"token {me.get('name')!r} is bound to the {bound[1]} at gate {bound[0]!r}: "
                             f"this lane is the {lane} at gate {gate!r} (--lane, --gate)")

    def claim_commands(self, gate: str) -> list[RemoteCommand]:
        """This gate's manual opens from the server (raises when it cannot be reached: the poller logs it)."""
        try:
            answer = self._call("POST", f"/api/gates/{gate_id(gate)}/commands/claim")
        except Unreachable as exc:
            raise GateError(f"ledger server: {exc}") from None
        return [RemoteCommand(c["command_id"], c.get("visit_id"), c.get("requested_by", ""), c.get("reason", ""),
                              bool(c.get("stale"))) for c in answer]

    # ------------------------------------------------------------------ the queue

    def flush(self) -> int:
        """Send queued reads, oldest first, until one cannot be sent or a car's read wants the lock; returns how
        many were sent (the background flusher's call: the next one goes on)."""
        with self._lock:
            return self._flush_locked(background=True)

    def _flush_locked(self, deadline: float | None = None, background: bool = False) -> int:
        sent = 0
        while ((deadline is None or time.monotonic() < deadline) and not (background and self._car_waiting.is_set())
               and (item := self.queue.oldest()) is not None):
            path, body = item
            try:
                decision = self._send_read(body)
            except ServerError as exc:
                if not self._keeps_failing(path, isinstance(exc, ServerBusy)) or not self._server_up():
                    return sent
                log.error("queued %s read %s at %s: the server answered %s %d times; moved to deferred/, retried "
                          "later: newer reads go first", body.get("lane"), format_plate(str(body.get("plate"))),
                          body.get("at"), exc, self._failing[1] if self._failing else 0)
                self.queue.defer(path)
                self._failing, self._deferred_at = None, time.monotonic()
                continue
            except Unreachable:
                return sent
            except Refused as exc:
                self._reject(path, body, exc, "queued")
                continue
            self.queue.remove(path)
            self._failing = None
            sent += 1
            log.info("queued %s read %s at %s sent: %s (%s), decision %s; not pulsed (the car is gone)",
                     decision.lane, format_plate(decision.plate), body.get("at"), decision.action, decision.reason,
                     decision.decision_id)
        if deadline is None and len(self.queue) == 0 and time.monotonic() - self._deferred_at >= self.deferred_every_s:
            sent += self._flush_deferred()
        return sent

    def _reject(self, path: Path, body: dict[str, Any], exc: Refused, which: str) -> None:
        """A read the server refuses as it is: set aside in rejected/ for an attendant, with one error line."""
        log.error("%s %s read %s refused by the server, moved to rejected/: %s", which, body.get("lane"),
                  format_plate(str(body.get("plate"))), exc)
        self.queue.reject(path)

    def _keeps_failing(self, path: Path, busy: bool = False) -> bool:
        """Count a 5xx against the head read; True once it has had enough tries or time to be set aside (a 503,
        ``busy``: only after ``defer_busy_after_s``)."""
        now = time.monotonic()
        name, tries, since = self._failing if self._failing and self._failing[0] == path.name else (path.name, 0, now)
        self._failing = (name, tries + 1, since)
        if busy:
            return now - since >= self.defer_busy_after_s
        return tries + 1 >= self.defer_after_tries or now - since >= self.defer_after_s

    def _server_up(self) -> bool:
        """Whether ``/health`` answers 200: then the 5xx is this read's, not a server or database that is down."""
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=self.timeout_s) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
            return False

    def _flush_deferred(self) -> int:
        """The reads set aside, oldest first, once more (the queue is empty: nothing newer waits on them)."""
        self._deferred_at = time.monotonic()
        sent = 0
        for path, body in self.queue.deferred():
            if self._car_waiting.is_set():
                break  # the rest at the next round: a car's read goes first
            try:
                decision = self._send_read(body)
            except ServerError:
                continue  # stays deferred; the others may go
            except Unreachable:
                break
            except Refused as exc:
                self._reject(path, body, exc, "deferred")
                continue
            self.queue.remove(path)
            sent += 1
            log.warning("deferred %s read %s at %s sent late (newer reads went first): %s (%s), decision %s",
                        decision.lane, format_plate(decision.plate), body.get("at"), decision.action,
                        decision.reason, decision.decision_id)
        return sent

    def start(self, every_s: float = RETRY_EVERY_S) -> None:
        """Retry the queue in the background, so it drains when no car comes."""
        def run() -> None:
            while not self._stop.wait(every_s):
                if len(self.queue) or time.monotonic() - self._deferred_at >= self.deferred_every_s:
                    try:
                        self.flush()
                    except Exception as exc:  # noqa: BLE001 - keep retrying
                        log.warning("read queue: %s", redact(exc))

        self._flusher = threading.Thread(target=run, name="read-queue", daemon=True)
        self._flusher.start()

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(10)

    def __enter__(self) -> "RemoteLedger":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _body(self, lane: Lane, plate: str, at: datetime, confidence: float | None, gate: str,
              votes: Sequence[PlateVote] | None, evidence: Sequence[EvidenceFile]) -> dict[str, Any]:
        body: dict[str, Any] = {"lane": lane.value, "gate_id": gate_id(gate), "plate": plate,
                                "confidence": None if confidence is None else round(float(confidence), 6),
                                "at": at.isoformat().replace("+00:00", "Z"),
                                "read_id": uuid.uuid4().hex}  # made once: a resend carries the same id
        if votes is not None:
            body["votes"] = [PlateVote.parse(v).to_dict() for v in votes]
        images = {}
        for e in evidence:
            if self.evidence_root is None:
                break
            try:
                images[str(e.kind)] = base64.b64encode((self.evidence_root / e.file).read_bytes()).decode()
            except OSError as exc:
                log.warning("evidence %s not sent: %s", e.file, exc)
        if images:
            body["evidence"] = images
        return body

    def _send_read(self, body: dict[str, Any]) -> Decision:
        """POST /api/reads; a server older than read ids (it refuses the field) gets the read without one.

        Anything else that goes wrong (an answer nobody foresaw, a bug) counts against the read like a 5xx: a live
        read is queued, a queued one set aside in time, never lost and never holding newer reads for good."""
        try:
            return self._post_read(body)
        except (Unreachable, Refused):
            raise
        except Exception as exc:  # noqa: BLE001 - see above
            raise ServerError(redact(f"{type(exc).__name__}: {exc}")) from None

    def _post_read(self, body: dict[str, Any]) -> Decision:
        try:
            return self._decision(self._call("POST", "/api/reads", body))
        except Refused as exc:
            if "read_id" not in body or "read_id: Extra inputs are not permitted" not in str(exc):
                raise
        log.warning("ledger server %s predates read ids: read sent without one (a resend may be decided twice); "
                    "upgrade it", redact(self.url))
        return self._decision(self._call("POST", "/api/reads", {k: v for k, v in body.items() if k != "read_id"}))

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if method == "GET" else b"" if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        # never copied onto a redirect: urllib hands the other headers to whatever host a 3xx names
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = redact(_detail(exc).replace(self._token, "***"))
            if exc.code in _REFUSED_CONTENT:
                raise Refused(f"HTTP {exc.code}: {detail}") from None
            if exc.code == 503:  # the server says its ledger is busy or down (/health only reads): keep the order
                raise ServerBusy(f"HTTP {exc.code}: {detail}") from None
            if exc.code >= 500:
                raise ServerError(f"HTTP {exc.code}: {detail}") from None
            if 400 <= exc.code < 500:
                held = f"HTTP {exc.code}: {detail}"
                if held != self._held:  # one line per reason, not one per retry
                    log.error("ledger server %s does not take this lane's reads (%s): they stay queued and are "
                              "retried; check the token, the URL and any proxy", redact(self.url), held)
                    self._held = held
                raise Held(held, exc.code) from None
            raise Unreachable(f"HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            # refused, reset, timeout, half an answer, or one that is not HTTP (a TLS port, a proxy's garbage)
            raise Unreachable(redact(str(getattr(exc, "reason", exc)))) from None
        if self._held is not None:
            log.warning("ledger server %s takes this lane's reads again", redact(self.url))
            self._held = None
        return answer

    def _decision(self, answer: Any) -> Decision:
        try:
            return Decision(
                action=Action(answer["action"]), reason=Reason(answer["reason"]), visit_id=answer.get("visit_id"),
                amount_due=Decimal(str(answer.get("amount_due", 0))).quantize(Decimal("0.01")),
                lane=Lane(answer["lane"]), plate=answer["plate"], flagged=bool(answer.get("flagged")),
                matched_plate=answer.get("matched_plate"), note=answer.get("note") or "",
                decision_id=answer.get("decision_id"),
                at=None if answer.get("at") is None else parse_time(answer["at"]), gate=answer.get("gate_id"),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError, InvalidInput) as exc:
            # counted against the read like a 5xx: a server up that answers one read so is set aside in time
            raise ServerError(f"an answer that is not a decision: {exc!r:.80}") from None

    def _offline(self, lane: Lane, body: dict[str, Any], path: Path, why: str) -> Decision:
        # a server that answers and refuses this lane (its token, the URL) is not down: no entry opens for that
        opens = lane is Lane.ENTRY and self.open_entry_offline and self._held is None
        state = "unreachable" if self._held is None else f"refuses this lane ({self._held})"
        note = (f"ledger server {state} ({why}); read queued as {path.name}; "
                + ("entry opened offline" if opens else "the gate stays shut"))
        log.warning("%s %s: %s", lane, format_plate(body["plate"]), note)
        return Decision(action=Action.OPEN if opens else Action.REVIEW, reason=Reason.OFFLINE, visit_id=None,
                        amount_due=Decimal("0.00"), lane=lane, plate=body["plate"], flagged=True, note=note,
                        at=parse_time(body["at"]), gate=body["gate_id"])


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("detail", exc.reason))[:200]
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return str(exc.reason)


def _lock(folder: Path) -> Any:
    """One lane per queue: an entry and an exit given the same --gate and --state-dir would send each other's reads
    (and a crash of one leave the other's half-sent). A POSIX lock, held while the process lives (per process: the
    same lane opening its queue again keeps it)."""
    import fcntl

    handle = open(folder / ".lock", "a+b")  # noqa: SIM115 - kept open: the lock lives as long as the file is open
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise ValueError(f"state dir {redact(str(folder))!r}: another lane's read queue (the same --gate and "
                         "--state-dir): give each lane its own --gate or --state-dir") from None
    return handle


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

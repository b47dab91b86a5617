"""Ledger: the one front of the database for the CLI and the camera process.

Every public write runs in one transaction (``Engine.begin()``) that is
committed before the method returns, so the caller may pulse the relay only
after the decision is durable. Reads and writes are SQLAlchemy Core on the
gate.store.models tables; the queries and the locking rules are in
gate.store.queries, the entry and exit rules of a read in gate.store.decide.
A lost race (a concurrent writer closed the visit, a
unique index refused a second open visit, SQLite busy, a PostgreSQL
serialization failure) rolls the transaction back and runs it again from the
start, for at most the policy's ``decision_wait_s`` in all: then LedgerBusy,
nothing written, and the gate stays shut.

The public methods are the API edge: every plate goes through
lpr.plate_format.normalize_plate, every time through the policy's time
window, every id and text through a range or length check, before anything
is written (InvalidInput). Database failures (locked, read-only, full,
corrupt, a column gone) come out as LedgerUnavailable with the driver's first
line; the transaction is rolled back.
"""
from __future__ import annotations

import calendar
import functools
import logging
import math
import re
import sqlite3
import threading
import time
import unicodedata
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Concatenate, Iterator, Mapping, ParamSpec, Sequence, TypeVar, overload
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Connection, Engine, String, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from gate.rules.clock import DEFAULT_TIMEZONE, check_window, day_end, day_start, local_day, now_utc, to_utc, zone
from gate.rules.codes import (
    CloseReason,
    EvidenceKind,
    Lane,
    ListKind,
    OverrideAction,
    ReviewKind,
    VisitState,
)
from gate.rules.config import Settings, load_settings
from gate.rules.decision import Decision
from gate.rules.errors import (
    ClockError,
    GateError,
    InvalidInput,
    LedgerBusy,
    LedgerUnavailable,
    NoOpenVisit,
    PaymentConflict,
    UnknownEvidence,
    UnknownVisit,
)
from gate.rules.matching import near_plates
from gate.rules.money import to_shekels
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff, amount_due_agorot, billed_until, fee_agorot, paid_until
from gate.rules.votes import PlateVote, gate_id, parse_votes
from gate.store import db, listing, models, queries, schema
from gate.store import evidence as evidence_queries
from gate.store.billing import Candidate, PaymentPage, Quote, RevenueRow, VisitPage
from gate.store.decide import Read, closing_fee, decide_entry, decide_exit, replayed
from gate.store.evidence import EvidenceFile, EvidenceRecord
from gate.store.listing import MIN_PARTIAL_DIGITS, VisitFilter
from gate.store.queries import LostRace
from gate.store.records import PaymentReceipt, ReviewEntry, VisitRecord
from lpr.plate_format import ascii_digits, format_plate, normalize_plate

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

_MAX_ATTEMPTS = 8
MAX_ID = 2**31 - 1  # INTEGER ids on PostgreSQL; larger ones overflowed SQLite's driver


def _pinned(method: Callable[Concatenate[Ledger, P], T]) -> Callable[Concatenate[Ledger, P], T]:
    """Run a Ledger operation under the config current when it began (Ledger.settings), nested calls included."""

    @functools.wraps(method)
    def run(ledger: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if getattr(ledger._pin, "settings", None) is not None:
            return method(ledger, *args, **kwargs)
        ledger._pin.settings = ledger._settings
        try:
            return method(ledger, *args, **kwargs)
        finally:
            ledger._pin.settings = None

    return run


class Ledger:
    """Visits, payments and gate decisions on one database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        tariff: Tariff | None = None,
        policy: Policy | None = None,
        timezone: ZoneInfo | None = None,
    ) -> None:
        self.engine = engine
        # the lot's timezone: naive input, local days of reports
        self._settings = Settings(tariff or Tariff(), policy or Policy(), timezone or zone(DEFAULT_TIMEZONE))
        self._pin = threading.local()
        # SQLite takes one writer at a time; threads of this process (the API's pool) queue here and are
        # handed the lock at once, instead of in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms
        # (re-entrant: a transaction started inside another one waits on SQLite as it always did, not here)
        self._writer: threading.RLock | _NoLock = threading.RLock() if engine.dialect.name == "sqlite" else _NoLock()

    # ------------------------------------------------------------------ config

    @property
    def settings(self) -> Settings:
        """The config this call works under: the one current when this thread's operation began.

        A reload swaps the config while other threads decide (gate serve applies SIGHUP on its event loop,
        its requests run in worker threads), so an operation pins the config once and reads only that:
        a decision is made wholly under the old config or wholly under the new one."""
        pinned: Settings | None = getattr(self._pin, "settings", None)
        return self._settings if pinned is None else pinned

    @property
    def tariff(self) -> Tariff:
        return self.settings.tariff

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    @property
    def timezone(self) -> ZoneInfo:
        return self.settings.timezone

    def reconfigure(
        self, *, tariff: Tariff | None = None, policy: Policy | None = None, timezone: ZoneInfo | None = None
    ) -> None:
        """Swap in new settings in one step (gate.reload): an operation begun after sees all, one begun before none."""
        now = self._settings
        self._settings = Settings(now.tariff if tariff is None else tariff, now.policy if policy is None else policy,
                                  now.timezone if timezone is None else timezone)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        tariff: Tariff | None = None,
        policy: Policy | None = None,
        config: str | None = None,
        migrate: bool = True,
        sqlite_synchronous: str = "NORMAL",
    ) -> "Ledger":
        """Connect (``url`` > $PLATEGATE_DB > ./plategate.db) and check the schema version, without a lock.

        An empty database gets the schema when ``migrate`` (the first start);
        any other version than this code's raises SchemaMismatch (``gate db
        upgrade`` migrates). A tariff or policy not given comes from ``config``
        (or $PLATEGATE_CONFIG), else the defaults of gate.rules.tariff and
        gate.rules.policy.
        """
        settings = load_settings(config)
        engine = db.make_engine(url, sqlite_synchronous=sqlite_synchronous)
        try:
            with _database_errors():
                schema.check(engine, create=migrate)
        except Exception:
            engine.dispose()
            raise
        return cls(engine, tariff or settings.tariff, policy or settings.policy, settings.timezone)

    @staticmethod
    def upgrade_schema(url: str | None = None) -> tuple[str | None, str]:
        """Migrate the database to this code's schema (``gate db upgrade``): (before, after)."""
        engine = db.make_engine(url)
        try:
            with _database_errors():
                return schema.upgrade(engine)
        finally:
            engine.dispose()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ decisions

    @_pinned
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
        votes: Sequence[PlateVote | Mapping[str, Any]] | None = None,
        evidence: Sequence[EvidenceFile] = (),
        doubt: str | None = None,
        read_key: str | None = None,
    ) -> Decision:
        """Record a read and decide; committed before returning. Raises PlateFormatError.

        ``read_key`` is the camera's own id of the read (1-64 of A-Z a-z 0-9 _ -): a read resent with
        it (its answer was lost) gets the first decision back, ``replayed``, and nothing is recorded
        again, as ``payment_id`` does for a payment; the same key for another lane or plate is a GateError.

        ``doubt`` says why the camera's pass is not sure of the plate (a split pass): the decision is
        flagged for review as a low-confidence one is.

        ``gate`` names the barrier (default: the lane's name); ``votes`` are the pass's candidate plates;
        ``evidence`` the images already written into the evidence folder, recorded with the decision in
        its transaction (gate.store.evidence).
        """
        try:
            lane = Lane(lane)
        except ValueError:
            raise InvalidInput(f"invalid lane {lane!r}: expected entry or exit") from None
        kinds = [EvidenceKind(e.kind) for e in evidence]
        if len(set(kinds)) != len(kinds):
            raise InvalidInput("evidence: at most one image of each kind")
        read = Read(
            lane=lane,
            plate=normalize_plate(plate),
            at=self._when(at),
            confidence=None if confidence is None else _fraction("confidence", confidence),
            char_conf=None if char_conf is None else [_fraction("char_conf", c) for c in char_conf],
            evidence_path=_text(models.reads.c.evidence_path, evidence_path),
            gate=lane.value if gate is None else gate_id(gate),
            votes=parse_votes(votes),
            evidence=tuple(evidence),
            doubt=_doubt(doubt),
            key=None if read_key is None else _read_key(read_key),
        )
        low_conf = read.doubt is not None or (
            read.confidence is not None and read.confidence < self.policy.min_confidence
        )
        step = decide_entry if lane is Lane.ENTRY else decide_exit

        def once(conn: Connection) -> Decision:
            # a concurrent resend loses on the unique read_key, is retried and finds this one
            previous = None if read.key is None else replayed(conn, read.key)
            if previous is None:
                return step(conn, read, low_conf, self.tariff, self.policy)
            if (previous.lane, previous.plate) != (read.lane, read.plate):
                raise GateError(f"read_id {read.key!r} was already used for the {previous.lane} read of "
                                f"{format_plate(previous.plate)}")
            return previous

        try:
            decision = self._transaction(once)
        except LedgerUnavailable as exc:
            # nothing was written: this log line is the read's only record; an attendant enters it by hand
            log.error(
                "UNRECORDED %s read %s at %s (confidence %s): %s; the gate stays closed",
                lane, read.plate, read.at.isoformat(), read.confidence, exc,
            )
            raise
        log.info(
            "%s %s -> %s (%s) visit=%s due=%s%s%s",
            lane,
            read.plate,
            decision.action,
            decision.reason,
            decision.visit_id,
            decision.amount_due,
            " flagged" if decision.flagged else "",
            " (replay)" if decision.replayed else "",
        )
        return decision

    # ------------------------------------------------------------------ payments

    @_pinned
    def pay(
        self,
        plate: str,
        at: datetime | None = None,
        payment_id: str | None = None,
        visit_id: int | None = None,
    ) -> PaymentReceipt:
        """Pay what the open visit owes at ``at``; a replayed payment_id changes nothing.

        ``visit_id`` pays for a candidate of the quote (the entry misread the
        plate): it must be open and near the typed plate, which is recorded as
        ``typed_plate``; the visit is flagged and a review item added.
        Raises NoOpenVisit, UnknownVisit, ClockError (before entry or before the
        last payment), PaymentConflict (payment id used for another plate or
        visit), GateError (not a candidate), PlateFormatError.
        """
        digits = normalize_plate(plate)
        when = None if at is None else self._when(at)  # now: taken inside the transaction, in commit order
        pid = _text(models.payments.c.payment_id, payment_id) or uuid.uuid4().hex
        chosen = None if visit_id is None else _id("visit_id", visit_id)
        receipt = self._transaction(lambda conn: self._pay(conn, digits, when, pid, chosen))
        log.info(
            "pay %s visit=%s amount=%s fee=%s%s",
            digits,
            receipt.visit_id,
            to_shekels(receipt.amount_agorot),
            to_shekels(receipt.fee_agorot),
            " (replay)" if receipt.replayed else "",
        )
        return receipt

    def _pay(
        self, conn: Connection, plate: str, when: datetime | None, payment_id: str, visit_id: int | None = None
    ) -> PaymentReceipt:
        previous = queries.payment(conn, payment_id)
        if previous is not None:
            typed = previous.typed_plate or previous.plate
            if typed != plate:
                raise PaymentConflict(f"payment id {payment_id!r} was already used for plate {typed}")
            if visit_id is not None and visit_id != previous.visit_id:
                raise PaymentConflict(f"payment id {payment_id!r} was already used for visit {previous.visit_id}")
            current = queries.open_visit(conn, plate)
            if current is not None and current.id != previous.visit_id:
                # a pay station whose ids repeat (a daily counter) paid a later visit of the same car: replaying
                # the old receipt took the money, recorded nothing, and the exit then refused the car
                raise PaymentConflict(f"payment id {payment_id!r} paid visit {previous.visit_id}, which has "
                                      f"closed; open visit {current.id} needs a new payment id")
            return PaymentReceipt(
                visit_id=previous.visit_id,
                plate=previous.plate,
                payment_id=payment_id,
                fee_agorot=previous.fee_agorot,
                paid_agorot=queries.paid_of(conn, previous.visit_id),
                amount_agorot=previous.amount_agorot,
                paid_at=previous.paid_at,
                leave_by=self._leave_by(conn, previous),
                replayed=True,
                typed_plate=previous.typed_plate,
            )
        visit = _require_open_visit(conn, plate) if visit_id is None else self._candidate(conn, plate, visit_id)
        at = when or now_utc()  # after the visit is locked: two payments "now" are timed in commit order
        typed_plate = plate if visit.plate != plate else None
        if at < visit.entry_at:
            raise ClockError(
                f"payment time {at.isoformat()} is before the entry at {visit.entry_at.isoformat()} (clock went back?)"
            )
        if visit.last_paid_at is not None and at < visit.last_paid_at:
            raise ClockError(
                f"payment time {at.isoformat()} is before the previous payment at {visit.last_paid_at.isoformat()}"
            )
        free = visit.waived or any(queries.allow_listed(conn, p) for p in {plate, visit.plate})
        # charged as the exit would charge now: inside the grace after a payment the stay is billed up to it
        fee = 0 if free else fee_agorot(self.tariff, visit.entry_at, billed_until(self.tariff, at, visit.last_paid_at))
        amount = max(0, fee - visit.paid_agorot)
        # the grace runs from the last payment that took money (or the first payment of all, which may be 0 in
        # the free minutes): a payment of nothing after that does not move it, or paying 0 every 14 minutes
        # would park for free
        paid_at = visit.last_paid_at if amount == 0 and visit.last_paid_at is not None else at
        queries.insert_row(
            conn,
            models.payments,
            {
                "payment_id": payment_id,
                "visit_id": visit.id,
                "plate": visit.plate,
                "typed_plate": typed_plate,
                "amount_agorot": amount,
                "fee_agorot": fee,
                "paid_at": at,
            },
        )
        queries.add_payment(conn, visit.id, amount, paid_at)
        if typed_plate is not None:
            # the entry (or the driver) got a digit wrong: an operator confirms or reassigns
            why = f"paid as {format_plate(plate)} for visit {visit.id} entered as {format_plate(visit.plate)}"
            queries.update_open_visit(conn, visit.id, flagged=True, flag_reason=why)
            review = {"kind": ReviewKind.PAY_CANDIDATE.value, "plate": plate, "visit_id": visit.id,
                      "decision_id": None, "reason": why, "created_at": at}
            queries.insert_row(conn, models.review_items, review)
        return PaymentReceipt(
            visit_id=visit.id,
            plate=visit.plate,
            payment_id=payment_id,
            fee_agorot=fee,
            paid_agorot=visit.paid_agorot + amount,
            amount_agorot=amount,
            paid_at=at,
            leave_by=paid_until(self.tariff, visit.entry_at, visit.paid_agorot + amount, paid_at, at),
            typed_plate=typed_plate,
        )

    def _leave_by(self, conn: Connection, payment: Any) -> datetime:
        """A replayed receipt's time to leave, as the first receipt said: the grace from the payment that started it
        (a payment of 0 inside the grace did not move it), or the end of the stay the fee paid for when later."""
        start = queries.grace_start(conn, payment.visit_id, payment.id) or payment.paid_at
        visit = queries.visit_by_id(conn, payment.visit_id)
        if visit is None:
            return start + self.tariff.grace
        return paid_until(self.tariff, visit.entry_at, payment.fee_agorot, start, payment.paid_at)

    def _candidate(self, conn: Connection, plate: str, visit_id: int) -> VisitRecord:
        """The visit the driver chose: open, and the typed plate's own or one of its quote's candidates."""
        visit = queries.visit_by_id(conn, visit_id)
        if visit is None:
            raise UnknownVisit(f"no visit {visit_id}")
        if not visit.is_open:
            raise GateError(f"visit {visit_id} is already closed")
        if visit.plate == plate:
            return visit
        own = queries.open_visit(conn, plate)
        if own is not None:
            raise GateError(f"plate {format_plate(plate)} has its own open visit {own.id}: pay that one")
        if not near_plates(plate, [(visit.id, visit.plate)], max_digits=self.policy.fuzzy_max_digits):
            raise GateError(
                f"visit {visit_id} ({format_plate(visit.plate)}) is not a candidate for plate {format_plate(plate)}"
            )
        return visit

    @_pinned
    def quote(self, plate: str, at: datetime | None = None) -> Quote:
        """What ``plate`` owes at an exit at ``at`` (no write, no lock).

        Without an open visit of exactly that plate, the open visits the exit
        would match it to (one digit, or the policy's fuzzy distance) are the
        candidates, each with its entry time and entry image, so the driver can
        pay for the car they drove in. NoOpenVisit only when there are none.
        """
        digits = normalize_plate(plate)
        when = self._when(at)
        with self._reader() as conn:
            visit = queries.open_visit_unlocked(conn, digits)
            if visit is not None:
                due = self._due(conn, visit, when)
                return Quote(digits, when, self.tariff.currency, visit, due, self._paid_until(visit, when, due))
            near = near_plates(digits, queries.open_plates(conn), max_digits=self.policy.fuzzy_max_digits)
            ids = [visit_id for visit_id, _ in near]
            found = queries.visits_by_ids(conn, ids)
            images = queries.entry_evidence(conn, ids)
            candidates = [
                Candidate(v.id, v.plate, v.entry_at, images.get(v.id), self._due(conn, v, max(when, v.entry_at)))
                for v in (found[i] for i in ids if i in found)
            ]
        if not candidates:
            raise NoOpenVisit(f"no open visit for plate {format_plate(digits)}")
        return Quote(digits, when, self.tariff.currency, candidates=candidates)

    def _due(self, conn: Connection, visit: VisitRecord, at: datetime) -> int:
        if visit.waived or queries.allow_listed(conn, visit.plate):
            return 0
        return amount_due_agorot(self.tariff, visit.entry_at, at, visit.paid_agorot, visit.last_paid_at)

    def _paid_until(self, visit: VisitRecord, at: datetime, due: int) -> datetime | None:
        """Up to when an exit owes nothing: the grace after the last payment, or the free minutes."""
        if due or visit.waived:
            return None
        if visit.last_paid_at is not None:
            return paid_until(self.tariff, visit.entry_at, visit.paid_agorot, visit.last_paid_at, at)
        free_until = visit.entry_at + timedelta(minutes=self.tariff.free_minutes)
        return free_until if at <= free_until and visit.paid_agorot == 0 else None

    @_pinned
    def amount_due(self, plate: str, at: datetime | None = None) -> int:
        """Agorot the open visit for ``plate`` would owe at an exit at ``at`` (no write)."""
        digits = normalize_plate(plate)
        when = self._when(at)

        def look(conn: Connection) -> int:
            visit = _require_open_visit(conn, digits)
            if visit.waived or queries.allow_listed(conn, digits):
                return 0
            return amount_due_agorot(self.tariff, visit.entry_at, when, visit.paid_agorot, visit.last_paid_at)

        return self._transaction(look)

    # ------------------------------------------------------------------ operator overrides

    @_pinned
    def override_open(self, plate: str, operator: str, reason: str, at: datetime | None = None) -> VisitRecord:
        """Open a visit by hand (e.g. the car came in while the camera was down)."""
        digits, when = normalize_plate(plate), self._when(at)
        _require_who_why(operator, reason)

        def run(conn: Connection) -> int:
            queries.take_entry_lock(conn)
            existing = queries.open_visit(conn, digits)
            if existing is not None:
                raise GateError(f"plate {format_plate(digits)} already has open visit {existing.id}")
            visit_id = queries.insert_visit(conn, digits, when)
            _record_override(conn, operator, reason, OverrideAction.OPEN_VISIT, visit_id, digits, None, when)
            return visit_id

        return self.visit(self._transaction(run))

    @_pinned
    def override_close(
        self,
        operator: str,
        reason: str,
        *,
        visit_id: int | None = None,
        plate: str | None = None,
        at: datetime | None = None,
    ) -> VisitRecord:
        """Close an open visit by hand; its fee is recorded, unpaid or not."""

        def close(conn: Connection, visit: VisitRecord, when: datetime) -> int:
            if when < visit.entry_at:
                raise ClockError(f"close time {when.isoformat()} is before the entry at {visit.entry_at.isoformat()}")
            fee = closing_fee(self.tariff, visit, when, queries.allow_listed(conn, visit.plate))
            queries.close_visit(conn, visit, exit_at=when, fee=fee, close_reason=CloseReason.OVERRIDE)
            return fee

        return self._override_visit(OverrideAction.CLOSE_VISIT, close, operator, reason, visit_id, plate, at)

    @_pinned
    def waive(
        self,
        operator: str,
        reason: str,
        *,
        visit_id: int | None = None,
        plate: str | None = None,
        at: datetime | None = None,
    ) -> VisitRecord:
        """Waive the fee of an open visit: it may leave without paying."""

        def waive(conn: Connection, visit: VisitRecord, when: datetime) -> int:
            until = max(when, visit.entry_at)
            due = amount_due_agorot(self.tariff, visit.entry_at, until, visit.paid_agorot, visit.last_paid_at)
            queries.update_open_visit(conn, visit.id, waived=True)
            return due

        return self._override_visit(OverrideAction.WAIVE, waive, operator, reason, visit_id, plate, at)

    def _override_visit(
        self,
        action: OverrideAction,
        change: Callable[[Connection, VisitRecord, datetime], int],
        operator: str,
        reason: str,
        visit_id: int | None,
        plate: str | None,
        at: datetime | None,
    ) -> VisitRecord:
        """An operator's change to one open visit (by id or plate), recorded with the amount it returns."""
        when = self._when(at)
        _require_who_why(operator, reason)
        if (visit_id is None) == (plate is None):
            raise InvalidInput("give exactly one of a visit id or a plate")
        visit_id = None if visit_id is None else _id("visit id", visit_id)
        plate = None if plate is None else normalize_plate(plate)

        def run(conn: Connection) -> int:
            visit = _open_visit_for_override(conn, visit_id, plate)
            amount = change(conn, visit, when)
            _record_override(conn, operator, reason, action, visit.id, visit.plate, amount, when)
            return visit.id

        return self.visit(self._transaction(run))

    def overrides(self) -> list[dict[str, Any]]:
        """Every operator action, oldest first."""
        with self._reader() as conn:
            return [dict(r._mapping) for r in conn.execute(select(models.overrides).order_by(models.overrides.c.id))]

    # ------------------------------------------------------------------ plate lists

    @_pinned
    def add_plate(
        self,
        plate: str,
        kind: ListKind,
        note: str | None = None,
        *,
        holder: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        """Put a plate on the allow (subscribers) or deny list; idempotent (an entry already there is kept;
        gate.store.plate_lists edits one). ``holder``: whose plate (at most 100 characters); ``expires_at``
        (timezone-aware): the entry no longer applies from then on."""
        digits, kind = normalize_plate(plate), _list_kind(kind)
        note = _text(models.plate_lists.c.note, note)
        holder = _text(models.plate_lists.c.holder, holder)
        expires = _expiry(expires_at)

        def run(conn: Connection) -> None:
            if kind not in queries.lists_of(conn, digits, expired=True):  # an expired entry is still a row
                queries.add_list_entry(conn, digits, kind, note, now_utc(), holder=holder, expires_at=expires)

        self._transaction(run)

    @_pinned
    def remove_plate(self, plate: str, kind: ListKind) -> bool:
        """Take a plate off a list; False if it was not on it."""
        digits, kind = normalize_plate(plate), _list_kind(kind)
        return self._transaction(lambda conn: queries.delete_list_entry(conn, digits, kind))

    def plate_lists(self) -> list[dict[str, Any]]:
        with self._reader() as conn:
            lists = models.plate_lists
            rows = conn.execute(select(lists).order_by(lists.c.kind, lists.c.plate)).all()
        return [{"plate": r.plate, "list": r.kind, "holder": r.holder, "note": r.note,
                 "added_at": r.added_at.isoformat(),
                 "expires_at": None if r.expires_at is None else r.expires_at.isoformat()} for r in rows]

    # ------------------------------------------------------------------ queries

    @_pinned
    def visits(
        self,
        plate: str | None = None,
        inside: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        plate_contains: str | None = None,
        unpaid: bool = False,
        flagged: bool = False,
    ) -> list[VisitRecord]:
        """Visits overlapping [since, until] (by entry and exit time), oldest entry first: the whole listing.

        The filters are ``visit_filter``'s; ``visit_page`` gives one page of them.
        """
        found = self.visit_filter(plate=plate, inside=inside, since=since, until=until,
                                  plate_contains=plate_contains, unpaid=unpaid, flagged=flagged)
        with self._reader() as conn:
            return listing.visits_all(conn, found)

    @_pinned
    def visit_filter(
        self,
        *,
        plate: str | None = None,
        plate_contains: str | None = None,
        inside: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
        unpaid: bool = False,
        flagged: bool = False,
    ) -> VisitFilter:
        """A listing's filters checked at the edge: plates normalised, times in the policy's window."""
        part = None
        if plate_contains is not None:
            part = ascii_digits(unicodedata.normalize("NFKC", str(plate_contains)))
            part = re.sub(r"[\s\-\u2010-\u2015\u2212]", "", part)
            if not (part.isascii() and part.isdigit() and MIN_PARTIAL_DIGITS <= len(part) <= 8):
                raise InvalidInput(f"plate_contains {plate_contains!r:.20}: expected 3 to 8 digits of a plate")
        return VisitFilter(
            plate=None if plate is None else normalize_plate(plate),
            plate_contains=part,
            inside=bool(inside),
            since=None if since is None else self._when(since, "since"),
            until=None if until is None else self._when(until, "until"),
            unpaid=bool(unpaid),
            flagged=bool(flagged),
        )

    def visit_page(self, found: VisitFilter, limit: int = 100, offset: int = 0) -> VisitPage:
        """One page of ``visit_filter``'s visits, oldest entry first, and how many there are in all."""
        limit, offset = _paging(limit, offset)
        with self._reader() as conn:
            return listing.visit_page(conn, found, limit, offset)

    @_pinned
    def payments(
        self, since: datetime | None = None, until: datetime | None = None, limit: int = 100, offset: int = 0
    ) -> PaymentPage:
        """Payments made in [since, until), oldest first, one page, with the count and sum of all of them."""
        limit, offset = _paging(limit, offset)
        start = None if since is None else self._when(since, "since")
        end = None if until is None else self._when(until, "until")
        with self._reader() as conn:
            return listing.payment_page(conn, start, end, limit, offset)

    @_pinned
    def revenue(self, first: date, last: date, by: str = "day") -> list[RevenueRow]:
        """Payments per local day (or month) from ``first`` to ``last`` inclusive: the lot's days, not UTC's.
        A month row is labelled by its first day but counts only the days of it in the range.

        Each day is one index range on paid_at, its bounds computed in the lot's
        time zone (a DST day has 23 or 25 hours); days without payments are 0.
        """
        if by not in ("day", "month"):
            raise InvalidInput(f"by {by!r}: expected day or month")
        if last < first:
            raise InvalidInput(f"to {last.isoformat()} is before from {first.isoformat()}")
        # counted before listing them: a range of thousands of years would otherwise be built first
        count = ((last - first).days + 1 if by == "day"
                 else (last.year - first.year) * 12 + last.month - first.month + 1)
        if count > MAX_REPORT_PERIODS:
            raise InvalidInput(f"a report of {count} {by}s: at most {MAX_REPORT_PERIODS} at once")
        starts = _periods(first, count, by)
        try:
            bounds = [day_start(first, self.timezone)]  # a month row counts only from..to's days of it
        except InvalidInput as exc:
            raise InvalidInput(f"from {first.isoformat()}: {exc}") from None
        earliest, _ = self.policy.time_window(now_utc())
        if bounds[0] < earliest < day_end(first, self.timezone):
            bounds[0] = earliest  # the window opens inside the first day: 2000-01-01 in Jerusalem began before it
        self._when(bounds[0], f"from {first.isoformat()}")  # inside the policy's window (and the calendar)
        # `to` is within MAX_REPORT_PERIODS of a `from` in the policy's window: far from the calendar's end
        bounds += [day_start(d, self.timezone) for d in starts[1:]] + [day_end(last, self.timezone)]
        rows = []
        with self._reader() as conn:
            for period, since, until in zip(starts, bounds, bounds[1:]):
                count, amount = listing.payment_sum(conn, since, until)
                rows.append(RevenueRow(period, count, amount))
        return rows

    @_pinned
    def report_range(self, first: date | None, last: date | None, by: str = "day") -> tuple[date, date]:
        """A report's days as asked, defaults filled: by day today (from `first` to itself); by month this
        month (from `first` to the end of its month), so `--by month --from 2025-11-01` is all of November."""
        if by == "month":
            first = first or self.today().replace(day=1)
            return first, last or first.replace(day=calendar.monthrange(first.year, first.month)[1])
        first = first or self.today()
        return first, last or first

    @_pinned
    def today(self, at: datetime | None = None) -> date:
        """The lot's local date now (or at ``at``): the default day of a report."""
        return local_day(at or now_utc(), self.timezone)

    def visit(self, visit_id: int) -> VisitRecord:
        visit_id = _id("visit id", visit_id)
        with self._reader() as conn:
            return self._visit(conn, visit_id)

    def _visit(self, conn: Connection, visit_id: int) -> VisitRecord:
        row = conn.execute(select(models.visits).where(models.visits.c.id == visit_id)).first()
        if row is None:
            raise UnknownVisit(f"no visit {visit_id}")
        return VisitRecord.from_row(row)

    @_pinned
    def overstays(self, now: datetime | None = None) -> list[VisitRecord]:
        """Open visits longer than the policy's maximum stay."""
        limit = self._when(now, "now") - timedelta(hours=self.policy.max_stay_hours)
        v = models.visits
        query = select(v).where(v.c.state == VisitState.OPEN.value, v.c.entry_at < limit).order_by(v.c.entry_at)
        with self._reader() as conn:
            return [VisitRecord.from_row(r) for r in conn.execute(query)]

    @_pinned
    def review_queue(self, now: datetime | None = None, include_resolved: bool = False) -> list[ReviewEntry]:
        """Unresolved review items, then open visits over the maximum stay."""
        query = select(models.review_items).order_by(models.review_items.c.id)
        if not include_resolved:
            query = query.where(models.review_items.c.resolved_at.is_(None))
        with self._reader() as conn:
            items = [ReviewEntry.from_row(r) for r in conn.execute(query)]
        hours = self.policy.max_stay_hours
        for visit in self.overstays(now):
            items.append(
                ReviewEntry(
                    item_id=None,
                    kind=ReviewKind.OVERSTAY,
                    plate=visit.plate,
                    visit_id=visit.id,
                    decision_id=None,
                    reason=f"open longer than {hours:g} h (since {visit.entry_at.isoformat()})",
                    created_at=visit.entry_at + timedelta(hours=hours),
                )
            )
        return items

    def evidence(self, evidence_id: int) -> EvidenceRecord:
        """An evidence row and its decision's lane, gate, plate and visit; UnknownEvidence if none."""
        evidence_id = _id("evidence id", evidence_id)
        with self._reader() as conn:
            found = evidence_queries.by_id(conn, evidence_id)
        if found is None:
            raise UnknownEvidence(f"no evidence {evidence_id}")
        return found

    @_pinned
    def expire_evidence(self, files: Sequence[str], at: datetime | None = None) -> int:
        """Retention deleted these files (names relative to the evidence folder): mark their rows expired."""
        when = now_utc() if at is None else to_utc(at)
        return self._transaction(lambda conn: evidence_queries.expire(conn, files, when)) if files else 0

    def decisions(self, visit_id: int | None = None) -> list[dict[str, Any]]:
        """The decision log (oldest first), optionally for one visit."""
        query = select(models.decisions).order_by(models.decisions.c.id)
        if visit_id is not None:
            query = query.where(models.decisions.c.visit_id == _id("visit id", visit_id))
        with self._reader() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    @_pinned
    def resolve_review(self, item_id: int, operator: str, resolution: str) -> None:
        """Mark a review item handled, with who and how."""
        _require_who_why(operator, resolution)
        item_id = _id("review item id", item_id)
        who = _text(models.review_items.c.resolved_by, operator.strip())
        how = _text(models.review_items.c.resolution, resolution.strip())
        if not self._transaction(lambda conn: queries.resolve_review(conn, item_id, who, how, now_utc())):
            raise GateError(f"no unresolved review item {item_id}")

    # ------------------------------------------------------------------ plumbing

    def _when(self, at: datetime | None, name: str = "at") -> datetime:
        """None -> now; else aware UTC inside the policy's time window (InvalidInput naming ``name`` outside it)."""
        if at is None:
            return now_utc()
        earliest, latest = self.policy.time_window(now_utc())
        try:
            return check_window(to_utc(at, self.timezone), earliest, latest)
        except InvalidInput as exc:
            raise InvalidInput(f"{name}: {exc}") from None

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        """A connection for reads: BEGIN DEFERRED on SQLite, so it takes no write lock (WAL readers)."""
        with _database_errors(), self.engine.connect().execution_options(readonly=True) as conn:
            yield conn

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one committed transaction; retry when a concurrent writer won.

        All attempts together wait at most ``policy.decision_wait_s`` for locks (a
        gate answers while the car waits), then LedgerBusy; nothing is written.
        """
        wait_s = self.policy.decision_wait_s
        deadline = time.monotonic() + wait_s
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                break
            if not self._writer.acquire(timeout=left_ms / 1000):
                break
            try:
                with _database_errors(retry=True), self.engine.connect().execution_options(
                    lock_wait_ms=left_ms
                ) as conn, conn.begin():
                    return work(conn)
            except LostRace as exc:
                reason = str(exc)
            except _Retry as exc:
                reason = str(exc)
            finally:
                self._writer.release()
            log.debug("transaction retry %d: %s", attempt, reason)
            time.sleep(min(0.002 * attempt, max(0.0, deadline - time.monotonic())))
        else:
            raise LedgerUnavailable(f"database: gave up after {_MAX_ATTEMPTS} attempts: {reason}")
        raise LedgerBusy(
            f"database busy: another process held the write lock for {wait_s:g} s (policy.decision_wait_s);"
            " nothing was recorded and the gate stays closed"
        )


MAX_PAGE = 10_000  # rows of one page of a listing
MAX_REPORT_PERIODS = 3_700  # ten years of days


def _paging(limit: int, offset: int) -> tuple[int, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit {limit!r}: expected a whole number from 1 to {MAX_PAGE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_ID:
        raise InvalidInput(f"offset {offset!r}: expected a whole number from 0 to {MAX_ID}")
    return limit, offset


def _next(day: date, by: str) -> date:
    """The first day of the period after the one that starts (or contains) ``day``."""
    if by == "day":
        return day + timedelta(days=1)
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _periods(first: date, count: int, by: str) -> list[date]:
    """The first day of each of ``count`` periods from ``first``'s (never the one after: 9999-12-31 has none)."""
    out = [first if by == "day" else first.replace(day=1)]
    for _ in range(count - 1):
        out.append(_next(out[-1], by))
    return out


class _NoLock:
    """PostgreSQL: writers lock rows, not the database; nothing to queue for."""

    def acquire(self, timeout: float = -1) -> bool:
        return True

    def release(self) -> None:
        pass


class _Retry(Exception):
    """A lost race inside _database_errors: run the transaction again."""


@contextmanager
def _database_errors(*, retry: bool = False) -> Iterator[None]:
    """Driver and SQLAlchemy errors -> LedgerUnavailable with the driver's first line (or _Retry)."""
    try:
        yield
    except (IntegrityError, OperationalError) as exc:
        if retry and _retryable(exc):
            raise _Retry(f"{type(exc.orig).__name__}: {exc.orig}") from None
        raise LedgerUnavailable(f"database: {_first_line(exc.orig)}") from exc
    except DBAPIError as exc:
        raise LedgerUnavailable(f"database: {_first_line(exc.orig)}") from exc
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise LedgerUnavailable(f"database: {_first_line(exc)}") from exc


_HINTS = {  # driver message -> what the operator can do
    "unable to open database file": "missing folder, no permission or a read-only disk?",
    "readonly database": "the file or its disk is read-only",
    "disk is full": "free space on the ledger's disk",
    "disk image is malformed": "the file is damaged: restore it from a backup",
    "file is not a database": "the file is not a SQLite ledger",
    "no such column": "the schema was changed outside plategate: restore it or run `gate db upgrade`",
    "no such table": "the schema was changed outside plategate: restore it or run `gate db upgrade`",
}


def _first_line(exc: BaseException | None) -> str:
    """The driver's first line, with a hint for the failures an operator meets."""
    lines = str(exc).strip().splitlines()
    line = lines[0] if lines else type(exc).__name__
    hint = next((h for key, h in _HINTS.items() if key in line), None)
    return f"{line} ({hint})" if hint else line


@overload
def _text(column: Column[Any], value: str) -> str: ...
@overload
def _text(column: Column[Any], value: None) -> None: ...
@overload
def _text(column: Column[Any], value: str | None) -> str | None: ...
def _text(column: Column[Any], value: str | None) -> str | None:
    """A text for ``column``: at most its length (PostgreSQL refused longer ones, SQLite kept them), no NUL."""
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidInput(f"{column.name} {value!r:.40}: expected text without NUL characters")
    limit = column.type.length if isinstance(column.type, String) else None
    if limit is not None and len(value) > limit:
        raise InvalidInput(f"{column.name} is {len(value)} characters long: expected at most {limit}")
    return value


_READ_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _read_key(value: str) -> str:
    if not isinstance(value, str) or not _READ_KEY.fullmatch(value):
        raise InvalidInput(f"read_id {value!r:.80}: expected 1-64 letters, digits, _ or -")
    return value


def _doubt(value: str | None) -> str | None:
    """A pass's doubt: it becomes the review reason (200 characters) after a short prefix."""
    if value is not None and (not isinstance(value, str) or "\x00" in value or len(value) > 150):
        raise InvalidInput(f"doubt {value!r:.40}: expected text of at most 150 characters")
    return value


def _id(name: str, value: int) -> int:
    """An id as the tables hold them: 1 .. 2**31 - 1 (a 23-digit --visit overflowed the driver)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise InvalidInput(f"{name} {value!r}: expected a whole number from 1 to {MAX_ID}")
    return value


def _fraction(name: str, value: float) -> float:
    """A confidence in [0, 1]: NaN or 7 from a reader would flag (or not) at random."""
    try:
        number = float(value)  # numpy floats too
    except (TypeError, ValueError):
        number = math.nan
    if not -1e-6 <= number <= 1 + 1e-6:  # NaN fails too
        raise InvalidInput(f"{name} {value!r}: expected a number from 0 to 1")
    return min(1.0, max(0.0, number))


# An expiry is shown and exported in local time: 9999-12-31T23:59Z is past datetime's end there (+02:00), and
# an accepted one once broke the lists page and export with a 500 until it was removed.
EXPIRY_RANGE = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc))


def _expiry(value: datetime | None) -> datetime | None:
    """A list entry's expiry in UTC: a time without an offset is refused (which zone's midnight?)."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidInput(f"expires_at {value!r:.40}: expected a timezone-aware time")
    try:
        utc = to_utc(value)
    except InvalidInput:
        utc = None
    if utc is None or not EXPIRY_RANGE[0] <= utc < EXPIRY_RANGE[1]:
        raise InvalidInput(f"expires_at {value.isoformat()}: expected a time from {EXPIRY_RANGE[0].date()} and "
                           f"before {EXPIRY_RANGE[1].date()}")
    return utc


def _list_kind(kind: str) -> ListKind:
    try:
        return ListKind(kind)
    except ValueError:
        raise GateError(f"invalid list {kind!r}: expected allow or deny") from None


def _require_open_visit(conn: Connection, plate: str) -> VisitRecord:
    visit = queries.open_visit(conn, plate)
    if visit is None:
        raise NoOpenVisit(f"no open visit for plate {format_plate(plate)}")
    return visit


def _open_visit_for_override(conn: Connection, visit_id: int | None, plate: str | None) -> VisitRecord:
    if (visit_id is None) == (plate is None):
        raise GateError("give exactly one of a visit id or a plate")
    if visit_id is None:
        return _require_open_visit(conn, normalize_plate(plate or ""))
    visit = queries.visit_by_id(conn, visit_id)
    if visit is None:
        raise UnknownVisit(f"no visit {visit_id}")
    if not visit.is_open:
        raise GateError(f"visit {visit_id} is already closed")
    return visit


def _record_override(
    conn: Connection,
    operator: str,
    reason: str,
    action: OverrideAction,
    visit_id: int | None,
    plate: str | None,
    amount: int | None,
    at: datetime,
) -> None:
    row = {
        "operator": operator.strip(),
        "reason": reason.strip(),
        "action": action.value,
        "visit_id": visit_id,
        "plate": plate,
        "amount_agorot": amount,
        "at": at,
    }
    queries.insert_row(conn, models.overrides, row)
    log.info("override %s by %s on visit %s: %s", action, operator, visit_id, reason)


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    """Lost races: unique violations, SQLite busy, PostgreSQL serialization failure or deadlock."""
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate key" in text:
        return True
    return any(s in text for s in ("database is locked", "deadlock", "could not serialize", "busy", "lock timeout"))


def _require_who_why(operator: str, reason: str) -> None:
    """Bad input (exit 2, HTTP 422) like any other missing value, not a refused operation."""
    if not operator or not operator.strip():
        raise InvalidInput("an operator name is required")
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required")
    _text(models.overrides.c.operator, operator.strip())
    _text(models.overrides.c.reason, reason.strip())

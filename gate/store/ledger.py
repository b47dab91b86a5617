"""Ledger: the one front of the database for the CLI and the camera process.

Every public write runs in one transaction (``Engine.begin()``) that is
committed before the method returns, so the caller may pulse the relay only
after the decision is durable. Reads and writes are SQLAlchemy Core on the
gate.store.models tables; the queries and the locking rules are in
gate.store.queries, the entry and exit rules of a read in gate.store.decide.
A lost race (a concurrent writer closed the visit, a
unique index refused a second open visit, SQLite busy, a PostgreSQL
serialization failure) rolls the transaction back and runs it again from the
start.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence, TypeVar

from sqlalchemy import Connection, Engine, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from gate.rules.clock import now_utc, to_utc
from gate.rules.codes import (
    CloseReason,
    Lane,
    ListKind,
    OverrideAction,
    ReviewKind,
    VisitState,
)
from gate.rules.config import load_config
from gate.rules.decision import Decision
from gate.rules.errors import ClockError, GateError, NoOpenVisit, PaymentConflict, UnknownVisit
from gate.rules.money import to_shekels
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff, amount_due_agorot, fee_agorot
from gate.store import db, models, queries, schema
from gate.store.decide import Read, decide_entry, decide_exit
from gate.store.queries import LostRace
from gate.store.records import PaymentReceipt, ReviewEntry, VisitRecord
from lpr.plate_format import format_plate, normalize_plate

log = logging.getLogger(__name__)

T = TypeVar("T")

_MAX_ATTEMPTS = 8


class Ledger:
    """Visits, payments and gate decisions on one database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, tariff: Tariff | None = None, policy: Policy | None = None) -> None:
        self.engine = engine
        self.tariff = tariff or Tariff()
        self.policy = policy or Policy()

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
        """Connect (``url`` > $PLATEGATE_DB > ./plategate.db) and upgrade the schema.

        A tariff or policy not given comes from ``config`` (or $PLATEGATE_CONFIG),
        else the defaults of gate.rules.tariff and gate.rules.policy.
        """
        file_tariff, file_policy = load_config(config)
        engine = db.make_engine(url, sqlite_synchronous=sqlite_synchronous)
        try:
            if migrate:
                schema.upgrade(engine)
        except Exception:
            engine.dispose()
            raise
        return cls(engine, tariff or file_tariff, policy or file_policy)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ decisions

    def decide(
        self,
        lane: Lane,
        plate: str,
        at: datetime | None = None,
        confidence: float | None = None,
        char_conf: Sequence[float] | None = None,
        evidence_path: str | None = None,
    ) -> Decision:
        """Record a read and decide; committed before returning. Raises PlateFormatError."""
        try:
            lane = Lane(lane)
        except ValueError:
            raise ValueError(f"invalid lane {lane!r}: expected entry or exit") from None
        read = Read(
            lane=lane,
            plate=normalize_plate(plate),
            at=to_utc(at),
            confidence=confidence,
            char_conf=None if char_conf is None else [float(c) for c in char_conf],
            evidence_path=evidence_path,
        )
        low_conf = confidence is not None and confidence < self.policy.min_confidence
        step = decide_entry if lane is Lane.ENTRY else decide_exit
        decision = self._transaction(lambda conn: step(conn, read, low_conf, self.tariff, self.policy))
        log.info(
            "%s %s -> %s (%s) visit=%s due=%s%s",
            lane,
            read.plate,
            decision.action,
            decision.reason,
            decision.visit_id,
            decision.amount_due,
            " flagged" if decision.flagged else "",
        )
        return decision

    # ------------------------------------------------------------------ payments

    def pay(self, plate: str, at: datetime | None = None, payment_id: str | None = None) -> PaymentReceipt:
        """Pay what the open visit owes at ``at``; a replayed payment_id changes nothing.

        Raises NoOpenVisit, ClockError (before entry or before the last payment),
        PaymentConflict (payment id used for another plate), PlateFormatError.
        """
        digits = normalize_plate(plate)
        when = to_utc(at)
        pid = payment_id or uuid.uuid4().hex
        receipt = self._transaction(lambda conn: self._pay(conn, digits, when, pid))
        log.info(
            "pay %s visit=%s amount=%s fee=%s%s",
            digits,
            receipt.visit_id,
            to_shekels(receipt.amount_agorot),
            to_shekels(receipt.fee_agorot),
            " (replay)" if receipt.replayed else "",
        )
        return receipt

    def _pay(self, conn: Connection, plate: str, at: datetime, payment_id: str) -> PaymentReceipt:
        previous = queries.payment(conn, payment_id)
        if previous is not None:
            if previous.plate != plate:
                raise PaymentConflict(f"payment id {payment_id!r} was already used for plate {previous.plate}")
            return PaymentReceipt(
                visit_id=previous.visit_id,
                plate=plate,
                payment_id=payment_id,
                fee_agorot=previous.fee_agorot,
                paid_agorot=queries.paid_of(conn, previous.visit_id),
                amount_agorot=previous.amount_agorot,
                paid_at=previous.paid_at,
                leave_by=previous.paid_at + self.tariff.grace,
                replayed=True,
            )
        visit = _require_open_visit(conn, plate)
        if at < visit.entry_at:
            raise ClockError(
                f"payment time {at.isoformat()} is before the entry at {visit.entry_at.isoformat()} (clock went back?)"
            )
        if visit.last_paid_at is not None and at < visit.last_paid_at:
            raise ClockError(
                f"payment time {at.isoformat()} is before the previous payment at {visit.last_paid_at.isoformat()}"
            )
        free = visit.waived or ListKind.ALLOW in queries.lists_of(conn, plate)
        fee = 0 if free else fee_agorot(self.tariff, visit.entry_at, at)
        amount = max(0, fee - visit.paid_agorot)
        queries.insert_row(
            conn,
            models.payments,
            {
                "payment_id": payment_id,
                "visit_id": visit.id,
                "plate": plate,
                "amount_agorot": amount,
                "fee_agorot": fee,
                "paid_at": at,
            },
        )
        queries.add_payment(conn, visit.id, amount, at)
        return PaymentReceipt(
            visit_id=visit.id,
            plate=plate,
            payment_id=payment_id,
            fee_agorot=fee,
            paid_agorot=visit.paid_agorot + amount,
            amount_agorot=amount,
            paid_at=at,
            leave_by=at + self.tariff.grace,
        )

    def amount_due(self, plate: str, at: datetime | None = None) -> int:
        """Agorot the open visit for ``plate`` would owe at an exit at ``at`` (no write)."""
        digits = normalize_plate(plate)
        when = to_utc(at)

        def look(conn: Connection) -> int:
            visit = _require_open_visit(conn, digits)
            if visit.waived or ListKind.ALLOW in queries.lists_of(conn, digits):
                return 0
            return amount_due_agorot(self.tariff, visit.entry_at, when, visit.paid_agorot, visit.last_paid_at)

        return self._transaction(look)

    # ------------------------------------------------------------------ operator overrides

    def override_open(self, plate: str, operator: str, reason: str, at: datetime | None = None) -> VisitRecord:
        """Open a visit by hand (e.g. the car came in while the camera was down)."""
        digits, when = normalize_plate(plate), to_utc(at)
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
            fee = fee_agorot(self.tariff, visit.entry_at, when)
            queries.close_visit(conn, visit, exit_at=when, fee=fee, close_reason=CloseReason.OVERRIDE)
            return fee

        return self._override_visit(OverrideAction.CLOSE_VISIT, close, operator, reason, visit_id, plate, at)

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
        when = to_utc(at)
        _require_who_why(operator, reason)

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

    def add_plate(self, plate: str, kind: ListKind, note: str | None = None) -> None:
        """Put a plate on the allow (subscribers) or deny list; idempotent."""
        digits, kind = normalize_plate(plate), _list_kind(kind)

        def run(conn: Connection) -> None:
            if kind not in queries.lists_of(conn, digits):
                queries.add_list_entry(conn, digits, kind, note, now_utc())

        self._transaction(run)

    def remove_plate(self, plate: str, kind: ListKind) -> bool:
        """Take a plate off a list; False if it was not on it."""
        digits, kind = normalize_plate(plate), _list_kind(kind)
        return self._transaction(lambda conn: queries.delete_list_entry(conn, digits, kind))

    def plate_lists(self) -> list[dict[str, Any]]:
        with self._reader() as conn:
            lists = models.plate_lists
            rows = conn.execute(select(lists).order_by(lists.c.kind, lists.c.plate)).all()
        return [{"plate": r.plate, "list": r.kind, "note": r.note, "added_at": r.added_at.isoformat()} for r in rows]

    # ------------------------------------------------------------------ queries

    def visits(
        self,
        plate: str | None = None,
        inside: bool = False,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VisitRecord]:
        """Visits overlapping [since, until] (by entry and exit time), oldest entry first."""
        query = select(models.visits).order_by(models.visits.c.entry_at, models.visits.c.id)
        if plate is not None:
            query = query.where(models.visits.c.plate == normalize_plate(plate))
        if inside:
            query = query.where(models.visits.c.state == VisitState.OPEN.value)
        if since is not None:
            query = query.where(or_(models.visits.c.exit_at.is_(None), models.visits.c.exit_at >= to_utc(since)))
        if until is not None:
            query = query.where(models.visits.c.entry_at <= to_utc(until))
        with self._reader() as conn:
            return [VisitRecord.from_row(r) for r in conn.execute(query)]

    def visit(self, visit_id: int) -> VisitRecord:
        with self._reader() as conn:
            return self._visit(conn, visit_id)

    def _visit(self, conn: Connection, visit_id: int) -> VisitRecord:
        row = conn.execute(select(models.visits).where(models.visits.c.id == visit_id)).first()
        if row is None:
            raise UnknownVisit(f"no visit {visit_id}")
        return VisitRecord.from_row(row)

    def overstays(self, now: datetime | None = None) -> list[VisitRecord]:
        """Open visits longer than the policy's maximum stay."""
        limit = to_utc(now) - timedelta(hours=self.policy.max_stay_hours)
        v = models.visits
        query = select(v).where(v.c.state == VisitState.OPEN.value, v.c.entry_at < limit).order_by(v.c.entry_at)
        with self._reader() as conn:
            return [VisitRecord.from_row(r) for r in conn.execute(query)]

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

    def decisions(self, visit_id: int | None = None) -> list[dict[str, Any]]:
        """The decision log (oldest first), optionally for one visit."""
        query = select(models.decisions).order_by(models.decisions.c.id)
        if visit_id is not None:
            query = query.where(models.decisions.c.visit_id == visit_id)
        with self._reader() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def resolve_review(self, item_id: int, operator: str, resolution: str) -> None:
        """Mark a review item handled, with who and how."""
        _require_who_why(operator, resolution)
        who, how = operator.strip(), resolution.strip()
        if not self._transaction(lambda conn: queries.resolve_review(conn, item_id, who, how, now_utc())):
            raise GateError(f"no unresolved review item {item_id}")

    # ------------------------------------------------------------------ plumbing

    def _reader(self) -> Connection:
        """A connection for reads: BEGIN DEFERRED on SQLite, so it takes no write lock."""
        return self.engine.connect().execution_options(readonly=True)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one committed transaction; retry when a concurrent writer won."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except LostRace as exc:
                reason = str(exc)
            except (IntegrityError, OperationalError) as exc:
                if not _retryable(exc) or attempt == _MAX_ATTEMPTS:
                    raise
                reason = f"{type(exc.orig).__name__}: {exc.orig}"
            if attempt == _MAX_ATTEMPTS:
                raise GateError(f"gave up after {attempt} attempts: {reason}")
            log.debug("transaction retry %d: %s", attempt, reason)
            time.sleep(0.002 * attempt)
        raise AssertionError("unreachable")


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
    return any(s in text for s in ("database is locked", "deadlock", "could not serialize", "busy"))


def _require_who_why(operator: str, reason: str) -> None:
    if not operator or not operator.strip():
        raise GateError("an operator name is required")
    if not reason or not reason.strip():
        raise GateError("a reason is required")

"""Ledger: the one front of the database for the CLI and the camera process.

Every public write runs in one transaction that is committed before the
method returns, so the caller may pulse the relay only after the decision is
durable. Concurrency between gate processes:

- SQLite: every write transaction starts with BEGIN IMMEDIATE, so writers are
  serialized across processes and read what they update;
- PostgreSQL: visits are locked with SELECT ... FOR UPDATE, entries take a
  transaction-scoped advisory lock (capacity and duplicate checks);
- both: a visit is closed by ``UPDATE ... WHERE state = 'open'`` and the row
  count is checked, and a unique partial index forbids two open visits for
  one plate. A lost race raises inside the transaction, which is rolled back
  and retried from the start.

Writes go through gate.tx (SQL on the DBAPI connection, for speed); reads for
admin queries use SQLAlchemy Core on the gate.store.models tables.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence, TypeVar

from sqlalchemy import Connection, Engine, or_, select

from gate.store import db, schema
from gate import statements as sql
from gate.rules.clock import now_utc, to_utc
from gate.rules.config import load_config
from gate.rules.decision import DENY, OPEN, REVIEW, Decision
from gate.rules.errors import ClockError, GateError, NoOpenVisit, PaymentConflict, UnknownVisit
from gate.rules.matching import Match, match_plate
from gate.store.models import GateDecision, Override, PlateListEntry, ReviewItem, Visit
from gate.rules.money import to_shekels
from gate.rules.policy import Policy
from gate.store.records import PaymentReceipt, ReviewEntry, VisitRecord
from gate.rules.tariff import Tariff, amount_due_agorot, billed_until, fee_agorot
from gate.tx import Row, Tx, TxRunner
from lpr.plate_format import format_plate, normalize_plate

log = logging.getLogger(__name__)

T = TypeVar("T")

VISITS = Visit.__table__
DECISIONS = GateDecision.__table__
OVERRIDES = Override.__table__
LISTS = PlateListEntry.__table__
REVIEWS = ReviewItem.__table__

LANES = ("entry", "exit")
LIST_KINDS = ("allow", "deny")
_MAX_ATTEMPTS = 8


class _LostRace(Exception):
    """A concurrent process changed the visit between our read and our update."""


class Ledger:
    """Visits, payments and gate decisions on one database (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, tariff: Tariff | None = None, policy: Policy | None = None) -> None:
        self.engine = engine
        self.tariff = tariff or Tariff()
        self.policy = policy or Policy()
        self._pg = engine.dialect.name == "postgresql"
        self._run_tx = TxRunner(engine)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        tariff: Tariff | None = None,
        config: str | None = None,
        migrate: bool = True,
        sqlite_synchronous: str = "NORMAL",
        **policy: Any,
    ) -> "Ledger":
        """Connect (``url`` > $PLATEGATE_DB > ./plategate.db), upgrade the schema, apply policy.

        ``policy`` overrides fields of gate.rules.policy.Policy (capacity=..., duplicate_entry=...)
        or may be a whole ``policy=Policy(...)``; tariff/policy not given come from
        ``config`` (or $PLATEGATE_CONFIG), else the defaults.
        """
        file_tariff, file_policy = load_config(config)
        base_policy = policy.pop("policy", None) or file_policy
        engine = db.make_engine(url, sqlite_synchronous=sqlite_synchronous)
        try:
            if migrate:
                schema.upgrade(engine)
        except Exception:
            engine.dispose()
            raise
        return cls(engine, tariff or file_tariff, replace(base_policy, **policy))

    def close(self) -> None:
        self._run_tx.close()
        self.engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ decisions

    def decide(
        self,
        lane: str,
        plate: str,
        at: datetime | None = None,
        confidence: float | None = None,
        char_conf: Sequence[float] | None = None,
        evidence_path: str | None = None,
    ) -> Decision:
        """Record a read and decide; committed before returning. Raises PlateFormatError."""
        if lane not in LANES:
            raise ValueError(f"invalid lane {lane!r}: expected entry or exit")
        digits = normalize_plate(plate)
        read = {
            "lane": lane,
            "plate": digits,
            "confidence": confidence,
            "char_conf": None if char_conf is None else [float(c) for c in char_conf],
            "at": to_utc(at),
            "evidence_path": evidence_path,
        }
        low_conf = confidence is not None and confidence < self.policy.min_confidence
        step = self._entry if lane == "entry" else self._exit
        decision = self._transaction(lambda tx: step(tx, read, low_conf))
        log.info(
            "%s %s -> %s (%s) visit=%s due=%s%s",
            lane,
            digits,
            decision.action,
            decision.reason,
            decision.visit_id,
            decision.amount_due,
            " flagged" if decision.flagged else "",
        )
        return decision

    def _entry(self, tx: Tx, read: dict[str, Any], low_conf: bool) -> Decision:
        plate, at = read["plate"], read["at"]
        ctx = _Ctx(tx, tx.insert("reads", read), "entry", plate, at)
        lists = _lists_of(tx, plate)
        if "deny" in lists:
            return ctx.decide(DENY, "deny-listed", None)
        if self._pg:
            tx.execute(sql.ENTRY_LOCK)
        note = ""
        existing = tx.row(sql.OPEN_VISIT_OF_PLATE, {"plate": plate})
        if existing is not None:
            since_entry = at - existing.entry_at
            if abs(since_entry) <= timedelta(seconds=self.policy.repeat_window_s):
                return ctx.decide(OPEN, "repeat-read", existing.id, flagged=low_conf)
            if since_entry < timedelta(0):
                ctx.review("clock-skew", existing.id, f"entry read earlier than the open visit {existing.id}")
                return ctx.decide(REVIEW, "clock-skew", existing.id, note="entry before the open visit's entry")
            if self.policy.duplicate_entry == "keep":
                ctx.review("duplicate-entry", existing.id, "plate entered again while its visit is open; kept")
                return ctx.decide(OPEN, "already-inside", existing.id, flagged=True)
            if self.policy.duplicate_entry == "deny":
                ctx.review("duplicate-entry", existing.id, "plate entered again while its visit is open; denied")
                return ctx.decide(DENY, "already-inside", existing.id, flagged=True)
            _close(
                tx,
                existing,
                exit_at=at,
                fee=fee_agorot(self.tariff, existing.entry_at, at),
                close_reason="stale",
                flag_reason="stale: the plate entered again; its exit was never read",
            )
            ctx.review("stale-visit", existing.id, "closed because the plate entered again; exit never read")
            note = f"stale visit {existing.id} closed"
        subscriber = "allow" in lists
        if not subscriber:
            inside = tx.scalar(sql.COUNT_OPEN)
            if inside >= self.policy.capacity:
                return ctx.decide(DENY, "lot-full", None, note=f"{inside} of {self.policy.capacity} places taken")
        visit_id = tx.insert(
            "visits",
            {
                "plate": plate,
                "entry_at": at,
                "state": "open",
                "paid_agorot": 0,
                "waived": False,
                "flagged": low_conf,
                "flag_reason": "low-confidence entry read" if low_conf else None,
            },
        )
        reason = "allow-listed" if subscriber else "entered"
        decision = ctx.decide(OPEN, reason, visit_id, flagged=low_conf, note=note)
        if low_conf:
            ctx.review("low-confidence", visit_id, f"entry read confidence {read['confidence']:.2f}")
        return decision

    def _exit(self, tx: Tx, read: dict[str, Any], low_conf: bool) -> Decision:
        plate, at = read["plate"], read["at"]
        ctx = _Ctx(tx, tx.insert("reads", read), "exit", plate, at)
        subscriber = "allow" in _lists_of(tx, plate)
        visit = tx.row(sql.OPEN_VISIT_OF_PLATE, {"plate": plate})
        match = Match(visit.id, plate, "exact") if visit is not None else self._fuzzy(tx, plate, read["char_conf"])
        if match is None:
            if subscriber:
                return ctx.decide(OPEN, "allow-listed", None, note="no open visit")
            window = timedelta(seconds=self.policy.repeat_window_s)
            recent = tx.scalar(sql.RECENT_EXIT, {"plate": plate, "since": at - window, "until": at})
            if recent is not None:
                return ctx.decide(DENY, "already-exited", recent)
            decision = ctx.decide(REVIEW, "no-open-visit", None, note="gate stays closed; attendant to check")
            ctx.review("no-open-visit", None, "exit read matches no open visit", decision.decision_id)
            return decision

        if visit is None:
            visit = tx.row(sql.VISIT_BY_ID, {"id": match.visit_id})
        if visit is None or visit.state != "open":
            raise _LostRace(f"visit {match.visit_id} closed concurrently")
        flagged = match.flagged or low_conf
        matched = None if match.kind == "exact" else match.plate
        note = f"{match.kind} match to {format_plate(match.plate)}" if matched else ""
        if at < visit.entry_at:
            decision = ctx.decide(REVIEW, "clock-skew", visit.id, flagged=True, matched=matched, note=note)
            ctx.review("clock-skew", visit.id, "exit read earlier than the entry", decision.decision_id)
            return decision

        if subscriber:
            due, charged, reason = 0, 0, "allow-listed"
        elif visit.waived:
            due, charged, reason = 0, fee_agorot(self.tariff, visit.entry_at, at), "no-fee"
        else:
            charged = fee_agorot(self.tariff, visit.entry_at, billed_until(self.tariff, at, visit.last_paid_at))
            due = max(0, charged - visit.paid_agorot)
            reason = "paid" if visit.paid_agorot else "no-fee"
        if due > 0:
            return ctx.decide(DENY, "unpaid", visit.id, due=due, flagged=flagged, matched=matched, note=note)

        flag_reason = None
        if match.flagged:
            flag_reason = f"exit read {plate} matched by {match.kind}"
        elif low_conf:
            flag_reason = "low-confidence exit read"
        _close(tx, visit, exit_at=at, fee=charged, close_reason="exit", flag_reason=flag_reason)
        decision = ctx.decide(OPEN, reason, visit.id, flagged=flagged, matched=matched, note=note)
        if flag_reason:
            kind = "fuzzy-match" if match.flagged else "low-confidence"
            ctx.review(kind, visit.id, flag_reason, decision.decision_id)
        return decision

    def _fuzzy(self, tx: Tx, plate: str, char_conf: Sequence[float] | None) -> Match | None:
        """No open visit has exactly this plate: try the near ones (gate.rules.matching)."""
        return match_plate(
            plate,
            [(r.id, r.plate) for r in tx.rows(sql.OPEN_PLATES)],
            char_conf,
            max_digits=self.policy.fuzzy_max_digits,
            uncertain_char=self.policy.uncertain_char,
        )

    # ------------------------------------------------------------------ payments

    def pay(self, plate: str, at: datetime | None = None, payment_id: str | None = None) -> PaymentReceipt:
        """Pay what the open visit owes at ``at``; a replayed payment_id changes nothing.

        Raises NoOpenVisit, ClockError (before entry or before the last payment),
        PaymentConflict (payment id used for another plate), PlateFormatError.
        """
        digits = normalize_plate(plate)
        when = to_utc(at)
        pid = payment_id or uuid.uuid4().hex
        receipt = self._transaction(lambda tx: self._pay(tx, digits, when, pid))
        log.info(
            "pay %s visit=%s amount=%s fee=%s%s",
            digits,
            receipt.visit_id,
            to_shekels(receipt.amount_agorot),
            to_shekels(receipt.fee_agorot),
            " (replay)" if receipt.replayed else "",
        )
        return receipt

    def _pay(self, tx: Tx, plate: str, at: datetime, payment_id: str) -> PaymentReceipt:
        previous = tx.row(sql.PAYMENT_BY_ID, {"payment_id": payment_id})
        if previous is not None:
            if previous.plate != plate:
                raise PaymentConflict(f"payment id {payment_id!r} was already used for plate {previous.plate}")
            return PaymentReceipt(
                visit_id=previous.visit_id,
                plate=plate,
                payment_id=payment_id,
                fee_agorot=previous.fee_agorot,
                paid_agorot=tx.scalar(sql.PAID_OF_VISIT, {"id": previous.visit_id}),
                amount_agorot=previous.amount_agorot,
                paid_at=previous.paid_at,
                leave_by=previous.paid_at + self.tariff.grace,
                replayed=True,
            )
        visit = tx.row(sql.OPEN_VISIT_OF_PLATE, {"plate": plate})
        if visit is None:
            raise NoOpenVisit(f"no open visit for plate {format_plate(plate)}")
        if at < visit.entry_at:
            raise ClockError(
                f"payment time {at.isoformat()} is before the entry at {visit.entry_at.isoformat()} (clock went back?)"
            )
        if visit.last_paid_at is not None and at < visit.last_paid_at:
            raise ClockError(
                f"payment time {at.isoformat()} is before the previous payment at {visit.last_paid_at.isoformat()}"
            )
        free = visit.waived or "allow" in _lists_of(tx, plate)
        fee = 0 if free else fee_agorot(self.tariff, visit.entry_at, at)
        amount = max(0, fee - visit.paid_agorot)
        tx.insert(
            "payments",
            {
                "payment_id": payment_id,
                "visit_id": visit.id,
                "plate": plate,
                "amount_agorot": amount,
                "fee_agorot": fee,
                "paid_at": at,
            },
        )
        if tx.execute(sql.ADD_PAYMENT, {"id": visit.id, "amount": amount, "at": at}) != 1:
            raise _LostRace(f"visit {visit.id} closed concurrently")
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

        def look(tx: Tx) -> int:
            visit = tx.row(sql.OPEN_VISIT_OF_PLATE, {"plate": digits})
            if visit is None:
                raise NoOpenVisit(f"no open visit for plate {format_plate(digits)}")
            if visit.waived or "allow" in _lists_of(tx, digits):
                return 0
            return amount_due_agorot(self.tariff, visit.entry_at, when, visit.paid_agorot, visit.last_paid_at)

        return self._transaction(look)

    # ------------------------------------------------------------------ operator overrides

    def override_open(self, plate: str, operator: str, reason: str, at: datetime | None = None) -> VisitRecord:
        """Open a visit by hand (e.g. the car came in while the camera was down)."""
        digits, when = normalize_plate(plate), to_utc(at)
        _require_who_why(operator, reason)

        def run(tx: Tx) -> int:
            if self._pg:
                tx.execute(sql.ENTRY_LOCK)
            existing = tx.row(sql.OPEN_VISIT_OF_PLATE, {"plate": digits})
            if existing is not None:
                raise GateError(f"plate {format_plate(digits)} already has open visit {existing.id}")
            visit_id = tx.insert(
                "visits",
                {
                    "plate": digits,
                    "entry_at": when,
                    "state": "open",
                    "paid_agorot": 0,
                    "waived": False,
                    "flagged": False,
                },
            )
            _record_override(tx, operator, reason, "open-visit", visit_id, digits, None, when)
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
        when = to_utc(at)
        _require_who_why(operator, reason)

        def run(tx: Tx) -> int:
            visit = _open_visit_for_override(tx, visit_id, plate)
            if when < visit.entry_at:
                raise ClockError(f"close time {when.isoformat()} is before the entry at {visit.entry_at.isoformat()}")
            fee = fee_agorot(self.tariff, visit.entry_at, when)
            _close(tx, visit, exit_at=when, fee=fee, close_reason="override")
            _record_override(tx, operator, reason, "close-visit", visit.id, visit.plate, fee, when)
            return visit.id

        return self.visit(self._transaction(run))

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
        when = to_utc(at)
        _require_who_why(operator, reason)

        def run(tx: Tx) -> int:
            visit = _open_visit_for_override(tx, visit_id, plate)
            due = amount_due_agorot(
                self.tariff, visit.entry_at, max(when, visit.entry_at), visit.paid_agorot, visit.last_paid_at
            )
            if tx.execute(sql.WAIVE, {"id": visit.id, "waived": True}) != 1:
                raise _LostRace(f"visit {visit.id} closed concurrently")
            _record_override(tx, operator, reason, "waive", visit.id, visit.plate, due, when)
            return visit.id

        return self.visit(self._transaction(run))

    def overrides(self) -> list[dict[str, Any]]:
        """Every operator action, oldest first."""
        with self._reader() as conn:
            return [dict(r._mapping) for r in conn.execute(select(OVERRIDES).order_by(OVERRIDES.c.id))]

    # ------------------------------------------------------------------ plate lists

    def add_plate(self, plate: str, kind: str, note: str | None = None) -> None:
        """Put a plate on the allow (subscribers) or deny list; idempotent."""
        digits = normalize_plate(plate)
        if kind not in LIST_KINDS:
            raise GateError(f"invalid list {kind!r}: expected allow or deny")

        def run(tx: Tx) -> None:
            if tx.row(sql.LIST_ENTRY, {"plate": digits, "kind": kind}) is None:
                values = {"plate": digits, "kind": kind, "note": note, "added_at": now_utc()}
                tx.execute(sql.ADD_LIST_ENTRY, values)

        self._transaction(run)

    def remove_plate(self, plate: str, kind: str) -> bool:
        """Take a plate off a list; False if it was not on it."""
        digits = normalize_plate(plate)
        return self._transaction(lambda tx: tx.execute(sql.DELETE_LIST_ENTRY, {"plate": digits, "kind": kind}) > 0)

    def plate_lists(self) -> list[dict[str, Any]]:
        with self._reader() as conn:
            rows = conn.execute(select(LISTS).order_by(LISTS.c.kind, LISTS.c.plate)).all()
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
        query = select(VISITS).order_by(VISITS.c.entry_at, VISITS.c.id)
        if plate is not None:
            query = query.where(VISITS.c.plate == normalize_plate(plate))
        if inside:
            query = query.where(VISITS.c.state == "open")
        if since is not None:
            query = query.where(or_(VISITS.c.exit_at.is_(None), VISITS.c.exit_at >= to_utc(since)))
        if until is not None:
            query = query.where(VISITS.c.entry_at <= to_utc(until))
        with self._reader() as conn:
            return [VisitRecord.from_row(r) for r in conn.execute(query)]

    def visit(self, visit_id: int) -> VisitRecord:
        with self._reader() as conn:
            return self._visit(conn, visit_id)

    def _visit(self, conn: Connection, visit_id: int) -> VisitRecord:
        row = conn.execute(select(VISITS).where(VISITS.c.id == visit_id)).first()
        if row is None:
            raise UnknownVisit(f"no visit {visit_id}")
        return VisitRecord.from_row(row)

    def overstays(self, now: datetime | None = None) -> list[VisitRecord]:
        """Open visits longer than the policy's maximum stay."""
        limit = to_utc(now) - timedelta(hours=self.policy.max_stay_hours)
        query = select(VISITS).where(VISITS.c.state == "open", VISITS.c.entry_at < limit).order_by(VISITS.c.entry_at)
        with self._reader() as conn:
            return [VisitRecord.from_row(r) for r in conn.execute(query)]

    def review_queue(self, now: datetime | None = None, include_resolved: bool = False) -> list[ReviewEntry]:
        """Unresolved review items, then open visits over the maximum stay."""
        query = select(REVIEWS).order_by(REVIEWS.c.id)
        if not include_resolved:
            query = query.where(REVIEWS.c.resolved_at.is_(None))
        with self._reader() as conn:
            items = [ReviewEntry.from_row(r) for r in conn.execute(query)]
        hours = self.policy.max_stay_hours
        for visit in self.overstays(now):
            items.append(
                ReviewEntry(
                    item_id=None,
                    kind="overstay",
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
        query = select(DECISIONS).order_by(DECISIONS.c.id)
        if visit_id is not None:
            query = query.where(DECISIONS.c.visit_id == visit_id)
        with self._reader() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def resolve_review(self, item_id: int, operator: str, resolution: str) -> None:
        """Mark a review item handled, with who and how."""
        _require_who_why(operator, resolution)
        params = {"id": item_id, "at": now_utc(), "operator": operator.strip(), "resolution": resolution.strip()}
        if self._transaction(lambda tx: tx.execute(sql.RESOLVE_REVIEW, params)) != 1:
            raise GateError(f"no unresolved review item {item_id}")

    # ------------------------------------------------------------------ plumbing

    def _reader(self) -> Any:
        """A SQLAlchemy connection for reads: no write lock on SQLite."""
        return self.engine.connect().execution_options(readonly=True)

    def _transaction(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one committed transaction; retry when a concurrent writer won."""
        dbapi = self._run_tx.dbapi
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            try:
                return self._run_tx(work)
            except _LostRace as exc:
                reason = str(exc)
            except (dbapi.IntegrityError, dbapi.OperationalError) as exc:
                if not _retryable(exc) or attempt == _MAX_ATTEMPTS:
                    raise
                reason = f"{type(exc).__name__}: {exc}"
            if attempt == _MAX_ATTEMPTS:
                raise GateError(f"gave up after {attempt} attempts: {reason}")
            log.debug("transaction retry %d: %s", attempt, reason)
            time.sleep(0.002 * attempt)
        raise AssertionError("unreachable")


class _Ctx:
    """Records the decision (and review items) of one read in its transaction."""

    def __init__(self, tx: Tx, read_id: int, lane: str, plate: str, at: datetime) -> None:
        self.tx, self.read_id, self.lane, self.plate, self.at = tx, read_id, lane, plate, at

    def decide(
        self,
        action: str,
        reason: str,
        visit_id: int | None,
        *,
        due: int = 0,
        flagged: bool = False,
        matched: str | None = None,
        note: str = "",
    ) -> Decision:
        decision_id = self.tx.insert(
            "decisions",
            {
                "read_id": self.read_id,
                "lane": self.lane,
                "plate": self.plate,
                "action": action,
                "reason": reason,
                "visit_id": visit_id,
                "amount_due_agorot": due,
                "flagged": flagged,
                "at": self.at,
            },
        )
        return Decision(
            action=action,
            reason=reason,
            visit_id=visit_id,
            amount_due=to_shekels(due),
            flagged=flagged,
            lane=self.lane,
            plate=self.plate,
            matched_plate=matched,
            note=note,
            decision_id=decision_id,
            at=self.at,
        )

    def review(self, kind: str, visit_id: int | None, reason: str, decision_id: int | None = None) -> None:
        self.tx.insert(
            "review_items",
            {
                "kind": kind,
                "plate": self.plate,
                "visit_id": visit_id,
                "decision_id": decision_id,
                "reason": reason,
                "created_at": self.at,
            },
        )


def _lists_of(tx: Tx, plate: str) -> set[str]:
    return {r.kind for r in tx.rows(sql.LISTS_OF_PLATE, {"plate": plate})}


def _close(
    tx: Tx,
    visit: Row,
    *,
    exit_at: datetime,
    fee: int,
    close_reason: str,
    flag_reason: str | None = None,
) -> None:
    """Close an open visit exactly once; a concurrent close makes the transaction retry."""
    closed = tx.execute(
        sql.CLOSE_VISIT,
        {
            "id": visit.id,
            "exit_at": max(exit_at, visit.entry_at),
            "fee": fee,
            "close_reason": close_reason,
            "flagged": bool(visit.flagged or flag_reason),
            "flag_reason": flag_reason or visit.flag_reason,
        },
    )
    if closed != 1:
        raise _LostRace(f"visit {visit.id} closed concurrently")


def _open_visit_for_override(tx: Tx, visit_id: int | None, plate: str | None) -> Row:
    if (visit_id is None) == (plate is None):
        raise GateError("give exactly one of a visit id or a plate")
    if visit_id is not None:
        visit = tx.row(sql.VISIT_BY_ID, {"id": visit_id})
        if visit is None:
            raise UnknownVisit(f"no visit {visit_id}")
        if visit.state != "open":
            raise GateError(f"visit {visit_id} is already closed")
        return visit
    digits = normalize_plate(plate or "")
    visit = tx.row(sql.OPEN_VISIT_OF_PLATE, {"plate": digits})
    if visit is None:
        raise NoOpenVisit(f"no open visit for plate {format_plate(digits)}")
    return visit


def _record_override(
    tx: Tx,
    operator: str,
    reason: str,
    action: str,
    visit_id: int | None,
    plate: str | None,
    amount: int | None,
    at: datetime,
) -> None:
    tx.insert(
        "overrides",
        {
            "operator": operator.strip(),
            "reason": reason.strip(),
            "action": action,
            "visit_id": visit_id,
            "plate": plate,
            "amount_agorot": amount,
            "at": at,
        },
    )
    log.info("override %s by %s on visit %s: %s", action, operator, visit_id, reason)


def _retryable(exc: Exception) -> bool:
    """Lost races: unique violations, SQLite busy, PostgreSQL serialization failure or deadlock."""
    text = str(exc).lower()
    if "unique" in text or "duplicate key" in text:
        return True
    return any(s in text for s in ("database is locked", "deadlock", "could not serialize", "busy"))


def _require_who_why(operator: str, reason: str) -> None:
    if not operator or not operator.strip():
        raise GateError("an operator name is required")
    if not reason or not reason.strip():
        raise GateError("a reason is required")

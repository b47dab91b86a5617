"""The typed values the ledger hands out (CLI, camera process): one shape per thing.

A visit is a ``VisitRecord`` everywhere above the tables, inside the ledger's
transactions too; ``from_row`` is the one place a database row becomes one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from gate.rules.clock import iso
from gate.rules.codes import CloseReason, ReviewKind, VisitState
from gate.rules.money import json_amount


@dataclass(frozen=True)
class VisitRecord:
    """One visit; money in agorot. ``fee`` is fixed at exit (None while open)."""

    id: int
    plate: str
    entry_at: datetime
    exit_at: datetime | None
    state: VisitState
    fee_agorot: int | None
    paid_agorot: int
    last_paid_at: datetime | None
    waived: bool
    flagged: bool
    flag_reason: str | None
    close_reason: CloseReason | None
    entry_gate: str | None = None  # the gate ids of its entry and exit decisions
    exit_gate: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state is VisitState.OPEN

    @classmethod
    def from_row(cls, row: Row[Any]) -> "VisitRecord":
        return cls(
            id=row.id,
            plate=row.plate,
            entry_at=row.entry_at,
            exit_at=row.exit_at,
            state=VisitState(row.state),
            fee_agorot=row.fee_agorot,
            paid_agorot=row.paid_agorot,
            last_paid_at=row.last_paid_at,
            waived=bool(row.waived),
            flagged=bool(row.flagged),
            flag_reason=row.flag_reason,
            close_reason=None if row.close_reason is None else CloseReason(row.close_reason),
            entry_gate=row.entry_gate,
            exit_gate=row.exit_gate,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.id,
            "plate": self.plate,
            "entry_at": iso(self.entry_at),
            "exit_at": iso(self.exit_at),
            "state": self.state.value,
            "fee": json_amount(self.fee_agorot),
            "paid": json_amount(self.paid_agorot),
            "waived": self.waived,
            "flagged": self.flagged,
            "flag_reason": self.flag_reason,
            "close_reason": None if self.close_reason is None else self.close_reason.value,
            "entry_gate": self.entry_gate,
            "exit_gate": self.exit_gate,
        }


@dataclass(frozen=True)
class PaymentReceipt:
    """Result of a payment. ``fee`` is the visit's fee at payment time, ``paid`` the
    visit's total paid after it, ``amount`` what this payment added."""

    visit_id: int
    plate: str
    payment_id: str
    fee_agorot: int
    paid_agorot: int
    amount_agorot: int
    paid_at: datetime
    leave_by: datetime
    replayed: bool = False
    typed_plate: str | None = None  # what the driver typed, when they chose a near plate's visit

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "plate": self.plate,
            "typed_plate": self.typed_plate,
            "fee": json_amount(self.fee_agorot),
            "paid": json_amount(self.paid_agorot),
            "amount": json_amount(self.amount_agorot),
            "payment_id": self.payment_id,
            "paid_at": iso(self.paid_at),
            "leave_by": iso(self.leave_by),
            "replayed": self.replayed,
        }


@dataclass(frozen=True)
class ReviewEntry:
    """An item of the review queue. Overstays are computed (item_id None)."""

    item_id: int | None
    kind: ReviewKind
    plate: str
    visit_id: int | None
    decision_id: int | None
    reason: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None

    @classmethod
    def from_row(cls, r: Row[Any]) -> "ReviewEntry":
        return cls(r.id, ReviewKind(r.kind), r.plate, r.visit_id, r.decision_id, r.reason, r.created_at, r.resolved_at,
                   r.resolved_by, r.resolution)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "kind": self.kind.value,
            "plate": self.plate,
            "visit_id": self.visit_id,
            "decision_id": self.decision_id,
            "reason": self.reason,
            "created_at": iso(self.created_at),
            "resolved_at": iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
        }

"""Read-only views of ledger rows handed to callers (CLI, camera process)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gate.rules.clock import iso
from gate.rules.money import json_amount


@dataclass(frozen=True)
class VisitRecord:
    """One visit; money in agorot. ``fee`` is fixed at exit (None while open)."""

    id: int
    plate: str
    entry_at: datetime
    exit_at: datetime | None
    state: str
    fee_agorot: int | None
    paid_agorot: int
    last_paid_at: datetime | None
    waived: bool
    flagged: bool
    flag_reason: str | None
    close_reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> "VisitRecord":
        return cls(
            id=row.id,
            plate=row.plate,
            entry_at=row.entry_at,
            exit_at=row.exit_at,
            state=row.state,
            fee_agorot=row.fee_agorot,
            paid_agorot=row.paid_agorot,
            last_paid_at=row.last_paid_at,
            waived=bool(row.waived),
            flagged=bool(row.flagged),
            flag_reason=row.flag_reason,
            close_reason=row.close_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.id,
            "plate": self.plate,
            "entry_at": iso(self.entry_at),
            "exit_at": iso(self.exit_at),
            "state": self.state,
            "fee": json_amount(self.fee_agorot),
            "paid": json_amount(self.paid_agorot),
            "waived": self.waived,
            "flagged": self.flagged,
            "flag_reason": self.flag_reason,
            "close_reason": self.close_reason,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "plate": self.plate,
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
    kind: str
    plate: str
    visit_id: int | None
    decision_id: int | None
    reason: str
    created_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None

    @classmethod
    def from_row(cls, r: Any) -> "ReviewEntry":
        return cls(r.id, r.kind, r.plate, r.visit_id, r.decision_id, r.reason, r.created_at, r.resolved_at,
                   r.resolved_by, r.resolution)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item_id,
            "kind": self.kind,
            "plate": self.plate,
            "visit_id": self.visit_id,
            "decision_id": self.decision_id,
            "reason": self.reason,
            "created_at": iso(self.created_at),
            "resolved_at": iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
        }

"""What the pay station and the office read: quotes (with the near plates' visits), payments, revenue.

Typed values like gate.store.records: money in agorot, times aware UTC;
``to_dict`` is their JSON form (shekels, UTC), as the CLI prints it and the
API answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row

from gate.rules.clock import iso
from gate.rules.money import json_amount
from gate.store.records import VisitRecord


@dataclass(frozen=True)
class Candidate:
    """An open visit whose plate is near the typed one: the car the driver may have come in with."""

    visit_id: int
    plate: str
    entry_at: datetime
    entry_evidence_id: int | None  # the entry decision's frame (else plate crop) image, to show the driver
    amount_due_agorot: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "visit_id": self.visit_id,
            "plate": self.plate,
            "entry_at": iso(self.entry_at),
            "entry_evidence_id": self.entry_evidence_id,
            "amount_due": json_amount(self.amount_due_agorot),
        }


@dataclass(frozen=True)
class Quote:
    """What a plate owes at an exit at ``at``.

    With an open visit of exactly that plate: ``visit``, ``amount_due_agorot`` and
    ``paid_until`` (no exit owes anything up to then; None when nothing vouches
    for a later time). Without one: ``candidates``, the open visits the exit's
    matching rule would take for this plate, for the driver to choose from.
    """

    plate: str
    at: datetime
    currency: str
    visit: VisitRecord | None = None
    amount_due_agorot: int | None = None
    paid_until: datetime | None = None
    candidates: list[Candidate] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plate": self.plate,
            "at": iso(self.at),
            "amount_due": json_amount(self.amount_due_agorot),
            "currency": self.currency,
            "paid_until": iso(self.paid_until),
            "visit": None if self.visit is None else self.visit.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclass(frozen=True)
class PaymentRecord:
    """One row of the payments table. ``typed_plate``: what the driver typed when it was not the visit's."""

    id: int
    payment_id: str
    visit_id: int
    plate: str
    typed_plate: str | None
    amount_agorot: int
    fee_agorot: int
    paid_at: datetime

    @classmethod
    def from_row(cls, row: Row[Any]) -> "PaymentRecord":
        return cls(row.id, row.payment_id, row.visit_id, row.plate, row.typed_plate, row.amount_agorot,
                   row.fee_agorot, row.paid_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "payment_id": self.payment_id,
            "visit_id": self.visit_id,
            "plate": self.plate,
            "typed_plate": self.typed_plate,
            "amount": json_amount(self.amount_agorot),
            "fee": json_amount(self.fee_agorot),
            "paid_at": iso(self.paid_at),
        }


@dataclass(frozen=True)
class Page:
    """One page of a listing, with the count (and sum, for payments) over all pages."""

    limit: int
    offset: int
    total: int

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.offset + self.limit < self.total else None


@dataclass(frozen=True)
class PaymentPage(Page):
    payments: list[PaymentRecord] = field(default_factory=list)
    total_amount_agorot: int = 0


@dataclass(frozen=True)
class VisitPage(Page):
    visits: list[VisitRecord] = field(default_factory=list)


@dataclass(frozen=True)
class RevenueRow:
    """Payments of one local day (or month) starting on ``period``."""

    period: date
    payments: int
    amount_agorot: int

    def to_dict(self) -> dict[str, Any]:
        return {"period": self.period.isoformat(), "payments": self.payments, "amount": json_amount(self.amount_agorot)}

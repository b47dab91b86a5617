"""Request and response bodies of the HTTP API: validated at the edge, typed for the OpenAPI docs.

Plates go through the one plate function (lpr.plate_format.normalize_plate), so
'12-345-67', '1234567' and fullwidth digits are the same car here as at the
CLI; a bad one is a 422 naming the field. Times in are ISO 8601 with an offset
(a naive time from another machine is ambiguous, so it is refused); times out
are UTC with ``Z``. Money is shekels with 2 decimals, as the CLI prints it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from gate.rules.codes import Action, CloseReason, Lane, Reason, Role, VisitState
from gate.rules.decision import Decision
from gate.store.billing import Quote
from gate.store.records import PaymentReceipt, VisitRecord
from gate.store.tokens import ApiToken
from lpr.plate_format import PlateFormatError, normalize_plate


def _plate(value: str) -> str:
    try:
        return normalize_plate(value)
    except PlateFormatError as exc:
        raise ValueError(str(exc)) from None


def _z(value: datetime) -> str:
    """UTC, ISO 8601, with Z: the one time format the API answers in."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


Plate = Annotated[
    str,
    AfterValidator(_plate),
    Field(description="7 or 8 digits, with or without dashes", examples=["12-345-67"]),
]
UtcTime = Annotated[datetime, PlainSerializer(_z, return_type=str)]
TimeIn = Annotated[AwareDatetime, Field(description="ISO 8601 with an offset or Z", examples=["2025-03-02T08:00:00Z"])]


class _In(BaseModel):
    """Request bodies refuse unknown fields: a typo ('paymentid') is a 422, not a silently new id."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PaymentIn(_In):
    plate: Plate
    payment_id: str = Field(
        min_length=1, max_length=64, pattern=r"^\S+$", description="the pay station's idempotency key"
    )
    at: TimeIn | None = Field(default=None, description="when the driver paid; default now")
    visit_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1,
        description="pay for this candidate of the quote (the entry misread the plate); recorded and flagged",
    )


class ReadIn(_In):
    lane: Lane
    gate_id: str = Field(min_length=1, max_length=64, pattern=r"^\S+$", description="which barrier's camera")
    plate: Plate
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    at: TimeIn | None = Field(default=None, description="when the car was read; default now")


class VisitOut(BaseModel):
    visit_id: int
    plate: str
    entry_at: UtcTime
    exit_at: UtcTime | None
    state: VisitState
    fee: float | None
    paid: float
    waived: bool
    flagged: bool
    flag_reason: str | None
    close_reason: CloseReason | None
    entry_gate: str | None = Field(default=None, description="the gate id of its entry")
    exit_gate: str | None = Field(default=None, description="the gate id of its exit")

    @classmethod
    def of(cls, visit: VisitRecord) -> "VisitOut":
        """The record's own JSON form (`to_dict`, as the CLI prints it), validated into this model."""
        return cls.model_validate(visit.to_dict())


class CandidateOut(BaseModel):
    visit_id: int
    plate: str = Field(description="the plate the entry camera read")
    entry_at: UtcTime
    entry_evidence_id: int | None = Field(description="the entry's image (frame, else plate crop), to show the driver")
    amount_due: float


class QuoteOut(BaseModel):
    plate: str
    at: UtcTime
    amount_due: float | None = Field(description="shekels owed at an exit at `at`; null when only candidates")
    currency: str
    paid_until: UtcTime | None = Field(
        description="nothing is owed at an exit up to this time (after a payment, or in the free minutes)"
    )
    visit: VisitOut | None = Field(description="the open visit of exactly this plate; null when only candidates")
    candidates: list[CandidateOut] = Field(
        description="no open visit has this plate: the open visits the exit would match it to, nearest first;"
        " pay with `visit_id` for the car the driver drove in"
    )

    @classmethod
    def of(cls, quote: Quote) -> "QuoteOut":
        return cls.model_validate(quote.to_dict())


class ReceiptOut(BaseModel):
    visit_id: int
    plate: str
    payment_id: str
    amount: float = Field(description="what this payment added")
    fee: float = Field(description="the visit's fee at payment time")
    paid: float = Field(description="the visit's total paid after it")
    paid_at: UtcTime
    leave_by: UtcTime = Field(description="the exit opens without more to pay until then")
    replayed: bool = Field(description="true: this payment_id was already recorded; this is its first receipt")
    typed_plate: str | None = Field(default=None, description="what the driver typed, when it was not the plate")

    @classmethod
    def of(cls, receipt: PaymentReceipt) -> "ReceiptOut":
        """The record's own JSON form (`to_dict`, as the CLI prints it), validated into this model."""
        return cls.model_validate(receipt.to_dict())


class DecisionOut(BaseModel):
    open: bool = Field(description="pulse the relay only when true; the decision is already committed")
    action: Action
    reason: Reason
    visit_id: int | None
    amount_due: float
    lane: Lane
    gate_id: str
    plate: str
    matched_plate: str | None
    flagged: bool
    note: str
    decision_id: int | None
    at: UtcTime | None

    @classmethod
    def of(cls, decision: Decision, gate_id: str) -> "DecisionOut":
        return cls(
            open=decision.opens,
            action=decision.action,
            reason=decision.reason,
            visit_id=decision.visit_id,
            amount_due=float(decision.amount_due),
            lane=decision.lane,
            gate_id=gate_id,
            plate=decision.plate,
            matched_plate=decision.matched_plate,
            flagged=decision.flagged,
            note=decision.note,
            decision_id=decision.decision_id,
            at=decision.at,
        )


class VisitPage(BaseModel):
    visits: list[VisitOut]
    total: int = Field(description="visits matching the filters, all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="the offset of the next page; null on the last")


class HealthOut(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])
    schema_version: str | None = Field(description="the database's schema revision")
    code_schema: str = Field(description="the schema revision this code needs")


class WhoAmI(BaseModel):
    name: str
    role: Role
    gate: str | None = Field(default=None, description="a camera token's gate, when it is bound to one")
    lane: Lane | None = Field(default=None, description="... and its lane")

    @classmethod
    def of(cls, token: ApiToken) -> "WhoAmI":
        return cls(name=token.name, role=token.role, gate=token.gate, lane=token.lane)


def error_body(detail: str, **extra: Any) -> dict[str, Any]:
    """Every error of the API: one ``detail`` line (and, for a 422, the fields)."""
    return {"detail": detail, **extra}

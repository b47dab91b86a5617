"""Money endpoints: the pay station's quote and payment, the office's payments listing and revenue, the tariff.

The quote finds the car the way the exit does: with no open visit of the
typed plate, it answers the near plates' open visits (``candidates``) and
the payment names the chosen ``visit_id``; the ledger records what was typed
and flags the visit for review. Revenue comes from the payments table (what
was paid), counted by the lot's local days.
"""
from __future__ import annotations

import logging
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from gate.report import csv_text
from gate.rules.money import json_amount
from gate.serve import auth
from gate.serve.params import Limit, Offset, OutputFormat, TimeQuery, day_param, time_param
from gate.serve.schemas import PaymentIn, Plate, QuoteOut, ReceiptOut, UtcTime
from gate.store.billing import PaymentPage
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]
PAYMENT_COLUMNS = ["id", "payment_id", "visit_id", "plate", "typed_plate", "amount", "fee", "paid_at"]


class PaymentOut(BaseModel):
    id: int
    payment_id: str
    visit_id: int
    plate: str = Field(description="the visit's plate")
    typed_plate: str | None = Field(description="what the driver typed, when they chose a near plate's visit")
    amount: float = Field(description="what this payment added")
    fee: float = Field(description="the visit's fee at payment time")
    paid_at: UtcTime


class PaymentPageOut(BaseModel):
    payments: list[PaymentOut]
    total: int = Field(description="payments in the range, all pages")
    total_amount: float = Field(description="their sum in shekels")
    currency: str
    limit: int
    offset: int
    next_offset: int | None = Field(description="the offset of the next page; null on the last")

    @classmethod
    def of(cls, page: PaymentPage, currency: str) -> "PaymentPageOut":
        return cls(
            payments=[PaymentOut.model_validate(p.to_dict()) for p in page.payments],
            total=page.total,
            total_amount=json_amount(page.total_amount_agorot) or 0.0,
            currency=currency,
            limit=page.limit,
            offset=page.offset,
            next_offset=page.next_offset,
        )


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


class RevenueRowOut(BaseModel):
    period: date = Field(description="the local day (or the month's first day)")
    payments: int
    amount: float


class RevenueOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    by: Period
    timezone: str = Field(description="the lot's time zone: the days are its days")
    currency: str
    rows: list[RevenueRowOut]
    total_payments: int
    total_amount: float


class TariffOut(BaseModel):
    tariff: dict[str, Any]
    policy: dict[str, Any]
    timezone: str


@router.get("/quote", summary="What the plate owes now and until when it is paid up; else the near plates' visits")
def quote(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.QUOTE))],
    plate: Annotated[Plate, Query()],
    at: TimeQuery = None,
) -> QuoteOut:
    return QuoteOut.of(ledger.quote(plate, time_param(ledger, "at", at)))  # neither visit nor candidates: 404


@router.post("/payments", summary="Pay what the open visit owes; a replayed payment_id returns the first receipt")
def pay(
    body: PaymentIn,
    ledger: LedgerDep,
    token: Annotated[ApiToken, Depends(auth.require_role(*auth.PAY))],
) -> ReceiptOut:
    at = None if body.at is None else time_param(ledger, "at", body.at.isoformat())
    receipt = ledger.pay(body.plate, at=at, payment_id=body.payment_id, visit_id=body.visit_id)
    log.info("payment %s by token %r (replay: %s)", body.payment_id, token.name, receipt.replayed)
    return ReceiptOut.of(receipt)


@router.get(
    "/payments",
    summary="Payments made in [since, until), oldest first, with their count and sum; format=csv for a spreadsheet",
    response_model=PaymentPageOut,
    responses={200: {"content": {"text/csv": {}}}},
)
def payments(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.VIEW))],
    since: TimeQuery = None,
    until: TimeQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
    format: OutputFormat = OutputFormat.JSON,
) -> PaymentPageOut | Response:
    page = ledger.payments(time_param(ledger, "since", since), time_param(ledger, "until", until), limit, offset)
    if format is OutputFormat.CSV:
        rows = [p.to_dict() for p in page.payments]
        return Response(csv_text(PAYMENT_COLUMNS, rows, ledger.timezone), media_type="text/csv; charset=utf-8")
    return PaymentPageOut.of(page, ledger.tariff.currency)


@router.get(
    "/reports/revenue",
    summary="Payments per local day (or month) from `from` to `to`, both included; default today (by month: "
            "this month)",
    response_model=RevenueOut,
    response_model_by_alias=True,
    responses={200: {"content": {"text/csv": {}}}},
)
def revenue(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.VIEW))],
    from_: Annotated[str | None, Query(alias="from", description="first local day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="last local day, YYYY-MM-DD; default `from` (by month: the end "
                                                 "of its month)")] = None,
    by: Period = Period.DAY,
    format: OutputFormat = OutputFormat.JSON,
) -> RevenueOut | Response:
    first, last = ledger.report_range(day_param("from", from_), day_param("to", to), by.value)
    rows = ledger.revenue(first, last, by.value)
    if format is OutputFormat.CSV:
        text = csv_text(["period", "payments", "amount"], [r.to_dict() for r in rows], ledger.timezone)
        return Response(text, media_type="text/csv; charset=utf-8")
    return RevenueOut.model_validate(
        {
            "from": first,
            "to": last,
            "by": by,
            "timezone": ledger.timezone.key,
            "currency": ledger.tariff.currency,
            "rows": [r.to_dict() for r in rows],
            "total_payments": sum(r.payments for r in rows),
            "total_amount": json_amount(sum(r.amount_agorot for r in rows)) or 0.0,
        }
    )


@router.get("/tariff", summary="The active tariff and policy, and the lot's time zone")
def tariff(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.ANY_ROLE))],
) -> TariffOut:
    return TariffOut(tariff=ledger.tariff.describe(), policy=ledger.policy.describe(), timezone=ledger.timezone.key)

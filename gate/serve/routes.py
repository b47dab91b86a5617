"""The ``/api`` endpoints: each checks its role, calls one Ledger method, and answers a typed body.

Ledger errors are not caught here: gate.serve.app maps each to one JSON
error with its status (404 no open visit, 409 a conflicting payment, 503
busy ...), so every endpoint fails the same way.
"""
from __future__ import annotations

import csv
import io
import logging
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from gate.rules.clock import check_window, now_utc
from gate.rules.errors import InvalidInput, NoOpenVisit
from gate.serve import auth
from gate.serve.schemas import (
    DecisionOut,
    PaymentIn,
    Plate,
    QuoteOut,
    ReadIn,
    ReceiptOut,
    TimeIn,
    VisitOut,
    VisitPage,
    WhoAmI,
)
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken
from lpr.plate_format import format_plate

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]

CSV_COLUMNS = ["visit_id", "plate", "entry_at", "exit_at", "state", "fee", "paid", "waived", "flagged", "close_reason"]


class OutputFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def _in_window(ledger: Ledger, field: str, value: datetime | None) -> datetime | None:
    """The policy's time window, checked here so that the 422 names the field."""
    if value is None:
        return None
    earliest, latest = ledger.policy.time_window(now_utc())
    try:
        return check_window(value, earliest, latest)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None


@router.get("/whoami", summary="The calling token's name and role")
def whoami(token: Annotated[ApiToken, Depends(auth.require_role(*auth.ANY_ROLE))]) -> WhoAmI:
    return WhoAmI.of(token)


@router.get("/quote", summary="What the plate's open visit owes now, and until when it is paid up")
def quote(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.QUOTE))],
    plate: Annotated[Plate, Query()],
    at: Annotated[TimeIn | None, Query(description="an exit at this time; default now")] = None,
) -> QuoteOut:
    at = _in_window(ledger, "at", at) or now_utc()
    due = ledger.amount_due(plate, at)  # NoOpenVisit -> 404
    inside = ledger.visits(plate=plate, inside=True)
    if not inside:  # it left between the two reads
        raise NoOpenVisit(f"no open visit for plate {format_plate(plate)}")
    visit = inside[0]
    paid_until = None
    if due == 0 and visit.last_paid_at is not None:
        paid_until = visit.last_paid_at + ledger.tariff.grace
    return QuoteOut(
        plate=plate,
        at=at,
        amount_due=due / 100,
        currency=ledger.tariff.currency,
        paid_until=paid_until,
        visit=VisitOut.of(visit),
    )


@router.post("/payments", summary="Pay what the open visit owes; a replayed payment_id returns the first receipt")
def pay(
    body: PaymentIn,
    ledger: LedgerDep,
    token: Annotated[ApiToken, Depends(auth.require_role(*auth.PAY))],
) -> ReceiptOut:
    at = _in_window(ledger, "at", body.at)
    receipt = ledger.pay(body.plate, at=at, payment_id=body.payment_id)
    log.info("payment %s by token %r (replay: %s)", body.payment_id, token.name, receipt.replayed)
    return ReceiptOut.of(receipt)


@router.post("/reads", summary="A camera's read: the decision is committed; open the relay only when `open`")
def post_read(
    body: ReadIn,
    ledger: LedgerDep,
    token: Annotated[ApiToken, Depends(auth.require_role(*auth.READS))],
) -> DecisionOut:
    at = _in_window(ledger, "at", body.at)
    decision = ledger.decide(body.lane, body.plate, at=at, confidence=body.confidence)
    log.info("read at %s/%s by token %r: %s", body.lane, body.gate_id, token.name, decision.action)
    return DecisionOut.of(decision, body.gate_id)


@router.get(
    "/visits",
    summary="Visits overlapping [since, until], oldest entry first; format=csv for a spreadsheet",
    response_model=VisitPage,
    responses={200: {"content": {"text/csv": {}}}},
)
def visits(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.VIEW))],
    plate: Annotated[Plate | None, Query()] = None,
    inside: bool = False,
    since: Annotated[TimeIn | None, Query(description="visits still inside at or after this time")] = None,
    until: Annotated[TimeIn | None, Query(description="visits entered at or before this time")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: OutputFormat = OutputFormat.JSON,
) -> VisitPage | Response:
    found = ledger.visits(
        plate=plate,
        inside=inside,
        since=_in_window(ledger, "since", since),
        until=_in_window(ledger, "until", until),
    )
    page = [VisitOut.of(v) for v in found[offset : offset + limit]]
    if format is OutputFormat.CSV:
        return Response(_csv(page), media_type="text/csv; charset=utf-8")
    next_offset = offset + limit if offset + limit < len(found) else None
    return VisitPage(visits=page, total=len(found), limit=limit, offset=offset, next_offset=next_offset)


def _csv(rows: list[VisitOut]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        data = row.model_dump(mode="json")
        for money in ("fee", "paid"):
            if data[money] is not None:
                data[money] = f"{data[money]:.2f}"
        writer.writerow(data)
    return out.getvalue()

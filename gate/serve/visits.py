"""``GET /api/visits``: the visit log filtered, paged and counted in SQL (gate.store.listing), or as CSV.

Every filter is checked once, by ``Ledger.visit_filter`` (plates normalised,
a partial plate of 3 to 8 digits, times in the policy's window); the CSV is
in the lot's local time like every listing for people, JSON in UTC.
"""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from gate.report import csv_text
from gate.serve import auth
from gate.serve.params import LOCAL_TIME, Limit, Offset, OutputFormat, time_param
from gate.serve.schemas import Plate, VisitPage
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]

CSV_COLUMNS = ["visit_id", "plate", "entry_at", "exit_at", "state", "fee", "paid", "waived", "flagged", "close_reason",
               "entry_gate", "exit_gate"]


@router.get(
    "/visits",
    summary="Visits overlapping [since, until], oldest entry first, paged; format=csv for a spreadsheet",
    response_model=VisitPage,
    responses={200: {"content": {"text/csv": {}}}},
)
def visits(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.VIEW))],
    plate: Annotated[Plate | None, Query(description="exactly this plate")] = None,
    plate_contains: Annotated[
        str | None, Query(description="3 to 8 digits somewhere in the plate (dashes ignored)", examples=["345"])
    ] = None,
    inside: Annotated[bool, Query(description="only visits still open")] = False,
    since: Annotated[str | None, Query(description=f"visits still inside at or after this time; {LOCAL_TIME}")] = None,
    until: Annotated[str | None, Query(description=f"visits entered at or before this time; {LOCAL_TIME}")] = None,
    unpaid: Annotated[bool, Query(description="not waived, and nothing paid (open) or less than the fee (closed)")] = (
        False
    ),
    flagged: Annotated[bool, Query(description="only visits flagged for review")] = False,
    limit: Limit = 100,
    offset: Offset = 0,
    format: OutputFormat = OutputFormat.JSON,
) -> VisitPage | Response:
    found = ledger.visit_filter(
        plate=plate,
        plate_contains=plate_contains,
        inside=inside,
        since=time_param(ledger, "since", since),
        until=time_param(ledger, "until", until),
        unpaid=unpaid,
        flagged=flagged,
    )
    page = ledger.visit_page(found, limit, offset)
    if format is OutputFormat.CSV:
        rows = [v.to_dict() for v in page.visits]
        return Response(csv_text(CSV_COLUMNS, rows, ledger.timezone), media_type="text/csv; charset=utf-8")
    # the records' own JSON (VisitOut's fields, times in Z) written at once: validating a page of 100
    # through VisitOut and again as the response model cost more than the query (~5 ms of CPU)
    body = {
        "visits": [_utc_z(v.to_dict()) for v in page.visits],
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "next_offset": page.next_offset,
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _utc_z(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("entry_at", "exit_at"):
        if row[key] is not None:
            row[key] = row[key].replace("+00:00", "Z")
    return row

"""``GET /api/decisions``: the decision log, newest first, filtered and paged in SQL (gate.store.decision_log).

Unpaid exits and denials show here (they change no visit, so the visit log
never shows them). ``format=csv`` gives the same rows for a spreadsheet.
"""
from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from gate.report import spreadsheet_safe
from gate.rules.codes import Action, Lane, Reason
from gate.serve import auth
from gate.serve.schemas import Plate, TimeIn, UtcTime
from gate.store.decision_log import MAX_LIMIT, DecisionFilter, DecisionPage, list_decisions
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]
CSV_COLUMNS = ["decision_id", "at", "lane", "gate", "plate", "action", "reason", "visit_id", "amount_due", "flagged"]


class EvidenceRef(BaseModel):
    evidence_id: int = Field(description="GET /api/evidence/{evidence_id}")
    kind: str
    content_type: str
    width: int | None
    height: int | None
    expired_at: UtcTime | None


class VoteOut(BaseModel):
    plate: str
    frames: int
    score: float


class DecisionRow(BaseModel):
    decision_id: int
    at: UtcTime
    lane: Lane
    gate: str | None
    plate: str
    action: Action
    reason: Reason
    visit_id: int | None
    amount_due: float | None
    flagged: bool
    votes: list[VoteOut] | None
    evidence: list[EvidenceRef]


class DecisionListPage(BaseModel):
    decisions: list[DecisionRow]
    total: int | None = Field(description="decisions matching the filters, all pages (with count=true)")
    limit: int
    offset: int
    next_offset: int | None

    @classmethod
    def of(cls, page: DecisionPage) -> "DecisionListPage":
        rows = [DecisionRow.model_validate(d.to_dict()) for d in page.decisions]
        return cls(decisions=rows, total=page.total, limit=page.limit, offset=page.offset,
                   next_offset=page.next_offset)


@router.get("/decisions", summary="The decision log, newest first: denials and unpaid exits too; format=csv",
            response_model=DecisionListPage, responses={200: {"content": {"text/csv": {}}}})
def decisions(
    ledger: LedgerDep,
    _token: Annotated[ApiToken, Depends(auth.require_role(*auth.VIEW))],
    lane: Lane | None = None,
    gate: Annotated[str | None, Query(description="a gate id, e.g. north-exit")] = None,
    action: Action | None = None,
    reason: Reason | None = None,
    plate: Annotated[Plate | None, Query()] = None,
    since: Annotated[TimeIn | None, Query(description="decided at or after")] = None,
    until: Annotated[TimeIn | None, Query(description="decided at or before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    count: Annotated[bool, Query(description="also count every match (a scan unless gate or a time range "
                                             "narrows it)")] = False,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> DecisionListPage | Response:
    where = DecisionFilter(lane=lane, gate=gate, action=action, reason=reason, plate=plate, since=since, until=until)
    page = DecisionListPage.of(list_decisions(ledger, where, limit, offset, count=count))
    if format == "csv":
        return Response(_csv([r.model_dump(mode="json") for r in page.decisions]), media_type="text/csv; charset=utf-8")
    return page


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if row["amount_due"] is not None:
            row["amount_due"] = f"{row['amount_due']:.2f}"
        writer.writerow({k: spreadsheet_safe(v) if isinstance(v, str) else v for k, v in row.items()})
    return out.getvalue()

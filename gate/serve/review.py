"""The operator's endpoints: the review queue, its resolutions, and the overrides (open, close, waive).

Each takes a reason and records who acted: ``auth.Actor``, the API token's
name or the web page user's. A manual open is queued for its gate's
`gate run` (gate.store.commands), which pulses the relay within about a
second; the answer says what was queued. Bad input is a 422 naming the
field, a refused action (already resolved, visit closed) a 409.
"""
from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field, model_validator

from gate.rules.codes import ReviewAction
from gate.serve import auth
from gate.serve.auth import Actor
from gate.serve.reads import CommandOut, GateId
from gate.serve.schemas import Plate, TimeIn, VisitOut, _In
from gate.store.ledger import MAX_ID, Ledger
from gate.store.review import Operations

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]
Operator = Annotated[Actor, Depends(auth.require_actor(*auth.OPERATE))]
Reason = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S", description="why (recorded)")]
VisitId = Annotated[int, Field(ge=1, le=MAX_ID)]


class ReviewItemOut(BaseModel):
    id: int | None = Field(description="null for an overstay (computed, resolved by closing the visit)")
    kind: str
    plate: str
    visit_id: int | None
    decision_id: int | None
    reason: str
    created_at: str | None
    resolved_at: str | None
    resolved_by: str | None
    resolution: str | None


class ResolveIn(_In):
    action: ReviewAction = Field(description="confirm the match, reassign to another visit, open by hand, waive")
    reason: Reason
    visit_id: VisitId | None = Field(default=None, description="reassign only: the visit the read belongs to")

    @model_validator(mode="after")
    def _visit_for_reassign(self) -> "ResolveIn":
        if (self.visit_id is None) == (self.action is ReviewAction.REASSIGN):
            raise ValueError("visit_id: give it to reassign, and only then")
        return self


class ResolveOut(BaseModel):
    item: ReviewItemOut
    visit: VisitOut | None
    command: CommandOut | None = Field(description="the pulse queued for the gate (action open)")


class OpenIn(_In):
    gate: GateId
    reason: Reason
    plate: Plate | None = Field(default=None, description="also open a visit for this plate (entry camera down)")
    visit_id: VisitId | None = Field(default=None, description="the visit the car belongs to, for the record")


class OpenOut(BaseModel):
    visit: VisitOut | None
    command: CommandOut


class VisitActionIn(_In):
    reason: Reason
    visit_id: VisitId | None = None
    plate: Plate | None = None
    at: TimeIn | None = Field(default=None, description="close: when the car left; default now")

    @model_validator(mode="after")
    def _one_of(self) -> "VisitActionIn":
        if (self.visit_id is None) == (self.plate is None):
            raise ValueError("visit_id: give exactly one of visit_id or plate")
        return self


@router.get("/review", summary="The review queue: unmatched exits, fuzzy matches, low confidence, overstays")
def review_queue(
    ledger: LedgerDep,
    _actor: Annotated[Actor, Depends(auth.require_actor(*auth.VIEW))],
    include_resolved: Annotated[bool, Query(description="resolved items too")] = False,
) -> list[ReviewItemOut]:
    return [ReviewItemOut.model_validate(i.to_dict()) for i in ledger.review_queue(include_resolved=include_resolved)]


@router.post("/review/{item_id}/resolve", summary="Resolve a review item: confirm, reassign, open or waive")
def resolve(
    item_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: ResolveIn,
    ledger: LedgerDep,
    actor: Operator,
) -> ResolveOut:
    done = Operations(ledger).resolve(item_id, actor.name, body.action, body.reason, visit_id=body.visit_id)
    return ResolveOut.model_validate(done.to_dict())


@router.post("/overrides/open", summary="Open a gate's barrier by hand (queued for its `gate run`)")
def override_open(body: OpenIn, ledger: LedgerDep, actor: Operator) -> OpenOut:
    visit, command = Operations(ledger).open_gate(body.gate, actor.name, body.reason, plate=body.plate,
                                                  visit_id=body.visit_id)
    return OpenOut(visit=None if visit is None else VisitOut.of(visit),
                   command=CommandOut.model_validate(command.to_dict()))


@router.post("/overrides/close", summary="Close an open visit by hand (the car left); its fee is recorded")
def override_close(body: VisitActionIn, ledger: LedgerDep, actor: Operator) -> VisitOut:
    return VisitOut.of(ledger.override_close(actor.name, body.reason, visit_id=body.visit_id, plate=body.plate,
                                             at=body.at))


@router.post("/overrides/waive", summary="Waive an open visit's fee: its exit opens without payment")
def override_waive(body: VisitActionIn, ledger: LedgerDep, actor: Operator) -> VisitOut:
    return VisitOut.of(ledger.waive(actor.name, body.reason, visit_id=body.visit_id, plate=body.plate, at=body.at))

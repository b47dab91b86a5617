"""``GET /api/evidence/{id}``: an evidence image, by id only (the file name never leaves the server).

Viewers and operators may see any image. A pay station may see only the
entry image of a candidate visit of the plate it quotes
(``?plate=``: the visit must be among ``Ledger.quote(plate).candidates``), so
the driver can pick the car they came in with and nobody can page through
the lot's photos with a pay-station token. An image that retention deleted
is a 404 that says so; so is one whose file is gone.
"""
from __future__ import annotations

import logging
from typing import Annotated, Any, Callable, Protocol, Sequence, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from gate.rules.clock import iso
from gate.rules.codes import Lane, Role
from gate.rules.errors import GateError
from gate.serve import auth
from gate.serve.reads import evidence_dir
from gate.serve.schemas import Plate
from gate.store import evidence as evidence_files
from gate.store.ledger import MAX_ID, Ledger
from gate.store.tokens import ApiToken

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]
SEE = (Role.VIEWER, Role.PAY_STATION)  # a pay station only as the module doc says


class _Candidate(Protocol):
    @property
    def visit_id(self) -> int: ...


class _Quote(Protocol):
    @property
    def candidates(self) -> Sequence[_Candidate]: ...


@router.get("/evidence/{evidence_id}", summary="An evidence image (JPEG or PNG) by id",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def get_evidence(
    evidence_id: Annotated[int, PathParam(ge=1, le=MAX_ID)],
    request: Request,
    ledger: LedgerDep,
    token: Annotated[ApiToken, Depends(auth.require_role(*SEE))],
    plate: Annotated[Plate | None, Query(description="pay stations: the plate quoted")] = None,
) -> FileResponse:
    found = ledger.evidence(evidence_id)  # UnknownEvidence -> 404
    if token.role is Role.PAY_STATION and not _a_candidate_of(ledger, plate, found.lane, found.visit_id):
        raise HTTPException(403, "a pay station may see only the entry image of a candidate visit of the plate "
                                 "it quotes (?plate=)")
    if found.expired_at is not None:
        raise HTTPException(404, f"evidence {evidence_id} expired on {iso(found.expired_at)} (retention)")
    folder = evidence_dir(request)
    path = None if folder is None else evidence_files.path_of(folder, found.file)
    if path is None or not path.is_file():
        raise HTTPException(404, f"evidence {evidence_id}: its image is not on this server")
    return FileResponse(path, media_type=found.content_type,
                        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


def _a_candidate_of(ledger: Ledger, plate: str | None, lane: Lane, visit_id: int | None) -> bool:
    """Whether this entry image's visit is a candidate of ``plate``'s quote (see the module doc)."""
    if plate is None or lane is not Lane.ENTRY or visit_id is None:
        return False
    quote = cast(Callable[[str], _Quote] | None, getattr(ledger, "quote", None))
    if quote is None:  # a ledger without quotes has no candidates to show
        return False
    try:
        candidates: Any = quote(plate).candidates
    except GateError:  # no open visit near that plate
        return False
    return any(c.visit_id == visit_id for c in candidates)

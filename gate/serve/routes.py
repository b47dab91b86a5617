"""``/api/whoami``; every other endpoint lives in the router of its concept (payments, visits, reads,
decisions, review, evidence, lists), which gate.serve.app includes.

Ledger errors are not caught in the routers: gate.serve.app maps each to one
JSON error with its status (404 no open visit, 409 a conflicting payment,
503 busy ...), so every endpoint fails the same way.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from gate.serve import auth
from gate.serve.schemas import WhoAmI
from gate.store.tokens import ApiToken

router = APIRouter(prefix="/api")


@router.get("/whoami", summary="The calling token's name and role")
def whoami(token: Annotated[ApiToken, Depends(auth.require_role(*auth.ANY_ROLE))]) -> WhoAmI:
    return WhoAmI.of(token)


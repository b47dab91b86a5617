"""The ``/api`` endpoints: each checks its role, calls one Ledger method, and answers a typed body.

Ledger errors are not caught here: gate.serve.app maps each to one JSON
error with its status (404 no open visit, 409 a conflicting payment, 503
busy ...), so every endpoint fails the same way.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends

from gate.rules.clock import check_window, now_utc
from gate.rules.errors import InvalidInput
from gate.serve import auth
from gate.serve.schemas import WhoAmI
from gate.serve.visits import CSV_COLUMNS as CSV_COLUMNS  # moved to gate.serve.visits; the web pages import it here
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]


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


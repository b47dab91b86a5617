"""Who may call what: bearer tokens (``gate token create``), one role each, as FastAPI dependencies.

The operator may do everything; each other role only its own job, so a
stolen pay-station token cannot open a gate and a camera's cannot pay.
Missing, unknown or revoked token: 401; a token of the wrong role: 403.
The secret is hashed and looked up (gate.store.tokens), never logged.
"""
from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gate.rules.codes import Role
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken, Tokens

_bearer = HTTPBearer(auto_error=False, description="an API token from `gate token create`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

# the roles of each kind of endpoint, besides the operator's
QUOTE = (Role.PAY_STATION, Role.VIEWER)
PAY = (Role.PAY_STATION,)
READS = (Role.CAMERA,)
VIEW = (Role.VIEWER,)
ANY_ROLE = tuple(Role)


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def require_role(*roles: Role) -> Callable[..., ApiToken]:
    """A dependency that returns the caller's token when its role is one of ``roles`` or operator."""
    allowed = frozenset(roles) | {Role.OPERATOR}
    needs = ", ".join(sorted(r.value for r in allowed))

    def check(
        ledger: Annotated[Ledger, Depends(get_ledger)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiToken:
        if credentials is None:
            raise HTTPException(401, "an API token is required: Authorization: Bearer <token>", headers=_CHALLENGE)
        token = Tokens(ledger).authenticate(credentials.credentials)
        if token is None:
            raise HTTPException(401, "unknown or revoked API token", headers=_CHALLENGE)
        if token.role not in allowed:
            raise HTTPException(403, f"token {token.name!r} has role {token.role}: this needs {needs}")
        return token

    return check

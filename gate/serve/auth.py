"""Who may call what: bearer tokens (``gate token create``), one role each, as FastAPI dependencies.

The operator may do everything; each other role only its own job, so a
stolen pay-station token cannot open a gate and a camera's cannot pay.
Missing, unknown or revoked token: 401; a token of the wrong role: 403.
The secret is hashed and looked up (gate.store.tokens), never logged.
A browser logged in to the web page (gate.serve.web) is a caller too: its
username and role, with the session's CSRF token required on every write.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gate.rules.codes import Role
from gate.serve.web import session as web_session
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


OPERATE: tuple[Role, ...] = ()  # overrides and review: the operator only


@dataclass(frozen=True)
class Actor:
    """Who acted, as every override and review action records it: the API token's name, or the name of the
    user logged in to the web page (whose caller has no token id)."""

    name: str
    role: Role
    web: bool = False

    @classmethod
    def of(cls, token: ApiToken) -> "Actor":
        return cls(token.name, token.role, web=token.id == 0)


def require_actor(*roles: Role) -> Callable[..., Actor]:
    """Like ``require_role``, giving the caller as an Actor (the ``who`` of the records it writes)."""
    check = require_role(*roles)

    # a default, not Annotated: the annotation would be a string naming the local ``check``
    def actor(token: ApiToken = Depends(check)) -> Actor:  # noqa: B008
        return Actor.of(token)

    return actor


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def require_role(*roles: Role) -> Callable[..., ApiToken]:
    """A dependency that returns the caller's token when its role is one of ``roles`` or operator."""
    allowed = frozenset(roles) | {Role.OPERATOR}
    needs = ", ".join(sorted(r.value for r in allowed))

    def check(
        request: Request,
        ledger: Annotated[Ledger, Depends(get_ledger)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiToken:
        token: ApiToken | None
        if credentials is None:
            token = _session_caller(request)
            if token is None:
                raise HTTPException(401, "an API token is required: Authorization: Bearer <token>", headers=_CHALLENGE)
        else:
            token = Tokens(ledger).authenticate(credentials.credentials)
        if token is None:
            raise HTTPException(401, "unknown or revoked API token", headers=_CHALLENGE)
        if token.role not in allowed:
            raise HTTPException(403, f"token {token.name!r} has role {token.role}: this needs {needs}")
        return token

    return check


def _session_caller(request: Request) -> ApiToken | None:
    """A web page login as a caller (id 0: no token): its username acts; a write needs the CSRF header."""
    found = web_session.web_session(request)
    if found is None:
        return None
    if request.method not in web_session.SAFE_METHODS and not web_session.csrf_ok(
        found, request.headers.get(web_session.CSRF_HEADER)
    ):
        raise HTTPException(403, f"missing or wrong {web_session.CSRF_HEADER} header for a logged-in browser")
    user = found.user
    return ApiToken(0, user.username, user.role, user.created_at, None)

"""Who is logged in: the session cookie, looked up once per request, and the CSRF check of every form.

Used by the pages and by gate.serve.auth (a logged-in browser may read the API
and the docs). Reads the ledger from ``request.app.state``, not through
gate.serve.auth, so that auth can import this module without a cycle.
"""
from __future__ import annotations

import hmac

from fastapi import Request

from gate.store.ledger import Ledger
from gate.store.users import Users, WebSession

SESSION_COOKIE = "plategate_session"
LOGIN_CSRF_COOKIE = "plategate_login_csrf"  # the login form's double-submit token (no session yet)
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def users_of(request: Request) -> Users:
    """The users of the app's ledger, on the app's clock (tests inject one as ``app.state.clock``)."""
    ledger: Ledger = request.app.state.ledger
    clock = getattr(request.app.state, "clock", None)
    return Users(ledger) if clock is None else Users(ledger, clock=clock)


def web_session(request: Request) -> WebSession | None:
    """The request's live session from its cookie, or None; looked up once per request."""
    if "web_session" in request.scope.get("state", {}):
        found: WebSession | None = request.state.web_session
        return found
    secret = request.cookies.get(SESSION_COOKIE)
    found = users_of(request).session(secret) if secret else None
    request.state.web_session = found
    return found


def csrf_ok(session: WebSession, token: str | None) -> bool:
    """Whether a form's (or header's) token is this session's: constant-time compare."""
    return bool(token) and hmac.compare_digest(session.csrf_token.encode(), (token or "").encode())

"""Every path has a body limit, checked before any token, login or CSRF check (gate.serve.limits)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gate.serve import reads
from gate.serve.limits import DEFAULT_MAX_BODY, BodyLimit
from gate.serve.web.pages import MAX_IMPORT_BODY

HUGE = b"A" * (3 * 1024 * 1024)


@pytest.mark.parametrize("path, content_type", [
    ("/login", "application/x-www-form-urlencoded"),
    ("/api/payments", "application/json"),
    ("/settings/tokens", "application/x-www-form-urlencoded"),
])
def test_an_unauthenticated_3_mb_post_is_a_413_before_any_check(api, path, content_type):
    """Not a 422 after parsing 3 MB, nor a 403/401 after it: refused on its Content-Length, and it serves on."""
    response = api.post(path, content=HUGE, headers={"Content-Type": content_type})
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"request body is {len(HUGE)} bytes: at most {DEFAULT_MAX_BODY} bytes here"}
    assert api.get("/health").status_code == 200


@pytest.mark.parametrize("path", ["/login", "/api/payments"])
def test_a_chunked_3_mb_post_is_cut_off_at_the_default_limit(api, path):
    """No Content-Length: the body is counted as it arrives, and the endpoint's own answer (422, 403) dropped."""
    chunks = iter([HUGE[i:i + 65536] for i in range(0, len(HUGE), 65536)])
    response = api.post(path, content=chunks, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == f"request body is larger than that: at most {DEFAULT_MAX_BODY} bytes here"
    assert api.get("/health").status_code == 200


def test_a_small_body_still_reaches_the_checks(api):
    assert api.post("/api/payments", json={"plate": "1234567"}).status_code == 401  # no token
    assert api.post("/login", data={"username": "x", "password": "y"}).status_code == 403  # no CSRF cookie


def _status(limit: BodyLimit, path: str, size: int) -> int:
    """The status BodyLimit answers for a declared body of ``size`` bytes (200: it reached the app)."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": [(b"content-length", str(size).encode())]}
    asyncio.run(BodyLimit(app, limit.limits, limit.default)(scope, receive, send))
    return int(sent[0]["status"])


def test_the_larger_limits_are_by_path_only(api):
    """The app's own middleware: a camera read's images and a plate list CSV may be larger, nothing else."""
    found = next(m for m in api.app.user_middleware if m.cls is BodyLimit)
    limit = BodyLimit(None, **found.kwargs)  # type: ignore[arg-type]
    assert limit.limits["/api/reads"] == reads.MAX_BODY and limit.limits["/lists/import"] == MAX_IMPORT_BODY
    assert limit.default == DEFAULT_MAX_BODY
    assert 1024 * 1024 < MAX_IMPORT_BODY <= 1.2 * 1024 * 1024
    assert _status(limit, "/api/reads", reads.MAX_BODY) == 200
    assert _status(limit, "/lists/import", MAX_IMPORT_BODY) == 200
    assert _status(limit, "/lists/import", MAX_IMPORT_BODY + 1) == 413
    assert _status(limit, "/api/reads/", DEFAULT_MAX_BODY + 1) == 413  # another path: the default
    assert _status(limit, "/api/visits", DEFAULT_MAX_BODY) == 200

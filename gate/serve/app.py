"""The HTTP API's app: built by ``create_app(open_ledger)`` so a test can serve any database.

One Ledger per process, opened when the server starts and closed when it
stops; the endpoints are plain functions that FastAPI runs on its thread
pool, and the Ledger's own transactions make several processes on one
PostgreSQL safe. Every error of the API is one JSON object ``{"detail": "..."}``
(an admin page's is the error page, with the same status and line): the
ledger's errors by kind (404, 409, 422, 503 with Retry-After), a 422 naming
the field, a 500 that says only "internal error" (the traceback goes to the
server log, never to the client).
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import swagger_ui_bundle
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from gate.rules.errors import (
    ClockError,
    GateError,
    InvalidInput,
    LedgerBusy,
    LedgerUnavailable,
    NoOpenVisit,
    PaymentConflict,
    SchemaMismatch,
    UnknownEvidence,
    UnknownVisit,
)
from gate.serve import auth, decisions, evidence, lists, payments, reads, review, visits
from gate.serve.limits import BodyLimit
from gate.serve.routes import router
from gate.serve.schemas import HealthOut, error_body
from gate.serve.web import pages as web_pages
from gate.store import schema
from gate.store.ledger import Ledger
from lpr.plate_format import PlateFormatError

log = logging.getLogger(__name__)

# the first class that matches decides the status
DOCS_ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})
UNAVAILABLE = "database unavailable: nothing was recorded; try again shortly (the server's log has the cause)"
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (LedgerUnavailable, 503),  # LedgerBusy included
    (SchemaMismatch, 503),
    (NoOpenVisit, 404),
    (UnknownVisit, 404),
    (UnknownEvidence, 404),
    (PaymentConflict, 409),
    (ClockError, 409),
    (InvalidInput, 422),
    (PlateFormatError, 422),
    (GateError, 409),  # a refused operation
)
_LOCATIONS = ("body", "query", "path", "header", "cookie")


def create_app(open_ledger: Callable[[], Ledger], evidence_dir: str | Path | None = None) -> FastAPI:
    """The API over the ledger that ``open_ledger`` opens at start-up (and the app closes at shutdown).

    ``evidence_dir``: where the images of camera reads are kept and served from (none: not kept).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = open_ledger()
        try:
            yield
        finally:
            app.state.ledger.close()

    app = FastAPI(
        title="plategate",
        summary="Parking gate ledger: quotes, payments, camera reads, visits",
        lifespan=lifespan,
        docs_url=None,  # served below, behind a token
        redoc_url=None,
        openapi_url=None,
    )
    app.state.evidence_dir = None if evidence_dir is None else Path(evidence_dir)
    app.include_router(router)
    app.include_router(reads.router)  # camera reads with votes and images, a gate's manual opens
    app.include_router(evidence.router)
    app.include_router(decisions.router)
    app.include_router(review.router)  # review queue and overrides
    # every path: 64 KiB but for a camera read's images and a plate list CSV (refused before any token check)
    app.add_middleware(BodyLimit, limits={"/api/reads": reads.MAX_BODY, "/api/lists/import": lists.MAX_BODY,
                                          "/lists/import": web_pages.MAX_IMPORT_BODY})
    app.include_router(payments.router)  # quote, payments, revenue, tariff
    app.include_router(visits.router)
    app.include_router(lists.router)  # allow/deny lists, CSV import and export
    web_pages.install(app)  # the admin page: /login, /live, /visits ... and /static
    app.add_exception_handler(GateError, _ledger_error)
    app.add_exception_handler(PlateFormatError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)

    any_token = [Depends(auth.require_role(*auth.ANY_ROLE))]  # a token or a web page login

    @app.get("/health", summary="Database reachable and its schema version (public)")
    def health(request: Request) -> JSONResponse:
        ledger: Ledger = request.app.state.ledger
        try:
            version = schema.current_revision(ledger.engine)
        except Exception as exc:  # any driver failure: the answer is "unavailable", not a 500
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("health: database unreachable: %s", line)
            body = HealthOut(status="unavailable", database="unreachable", schema_version=None, code_schema=schema.HEAD)
            return JSONResponse(body.model_dump(), status_code=503)
        ok = version == schema.HEAD
        body = HealthOut(
            status="ok" if ok else "schema-mismatch",
            database="ok",
            schema_version=version,
            code_schema=schema.HEAD,
        )
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/openapi.json", include_in_schema=False, dependencies=any_token)
    def openapi() -> dict[str, Any]:
        return app.openapi()

    # Swagger UI's files come from the swagger-ui-bundle package, never from a CDN (a gate box is offline); only
    # the three /docs uses: the package's folder also holds a demo page that loads a petstore from the internet
    @app.get("/docs-assets/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        if name not in DOCS_ASSETS:
            raise HTTPException(404, f"no asset {name!r}")
        path = Path(swagger_ui_bundle.swagger_ui_path) / name
        return FileResponse(path, headers={"X-Content-Type-Options": "nosniff"})

    @app.get("/docs", include_in_schema=False, dependencies=any_token)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="plategate API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js", swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    return app


async def _ledger_error(request: Request, exc: Exception) -> Response:
    status = next(code for kind, code in _STATUS if isinstance(exc, kind))
    headers = {"Retry-After": "1"} if isinstance(exc, LedgerBusy) else None
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc)
        if not isinstance(exc, LedgerBusy):  # the driver's line names the host, port and user: the log has it
            exc = LedgerUnavailable(UNAVAILABLE)
    if web_pages.is_page(request):  # the page decides a busy database's 503 and Retry-After itself
        return await run_in_threadpool(web_pages.error_page, request, status, exc)
    return JSONResponse(error_body(str(exc)), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [_field_error(e) for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if web_pages.is_page(request):  # a form field past its length: the page says so, with a way back
        return await run_in_threadpool(web_pages.error_page, request, 422, detail)
    return JSONResponse(error_body(detail, errors=errors), status_code=422)


def _field_error(error: Any) -> dict[str, str]:
    """One pydantic error as {field, message}: 'plate', 'at', 'body' for JSON that does not parse."""
    loc = [str(p) for p in error.get("loc", ())]
    if error.get("type") == "json_invalid":
        return {"field": "body", "message": f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot parse')}"}
    field = ".".join(p for p in loc if p not in _LOCATIONS) or (loc[0] if loc else "request")
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return {"field": field, "message": message}


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's own errors as they are, but a JSON body that is not UTF-8: a 422 like malformed JSON, not a bare
    400 "There was an error parsing the body" that names nothing."""
    assert isinstance(exc, StarletteHTTPException)
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, UnicodeDecodeError):
        detail = f"body: malformed JSON: not UTF-8 (byte 0x{cause.object[cause.start]:02x} at position {cause.start})"
        return JSONResponse(error_body(detail, errors=[{"field": "body", "message": detail[6:]}]), status_code=422)
    return await http_exception_handler(request, exc)


async def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error", exc_info=exc)
    return JSONResponse(error_body("internal error: see the server log"), status_code=500)

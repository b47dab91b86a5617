"""The admin pages: login, live lanes, visits, review queue, payments, plate lists, settings.

Server-rendered (Jinja2) over the app's Ledger; the only script is a small
poller for the live page. Every page needs a login (else a redirect to
/login); every POST needs the session's CSRF token (else 403) and, but for
logout, the operator role (a viewer gets 403 and sees no buttons). What an
operator does is recorded under the username.
"""
from __future__ import annotations

import logging
import secrets
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gate.rules.clock import day_end, day_start, now_utc
from gate.rules.codes import Lane, ListKind, ReviewAction, Role
from gate.rules.errors import GateError, InvalidInput, LedgerUnavailable, UnknownEvidence
from gate.rules.money import to_shekels
from gate.serve.visits import CSV_COLUMNS
from gate.serve.web import data, session
from gate.serve.web.chart import bar_chart
from gate.serve.web.lists import import_csv, last_day, remove_entry, save_entry
from gate.serve.web.session import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE
from gate.store.evidence import path_of
from gate.store.ledger import Ledger
from gate.store.review import Operations
from gate.store.tokens import NewToken, Tokens
from gate.store.users import LoginFailed, LoginThrottled, WebSession
from lpr.plate_format import PlateFormatError, ascii_digits, format_plate, normalize_plate

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_UPLOAD = 1024 * 1024  # a plate list CSV
MAX_IMPORT_BODY = MAX_UPLOAD + MAX_UPLOAD // 10  # the CSV with its multipart form around it (gate.serve.limits)
# every asset is this server's (no CDN, no inline script): a page injected elsewhere can neither run nor frame it
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    # plates, holders and payments: nothing of a logged-in page stays in a shared booth PC's cache after logout
    "Cache-Control": "no-store",
}


class LoginRequired(Exception):
    """No live session: the page redirects to /login (and back after it)."""


class Refused(Exception):
    """A form the page will not take (no login, no CSRF token, a viewer's): an error page with the status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def install(app: FastAPI) -> None:
    """Add the pages and the static assets (served by the package: no CDN) to the API's app."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(Refused, _refused)


async def _to_login(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    # the session lookup and the page's counts are database queries: never on the event loop
    return await run_in_threadpool(lambda: _error(request, session.web_session(request), exc.status, str(exc)))


def is_page(request: Request) -> bool:
    """Whether the request was routed to a page of this module: its errors are pages too, not the API's JSON."""
    return getattr(request.scope.get("endpoint"), "__module__", None) == __name__


def error_page(request: Request, status: int, message: str | Exception) -> HTMLResponse:
    """The error page with a way back, for an error the app's own handlers found in a page's request."""
    try:
        who = session.web_session(request)
    except GateError:  # the database the session lives in is the error: the page still says what happened
        who = None
    return _error(request, who, status, message)


# ---------------------------------------------------------------------- dependencies


def _ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def logged_in(request: Request) -> WebSession:
    found = session.web_session(request)
    if found is None:
        if request.method in session.SAFE_METHODS:
            raise LoginRequired()
        raise Refused(401, "log in first")
    return found


async def _checked_form(request: Request) -> WebSession:
    """A POST of a logged-in user carrying the session's CSRF token; 403 without it."""
    who = await run_in_threadpool(logged_in, request)  # a database query: a busy ledger must not stall the loop
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not session.csrf_ok(who, token if isinstance(token, str) else None):
        log.warning("form %s of %r refused: missing or wrong CSRF token", request.url.path, who.user.username)
        raise Refused(403, "missing or wrong CSRF token: reload the page and try again")
    return who


async def operator_form(request: Request) -> WebSession:
    """A checked form of an operator: viewers may look, never act."""
    who = await _checked_form(request)
    if who.user.role is not Role.OPERATOR:
        raise Refused(403, f"user {who.user.username!r} is a viewer: this needs an operator")
    return who


Ledger_ = Annotated[Ledger, Depends(_ledger)]
User_ = Annotated[WebSession, Depends(logged_in)]
Operator_ = Annotated[WebSession, Depends(operator_form)]
Member_ = Annotated[WebSession, Depends(_checked_form)]
Reason_ = Annotated[str, Form(max_length=500)]


def local_zone(ledger: Ledger) -> tzinfo:
    """The lot's time zone (pages show and take local time, as the CLI's tables and the CSV do)."""
    return ledger.timezone


def _render(request: Request, name: str, who: WebSession | None, status: int = 200, **context: Any) -> HTMLResponse:
    ledger = _ledger(request)
    tz = local_zone(ledger)
    counts = data.counts(ledger) if who is not None else {}
    base = {
        "done": _done(request),
        "who": who,
        "csrf": who.csrf_token if who else "",
        "operator": who is not None and who.user.role is Role.OPERATOR,
        "counts": counts,
        "path": request.url.path,
        "tz": tz,
        "local": lambda value, fmt="%Y-%m-%d %H:%M:%S": "" if value is None else value.astimezone(tz).strftime(fmt),
        "money": lambda agorot: "" if agorot is None else f"{to_shekels(agorot):,.2f}",
        "plate": _plate,
        "currency": ledger.tariff.currency,
    }
    response = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    response.headers.update(PAGE_HEADERS)
    return response


def _done(request: Request) -> str:
    """The status banner of a form's redirect (?done=...), only when a page of this site led here: a link from
    elsewhere could otherwise put any text in it ("session expired, call ... and give your password")."""
    text = request.query_params.get("done", "")
    referer = urlsplit(request.headers.get("referer", ""))
    return text if text and referer.netloc == request.url.netloc else ""


def _plate(digits: str | None) -> str:
    if not digits:
        return ""
    try:
        return format_plate(digits)
    except PlateFormatError:
        return digits


def _error(request: Request, who: WebSession | None, status: int, message: str | Exception) -> HTMLResponse:
    """The error page. A busy or unreachable database is a 503 with Retry-After whatever the form was doing: the
    form was fine and sending it again will do (a waive that met a locked ledger is not a 409 conflict). Bad input
    caught with the conflicts (an id out of range, a blank name) is still a 422."""
    busy = isinstance(message, LedgerUnavailable)
    if status == 409 and isinstance(message, InvalidInput):  # a refused operation is 409; a bad value, 422
        status = 422
    referer = urlsplit(request.headers.get("referer", ""))
    back = referer.path + (f"?{referer.query}" if referer.query else "") if referer.netloc == request.url.netloc else ""
    page = _render(request, "error.html", who, status=503 if busy else status, message=str(message),
                   back=_safe_next(back or "/live"))
    if busy:
        page.headers["Retry-After"] = "1"
    return page


def _back(url: str, **query: str) -> RedirectResponse:
    return RedirectResponse(url + ("?" + urlencode(query) if query else ""), status_code=303)


# ---------------------------------------------------------------------- login


@router.get("/login")
def login_page(request: Request, next: str = "/live") -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html", None, login_csrf=token, next=_safe_next(next), message=None)
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_https(request), path="/login"
    )
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/live",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie.encode(), csrf.encode()):
        raise Refused(403, "missing or wrong CSRF token: reload the login page")
    remote = request.client.host if request.client else None
    try:
        new = session.users_of(request).login(username, password, remote=remote)
    except LoginThrottled as exc:
        response = _render(request, "login.html", None, 429, login_csrf=csrf, next=_safe_next(next), message=str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except (LoginFailed, InvalidInput) as exc:
        return _render(request, "login.html", None, 401, login_csrf=csrf, next=_safe_next(next), message=str(exc))
    done = RedirectResponse(_safe_next(next), status_code=303)
    max_age = int((new.session.expires_at - now_utc()).total_seconds())
    done.set_cookie(
        SESSION_COOKIE, new.secret, max_age=max(60, max_age), httponly=True, samesite="strict",
        secure=_https(request), path="/",
    )
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return done


@router.post("/logout")
def logout(request: Request, _who: Member_) -> Response:
    secret = request.cookies.get(SESSION_COOKIE, "")
    session.users_of(request).logout(secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _https(request: Request) -> bool:
    return request.url.scheme == "https"


def _safe_next(target: str) -> str:
    """Only a path of this site (never an open redirect to another host), without a status banner's text."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/live"
    parts = urlsplit(target)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "done"])
    return parts.path + (f"?{query}" if query else "")


# ---------------------------------------------------------------------- live lanes


@router.get("/")
def home(_who: User_) -> RedirectResponse:
    return RedirectResponse("/live", status_code=303)


@router.get("/live")
def live(request: Request, who: User_, ledger: Ledger_) -> HTMLResponse:
    return _render(request, "live.html", who, lanes=data.live_lanes(ledger), now=now_utc())


@router.get("/live/lanes")
def live_lanes(request: Request, who: User_, ledger: Ledger_) -> HTMLResponse:
    """The lanes alone: what the page's poller swaps in every few seconds."""
    return _render(request, "_lanes.html", who, lanes=data.live_lanes(ledger), now=now_utc())


# ---------------------------------------------------------------------- visits


def _visit_filter(
    plate: str = "", inside: str = "", since: str = "", until: str = "", unpaid: str = "", flagged: str = ""
) -> data.VisitFilter:
    digits = "".join(c for c in normalize_digits(plate))
    if plate.strip() and len(digits) < 3:
        raise InvalidInput(f"plate {plate!r}: type at least 3 digits")
    if len(digits) > 8:
        raise InvalidInput(f"plate {plate!r}: a plate has 7 or 8 digits")
    return data.VisitFilter(
        plate=digits, inside=bool(inside), since=_day("since", since), until=_day("until", until),
        unpaid=bool(unpaid), flagged=bool(flagged),
    )


def normalize_digits(text: str) -> str:
    """The digits of a partial plate as typed ('345', '12-345', fullwidth digits ...)."""
    text = text.strip()
    if not text:
        return ""
    try:
        return normalize_plate(text)
    except PlateFormatError:
        return "".join(str(int(c)) for c in text if c.isdecimal())


def _day(name: str, value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{name} {value!r}: expected a day, YYYY-MM-DD") from None


@router.get("/visits")
def visits(
    request: Request,
    who: User_,
    ledger: Ledger_,
    plate: str = "",
    inside: str = "",
    since: str = "",
    until: str = "",
    unpaid: str = "",
    flagged: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    try:
        f = _visit_filter(plate, inside, since, until, unpaid, flagged)
        found = data.ledger_filter(ledger, f, local_zone(ledger))
    except (InvalidInput, PlateFormatError) as exc:
        return _error(request, who, 422, exc)
    rows, more = data.visits_page(ledger, found, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    query = f.query()
    return _render(
        request, "visits.html", who, f=f, typed_plate=plate, rows=rows, page=page, more=more,
        prev_url=f"/visits?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"/visits?{urlencode({**query, 'page': page + 1})}" if more else None,
        csv_url=f"/visits.csv?{urlencode(query)}",
    )


@router.get("/visits.csv")
def visits_csv(
    _who: User_,
    ledger: Ledger_,
    plate: str = "",
    inside: str = "",
    since: str = "",
    until: str = "",
    unpaid: str = "",
    flagged: str = "",
) -> Response:
    """The current filter as CSV: the API's columns, order and cells (oldest entry first), streamed."""
    f = _visit_filter(plate, inside, since, until, unpaid, flagged)
    found = data.ledger_filter(ledger, f, local_zone(ledger))
    name = f"visits-{ledger.today().isoformat()}.csv"
    return StreamingResponse(
        data.visits_csv(ledger, found, CSV_COLUMNS), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/visits/{visit_id}")
def visit_page(request: Request, visit_id: int, who: User_, ledger: Ledger_) -> HTMLResponse:
    try:
        detail = data.visit_detail(ledger, visit_id)
    except GateError as exc:
        return _error(request, who, 404, exc)
    return _render(
        request, "visit.html", who, d=detail, entry=detail.evidence_of(Lane.ENTRY), exit=detail.evidence_of(Lane.EXIT),
        due=_due(ledger, detail.visit) if detail.visit.is_open else None,
    )


def _due(ledger: Ledger, visit: Any) -> int | None:
    try:
        return ledger.amount_due(visit.plate)
    except GateError:
        return None


@router.post("/visits/{visit_id}/waive")
def waive(request: Request, visit_id: int, who: Operator_, ledger: Ledger_, reason: Reason_ = "") -> Response:
    try:
        ledger.waive(who.user.username, reason, visit_id=visit_id)
    except GateError as exc:
        return _error(request, who, 409, exc)
    return _back(f"/visits/{visit_id}", done="fee waived")


@router.post("/visits/{visit_id}/close")
def close(request: Request, visit_id: int, who: Operator_, ledger: Ledger_, reason: Reason_ = "") -> Response:
    try:
        ledger.override_close(who.user.username, reason, visit_id=visit_id)
    except GateError as exc:
        return _error(request, who, 409, exc)
    return _back(f"/visits/{visit_id}", done="visit closed")


# ---------------------------------------------------------------------- evidence


@router.get("/evidence/{evidence_id}")
def evidence_image(request: Request, evidence_id: int, _who: User_, ledger: Ledger_) -> Response:
    """An evidence image by its id only (never a path from the request); 410 once retention removed it."""
    try:
        found = ledger.evidence(evidence_id)
    except UnknownEvidence:
        raise Refused(404, f"no evidence {evidence_id}") from None
    if found.expired_at is not None:
        raise Refused(410, f"evidence {evidence_id} has expired (removed by the retention policy)")
    root = evidence_root(request)
    path = None if root is None else path_of(root, found.file)
    if path is None or not path.is_file():
        raise Refused(404, f"evidence {evidence_id}: its image is not on this server")
    return FileResponse(path, media_type=found.content_type, headers=PAGE_HEADERS)


def evidence_root(request: Request) -> Path | None:
    """The folder the evidence files are in (``gate serve --evidence-dir``)."""
    root = getattr(request.app.state, "evidence_dir", None)
    return None if root is None else Path(root)


# ---------------------------------------------------------------------- review queue


@router.get("/review")
def review(request: Request, who: User_, ledger: Ledger_) -> HTMLResponse:
    overstays = data.overstays(ledger, now_utc() - timedelta(hours=ledger.policy.max_stay_hours))
    return _render(request, "review.html", who, items=data.review_rows(ledger), overstays=overstays,
                   audit=data.audit_log(ledger))


@router.post("/review/{item_id}/resolve")
def resolve(
    request: Request,
    item_id: int,
    who: Operator_,
    ledger: Ledger_,
    action: Annotated[str, Form()] = "",
    reason: Reason_ = "",
    visit_id: Annotated[str, Form()] = "",
) -> Response:
    """One of the API's resolve actions (gate.store.review), recorded under the logged-in username."""
    try:
        if not reason.strip():
            raise InvalidInput("a reason is required")
        target = None
        if action == ReviewAction.REASSIGN:
            typed = visit_id.strip()
            if not (typed.isascii() and typed.isdigit() and len(typed) <= 10):  # int("²") raises, int("9" * 5000) too
                raise InvalidInput("reassign: give the number of the visit the read belongs to")
            target = int(typed)
        done = Operations(ledger).resolve(item_id, who.user.username, action, reason, visit_id=target)
    except InvalidInput as exc:
        return _error(request, who, 422, exc)
    except GateError as exc:
        return _error(request, who, 409, exc)
    queued = f", a pulse queued for gate {done.command.gate}" if done.command is not None else ""
    return _back("/review", done=f"item {item_id}: {done.item.resolution}{queued}")


# ---------------------------------------------------------------------- payments and revenue


@router.get("/payments")
def payments(
    request: Request,
    who: User_,
    ledger: Ledger_,
    since: str = "",
    until: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    tz = local_zone(ledger)
    try:
        last = _day("until", until) or ledger.today()
        first = _day("since", since)
        if first is None:  # the last two weeks
            if last.toordinal() <= 13:
                raise InvalidInput(f"until {until!r}: expected a day after {date.min.isoformat()} + 13 days")
            first = last - timedelta(days=13)
        days = ledger.revenue(first, last)  # the lot's local days, as `gate report revenue`
        start = day_start(first, tz)
        offset = (page - 1) * PAGE_SIZE
        listed, more = data.payments_page(ledger, start, day_end(last, tz), PAGE_SIZE, offset)
    except (InvalidInput, GateError) as exc:
        return _error(request, who, 422, exc)
    query = {"since": first.isoformat(), "until": last.isoformat()}
    return _render(
        request, "payments.html", who, days=days, first=first, last=last, listed=listed, offset=offset,
        total=sum(d.amount_agorot for d in days), count=sum(d.payments for d in days),
        chart=bar_chart([(d.period.strftime("%d.%m"), d.amount_agorot / 100) for d in days], ledger.tariff.currency),
        prev_url=f"/payments?{urlencode({**query, 'page': page - 1})}" if page > 1 else None,
        next_url=f"/payments?{urlencode({**query, 'page': page + 1})}" if more else None,
    )


# ---------------------------------------------------------------------- plate lists


@router.get("/lists")
def lists(request: Request, who: User_, ledger: Ledger_, edit: str = "", kind: str = "",
          plate: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:
    digits = "".join(c for c in ascii_digits(plate) if c.isdigit())  # part of a plate: dashes, spaces ignored
    rows, total = data.plate_lists(ledger, digits)
    editing = data.plate_entry(ledger, edit, kind) if edit else None
    tz = local_zone(ledger)

    def through(expires_at: datetime | None) -> str:  # the last day it applies: the day typed, not the day after
        return "" if expires_at is None else str(last_day(expires_at, tz))

    return _render(request, "lists.html", who, rows=rows, total=total, filter=digits, editing=editing, now=now_utc(),
                   through=through)


@router.post("/lists/save")
def list_save(
    request: Request,
    who: Operator_,
    ledger: Ledger_,
    plate: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "allow",
    holder: Annotated[str, Form(max_length=100)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    expires: Annotated[str, Form()] = "",
) -> Response:
    try:
        expires_at = _day("expires", expires)
        save_entry(ledger, plate, ListKind(kind) if kind in ListKind.__members__.values() else kind,
                   holder, note, expires_at, local_zone(ledger), actor=who.user.username)
    except (GateError, PlateFormatError) as exc:
        return _error(request, who, 422, exc)
    log.info("plate list %s %s saved by %s", kind, plate, who.user.username)
    return _back("/lists", done=f"saved {plate}")


@router.post("/lists/remove")
def list_remove(
    request: Request,
    who: Operator_,
    ledger: Ledger_,
    plate: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
) -> Response:
    try:
        removed = remove_entry(ledger, plate, kind, actor=who.user.username)  # the kind is checked there
    except (GateError, PlateFormatError, ValueError) as exc:
        return _error(request, who, 422, exc)
    log.info("plate list %s %s removed by %s", kind, plate, who.user.username)
    return _back("/lists", done=f"removed {plate}" if removed else f"{plate} was not listed")


@router.post("/lists/import")
async def list_import(request: Request, who: Operator_) -> Response:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return _error(request, who, 422, "choose a CSV file to import")
    content = await upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return _error(request, who, 413, f"the file is over {MAX_UPLOAD // 1024} KB")
    # in a worker thread as the API's import: a ledger busy for seconds must not stall every lane and pay station
    return await run_in_threadpool(_import, request, who, content)


def _import(request: Request, who: WebSession, content: bytes) -> Response:
    ledger = _ledger(request)
    try:
        count = import_csv(ledger, content.decode("utf-8-sig"), local_zone(ledger), actor=who.user.username)
    except UnicodeDecodeError:
        return _error(request, who, 422, "the file is not UTF-8 text")
    except (GateError, PlateFormatError) as exc:
        return _error(request, who, 422, exc)
    log.info("plate list import of %d rows by %s", count, who.user.username)
    return _back("/lists", done=f"imported {count} rows")


# ---------------------------------------------------------------------- settings


@router.get("/settings")
def settings(request: Request, who: User_, ledger: Ledger_) -> HTMLResponse:
    return _settings(request, who, ledger, None)


def _settings(request: Request, who: WebSession, ledger: Ledger, new_token: NewToken | None) -> HTMLResponse:
    """Tariff and policy for all; tokens and web users for operators (a new token's secret only in this answer)."""
    operator = who.user.role is Role.OPERATOR
    response = _render(
        request, "settings.html", who, tariff=ledger.tariff.describe(), policy=ledger.policy.describe(),
        tokens=Tokens(ledger).list() if operator else [], users=session.users_of(request).list() if operator else [],
        new_token=new_token, roles=[r.value for r in Role],
    )
    if new_token is not None:  # a secret in the page: no browser or proxy cache may keep a copy (back button, disk)
        response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/settings/tokens")
def token_create(
    request: Request,
    who: Operator_,
    ledger: Ledger_,
    name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form()] = "",
    gate: Annotated[str, Form(max_length=32)] = "",
    lane: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    try:
        created = Tokens(ledger).create(name, role, gate.strip() or None, lane or None)
    except GateError as exc:
        return _error(request, who, 422, exc)
    log.info("api token %r created by %s on the web page", name, who.user.username)
    return _settings(request, who, ledger, created)  # the secret in this answer only: never in a URL, never stored


@router.post("/settings/tokens/revoke")
def token_revoke(
    request: Request, who: Operator_, ledger: Ledger_, name: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    try:
        Tokens(ledger).revoke(name)
    except GateError as exc:
        return _error(request, who, 409, exc)
    log.info("api token %r revoked by %s on the web page", name, who.user.username)
    return _back("/settings", done=f"revoked {name}")

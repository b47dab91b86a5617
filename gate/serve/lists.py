"""The allow and deny lists over HTTP: read them (viewer), edit one entry or import a CSV (operator).

An entry is (plate, kind) with holder, note and expiry; ``PUT`` creates or
edits it (201 or 200), ``DELETE`` takes it off (404 when it is not there).
The CSV is the one format of gate.store.plate_lists_csv, the CLI's and the
web page's too: ``GET /api/lists/export`` writes what ``POST
/api/lists/import`` reads. An import is all or nothing: a bad row is a 422
naming its line, column and value, with nothing written; a body over
MAX_BODY is a 413 (gate.serve.limits). Every change is an overrides row
(``list-add``/``list-remove``) under the caller's name.
"""
from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gate.rules.codes import ListKind
from gate.rules.errors import InvalidInput
from gate.serve import auth
from gate.serve.auth import Actor
from gate.serve.params import OutputFormat
from gate.serve.schemas import TimeIn, UtcTime, _In, error_body
from gate.store import plate_lists_csv
from gate.store.ledger import Ledger
from gate.store.plate_lists import ListEntry, PlateLists, list_entry
from gate.store.plate_lists_csv import CsvRowError, read_csv, write_csv
from lpr.plate_format import PlateFormatError, normalize_plate

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]
Operator = Annotated[Actor, Depends(auth.require_actor(*auth.OPERATE))]
Viewer = Annotated[Actor, Depends(auth.require_actor(*auth.VIEW))]
KindPath = Annotated[ListKind, Path(description="allow (subscribers) or deny")]
PlatePath = Annotated[str, Path(description="7 or 8 digits, with or without dashes", examples=["12-345-67"])]
MAX_BODY = plate_lists_csv.MAX_BYTES
_CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/octet-stream")


class ListEntryIn(_In):
    holder: str | None = Field(default=None, max_length=100, description="whose plate (a subscriber, a banned driver)")
    note: str | None = Field(default=None, max_length=500)
    expires_at: TimeIn | None = Field(default=None, description="no longer applies from then on; null: never")


class ListEntryOut(BaseModel):
    plate: str
    kind: ListKind
    holder: str | None
    note: str | None
    expires_at: UtcTime | None
    added_at: UtcTime | None
    active: bool = Field(description="false once expired (the entry stays until removed)")

    @classmethod
    def of(cls, entry: ListEntry) -> "ListEntryOut":
        return cls(plate=entry.plate, kind=entry.kind, holder=entry.holder, note=entry.note,
                   expires_at=entry.expires_at, added_at=entry.added_at, active=entry.applies())


class ImportOut(BaseModel):
    imported: int = Field(description="entries added or edited")


def _plate(text: str) -> str:
    try:
        return normalize_plate(text)
    except PlateFormatError as exc:
        raise InvalidInput(f"plate: {exc}") from None


def _csv(ledger: Ledger, kind: ListKind | None, filename: str) -> Response:
    body = write_csv(PlateLists(ledger).entries(kind), ledger.timezone)
    return Response(body, media_type=plate_lists_csv.MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/lists", summary="The allow and deny lists (holder, note, expiry); format=csv as the export",
            response_model=list[ListEntryOut])
def lists(
    ledger: LedgerDep,
    _viewer: Viewer,
    kind: Annotated[ListKind | None, Query(description="one list only")] = None,
    format: OutputFormat = OutputFormat.JSON,
) -> list[ListEntryOut] | Response:
    if format is OutputFormat.CSV:
        return _csv(ledger, kind, f"plate-lists{'-' + kind.value if kind else ''}.csv")
    return [ListEntryOut.of(e) for e in PlateLists(ledger).entries(kind)]


@router.get("/lists/export", summary="Both lists as CSV: plate,kind,holder,note,expires_at (what import reads)",
            response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export(ledger: LedgerDep, _viewer: Viewer) -> Response:
    return _csv(ledger, None, "plate-lists.csv")


@router.put("/lists/{kind}/{plate}", summary="Put a plate on a list or edit its entry (201 created, 200 edited)",
            responses={201: {"model": ListEntryOut}})
def put_entry(kind: KindPath, plate: PlatePath, body: ListEntryIn, ledger: LedgerDep, actor: Operator) -> JSONResponse:
    entry = list_entry(_plate(plate), kind, holder=body.holder, note=body.note, expires_at=body.expires_at)
    stored, created = PlateLists(ledger).put(entry, actor.name)
    return JSONResponse(ListEntryOut.of(stored).model_dump(mode="json"), status_code=201 if created else 200)


@router.delete("/lists/{kind}/{plate}", summary="Take a plate off a list (404 when it is not on it)")
def delete_entry(kind: KindPath, plate: PlatePath, ledger: LedgerDep, actor: Operator) -> ListEntryOut:
    removed = PlateLists(ledger).remove(_plate(plate), kind, actor.name)
    if removed is None:
        raise HTTPException(404, f"plate {_plate(plate)} is not on the {kind} list")
    return ListEntryOut.of(removed)


@router.post(
    "/lists/import",
    response_model=ImportOut,
    summary="Add or edit entries from a CSV (plate,kind,holder,note,expires_at): all or nothing",
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
    responses={413: {"description": f"the body is over {MAX_BODY} bytes"},
               415: {"description": "not text/csv"},
               422: {"description": "a bad row: its line, column and value; nothing was written"}},
)
async def import_lists(request: Request, ledger: LedgerDep, actor: Operator) -> ImportOut | JSONResponse:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _CSV_TYPES:
        raise HTTPException(415, f"content-type {media or 'none'}: send the CSV as text/csv")
    raw = await request.body()  # gate.serve.limits has cut it off at MAX_BODY
    if len(raw) > MAX_BODY:
        raise HTTPException(413, f"request body is {len(raw)} bytes: at most {MAX_BODY} bytes here")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"body: not UTF-8 text (byte {exc.start})") from None
    try:
        entries = await run_in_threadpool(read_csv, text, ledger.timezone)
    except CsvRowError as exc:
        return JSONResponse(error_body(str(exc), errors=[exc.to_dict()]), status_code=422)
    count = await run_in_threadpool(PlateLists(ledger).import_entries, entries, actor.name)
    return ImportOut(imported=count)

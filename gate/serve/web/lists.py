"""Plate list edits of the web page: one entry with holder, note and expiry, or a whole CSV at once.

An entry is keyed by (plate, list): saving it again edits it. A CSV import is
all or nothing (one transaction), so a bad line 40 leaves the lists as they
were and the error names the line; its format is the API's and the CLI's
(gate.store.plate_lists_csv).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, delete, insert

from gate.rules.clock import day_start, now_utc
from gate.rules.codes import ListKind
from gate.rules.errors import InvalidInput
from gate.store import models
from gate.store.ledger import Ledger, _text
from gate.store.plate_lists import PlateLists
from gate.store.plate_lists_csv import read_csv
from lpr.plate_format import normalize_plate


def save_entry(
    ledger: Ledger, plate: str, kind: ListKind | str, holder: str, note: str, expires: date | None, tz: tzinfo
) -> None:
    """Add or edit one list entry."""
    row = _row(plate, kind, holder, note, expires, tz)
    ledger._transaction(lambda conn: _upsert(conn, [row]))


def import_csv(ledger: Ledger, content: str, tz: tzinfo, *, actor: str | None = None) -> int:
    """The lists' one CSV format (gate.store.plate_lists_csv: ``plate,kind,holder,note,expires_at``, or this
    page's first ``plate,list,...,expires``); adds or edits each row, all or nothing; returns the count.
    ``actor``: the user whose import the audit log shows."""
    return PlateLists(ledger).import_entries(read_csv(content, tz), actor)


def _row(plate: str, kind: ListKind | str, holder: str, note: str, expires: date | None, tz: tzinfo) -> dict[str, Any]:
    try:
        kind = ListKind(kind)
    except ValueError:
        raise InvalidInput(f"invalid list {kind!r}: expected allow or deny") from None
    lists = models.plate_lists
    expires_at = None
    if expires is not None:  # the entry applies through the whole local day it expires on: ends as the next begins
        expires_at = day_start(expires + timedelta(days=1), tz)
    return {
        "plate": normalize_plate(plate),
        "kind": kind.value,
        "holder": _text(lists.c.holder, holder.strip()) or None,
        "note": _text(lists.c.note, note.strip()) or None,
        "expires_at": expires_at,
        "added_at": now_utc(),
    }


def last_day(expires_at: datetime | None, tz: tzinfo) -> date | None:
    """The last local day an entry applies on (what was typed as its expiry): the day before its end."""
    return None if expires_at is None else (expires_at - timedelta(microseconds=1)).astimezone(tz).date()


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    lists = models.plate_lists
    for row in rows:
        conn.execute(delete(lists).where(lists.c.plate == row["plate"], lists.c.kind == row["kind"]))
        conn.execute(insert(lists).values(row))

"""Plate list edits of the web page: one entry with holder, note and expiry, or a whole CSV at once.

An entry is keyed by (plate, list): saving it again edits it. A CSV import is
all or nothing (one transaction), so a bad line 40 leaves the lists as they
were and the error names the line; its format is the API's and the CLI's
(gate.store.plate_lists_csv).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from gate.rules.clock import day_end
from gate.rules.codes import ListKind
from gate.store.ledger import Ledger
from gate.store.plate_lists import PlateLists, list_entry
from gate.store.plate_lists_csv import read_csv


def save_entry(
    ledger: Ledger,
    plate: str,
    kind: ListKind | str,
    holder: str,
    note: str,
    expires: date | None,
    tz: tzinfo,
    *,
    actor: str | None = None,
) -> None:
    """Add or edit one list entry; ``expires`` is the last local day it applies on. ``actor``: who, for the
    audit log (the API's PUT writes the same row)."""
    expires_at = None if expires is None else day_end(expires, tz)  # through the last day typed
    PlateLists(ledger).put(list_entry(plate, kind, holder=holder, note=note, expires_at=expires_at), actor)


def remove_entry(ledger: Ledger, plate: str, kind: ListKind | str, *, actor: str) -> bool:
    """Take a plate off a list, audited under ``actor``; False when it was not on it."""
    return PlateLists(ledger).remove(plate, kind, actor) is not None


def import_csv(ledger: Ledger, content: str, tz: tzinfo, *, actor: str | None = None) -> int:
    """The lists' one CSV format (gate.store.plate_lists_csv: ``plate,kind,holder,note,expires_at``, or this
    page's first ``plate,list,...,expires``); adds or edits each row, all or nothing; returns the count.
    ``actor``: the user whose import the audit log shows."""
    return PlateLists(ledger).import_entries(read_csv(content, tz), actor)


def last_day(expires_at: datetime | None, tz: tzinfo) -> date | None:
    """The last local day an entry applies on (what was typed as its expiry): the day before its end."""
    if expires_at is None:
        return None
    try:
        return (expires_at - timedelta(microseconds=1)).astimezone(tz).date()
    except OverflowError:  # stored before such expiries were refused (gate.store.ledger.EXPIRY_RANGE)
        return expires_at.date()

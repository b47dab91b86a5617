"""The plate lists' one CSV format, read and written for the API, the CLI and the web page.

Header ``plate,kind,holder,note,expires_at``; ``plate`` and ``kind`` are
required, the others may be left out (an entry already stored keeps its own
there) or blank (cleared). The web page's first header
(``list`` for kind, ``expires`` for expires_at) is still read. ``expires_at``
is ISO 8601: with an offset it is that instant; without one, the lot's local
time; a bare day (``2026-11-27`` or ``20261127``) applies through that whole local day (it
ends as the next begins), as the web page's form reads it. An export writes
the plate's digits and the expiry in local time with its offset, so it reads
back as the same entries.

Reading is all or nothing: the first bad row raises CsvRowError naming its
line (the header is line 1), the column and the value, before anything is
written. A plate listed twice in the same list is an error too.
"""
from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime, tzinfo
from typing import Iterable

from gate.report import from_spreadsheet, spreadsheet_safe
from gate.rules.clock import day_end, local_text, parse_iso, to_utc
from gate.rules.codes import ListKind
from gate.rules.errors import InvalidInput
from gate.store.ledger import _expiry
from gate.store.plate_lists import MAX_ENTRIES, ListEntry, list_entry
from lpr.plate_format import PlateFormatError

HEADER = ("plate", "kind", "holder", "note", "expires_at")
REQUIRED = ("plate", "kind")
ALIASES = {"list": "kind", "expires": "expires_at"}  # the web page's first import format
MAX_BYTES = 1024 * 1024  # 10,000 entries of about 100 bytes
MEDIA_TYPE = "text/csv; charset=utf-8"


class CsvRowError(InvalidInput):
    """A bad row (or header: line 1) of an import: where, which column, what value."""

    def __init__(self, line: int, column: str, value: str, why: str) -> None:
        shown = f" {value[:60]!r}" if value else ""
        super().__init__(f"line {line}: {column}{shown}: {why}")
        self.line, self.column, self.value, self.why = line, column, value, why

    def to_dict(self) -> dict[str, object]:
        return {"field": "body", "line": self.line, "column": self.column, "value": self.value, "message": str(self)}


def read_csv(text: str, tz: tzinfo) -> list[ListEntry]:
    """The entries of a CSV export (or a spreadsheet's); times without an offset are local in ``tz``."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CsvRowError(1, "header", "", f"not readable as CSV ({exc})") from None
    if header is None:
        raise CsvRowError(1, "header", "", f"the file is empty: expected the header {','.join(HEADER)}")
    columns = _columns(header)
    absent = frozenset(c for c in HEADER if c not in columns)  # kept as stored for entries already there
    names = {ALIASES.get(h.strip().lower(), h.strip().lower()): h.strip() for h in header}  # as the file names them
    entries: list[ListEntry] = []
    seen: dict[tuple[str, ListKind], int] = {}
    rows: list[tuple[int, list[str]]] = []  # (the line it starts on, its cells): a quoted note may span lines
    start = reader.line_num + 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:  # a field over csv's 128 KiB limit, a NUL: the file, not the server, is at fault
        raise CsvRowError(start, "row", "", f"not readable as CSV ({exc})") from None
    for index, (number, cells) in enumerate(rows):  # blank lines (a spreadsheet's last one) left out
        if index == MAX_ENTRIES:  # checked in order: a bad line 2 is named first, however long the file
            raise CsvRowError(number, "file", "", f"at most {MAX_ENTRIES} rows per import, the file has {len(rows)}")
        if len(cells) > len(columns):
            raise CsvRowError(number, "row", ",".join(cells[len(columns):]),
                              f"{len(cells)} fields, the header has {len(columns)}")
        row = dict(zip(columns, cells))
        try:
            entry = replace(_entry(number, row, tz), keep=absent)
        except CsvRowError as exc:  # the column as the file's header names it ('list' in an old file)
            raise CsvRowError(exc.line, names.get(exc.column, exc.column), exc.value, exc.why) from None
        key = (entry.plate, entry.kind)
        if key in seen:
            raise CsvRowError(number, "plate", row.get("plate", ""),
                              f"already on line {seen[key]} for the {entry.kind} list")
        seen[key] = number
        entries.append(entry)
    return entries


def write_csv(entries: Iterable[ListEntry], tz: tzinfo) -> str:
    """The entries under HEADER: plate digits, expiry in local time with its offset (read_csv reads it back)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for e in entries:
        writer.writerow([e.plate, e.kind.value, spreadsheet_safe(e.holder or ""), spreadsheet_safe(e.note or ""),
                         local_text(e.expires_at, tz) or ""])
    return out.getvalue()


def parse_expiry(text: str, tz: tzinfo) -> datetime | None:
    """An expiry as typed: blank none, a day through its end, a time without offset local in ``tz``."""
    raw = text.strip()
    if not raw:
        return None
    try:  # a day alone (2026-11-27, or 20261127 compact): through that local day
        return day_end(date.fromisoformat(raw), tz)
    except ValueError:  # a time: 20261127 read as one was midnight UTC, a day early in Israel
        pass
    return to_utc(parse_iso(raw), tz)


def _columns(header: list[str]) -> list[str]:
    columns: list[str] = []
    for raw in header:
        name = raw.strip().lower()
        name = ALIASES.get(name, name)
        if name not in HEADER:
            raise CsvRowError(1, "header", raw, f"unknown column: expected {', '.join(HEADER)}")
        if name in columns:
            raise CsvRowError(1, "header", raw, "the column is named twice")
        columns.append(name)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise CsvRowError(1, "header", ",".join(header), f"missing column {', '.join(missing)}: expected "
                          f"{', '.join(HEADER)}")
    return columns


def _entry(number: int, row: dict[str, str], tz: tzinfo) -> ListEntry:
    """One row checked column by column, so the error names the column that is wrong."""
    kind_text = row.get("kind", "").strip()
    try:
        kind = ListKind(kind_text)
    except ValueError:
        raise CsvRowError(number, "kind", kind_text, "expected allow or deny") from None
    try:
        expires_at = _expiry(parse_expiry(row.get("expires_at", ""), tz))  # its range too: named here
    except InvalidInput as exc:
        raise CsvRowError(number, "expires_at", row.get("expires_at", ""), str(exc)) from None
    fields: dict[str, str | None] = {"holder": None, "note": None}
    plate = row.get("plate", "")
    for column in ("plate", "holder", "note"):  # one at a time: the error names the column
        try:
            if column != "plate":
                value = row.get(column)
                fields[column] = None if value is None else from_spreadsheet(value)
            entry = list_entry(plate, kind, holder=fields["holder"], note=fields["note"], expires_at=expires_at)
        except (InvalidInput, PlateFormatError) as exc:
            raise CsvRowError(number, column, row.get(column, ""), str(exc)) from None
    return entry

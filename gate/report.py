"""Listings for people: CSV and text tables in the lot's local time, shekels with 2 decimals.

One place for every human-facing listing (``gate visits|payments|report``,
the API's ``format=csv``), so a spreadsheet and a terminal show the same
cells; JSON keeps UTC. Rows are the records' ``to_dict`` (times as ISO
8601 UTC text or datetimes).
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, tzinfo
from typing import Any, Mapping, Sequence

from gate.rules.clock import local_text
from gate.text_table import format_table

MONEY = frozenset({"fee", "paid", "amount", "amount_due", "total_amount"})
# A cell starting with one of these is a formula to a spreadsheet: a pay station's payment id
# '=HYPERLINK("http://…"&D2,"Receipt")' came out of the payments export as a live link.
FORMULA_START = frozenset("=+-@\t\r")
PLATES = frozenset({"plate", "typed_plate", "matched_plate"})


def _is_time(column: str) -> bool:
    return column.endswith("_at") or column in ("leave_by", "paid_until")


def cell(column: str, value: Any, tz: tzinfo, *, table: bool = False) -> str:
    """One value as people read it: local time with its offset, 12.00, and (in tables) 12-345-67."""
    if value is None:
        return "-" if table else ""
    if _is_time(column) and isinstance(value, (str, datetime)):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
        return local_text(moment, tz) or ""
    if column in MONEY and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2f}"
    if table and column in PLATES and isinstance(value, str):
        from lpr.plate_format import PlateFormatError, format_plate

        try:
            return format_plate(value)
        except PlateFormatError:
            return value
    return str(value) if table or not isinstance(value, str) else spreadsheet_safe(value)


def spreadsheet_safe(text: str) -> str:
    """A text cell a spreadsheet shows rather than runs: a leading ' before a formula's first character (and before
    a ' that precedes one, so `from_spreadsheet` gives back exactly what was written)."""
    if text[:1] in FORMULA_START or (text[:1] == "'" and text[1:2] in FORMULA_START | {"'"}):
        return "'" + text
    return text


def from_spreadsheet(text: str) -> str:
    """A cell as `spreadsheet_safe` wrote it, back as it was (an import of an export changes nothing)."""
    if text[:1] == "'" and text[1:2] in FORMULA_START | {"'"}:
        return text[1:]
    return text


def csv_text(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], tz: tzinfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(c, row.get(c), tz) for c in columns])
    return out.getvalue()


def text_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]], tz: tzinfo) -> str:
    return format_table(columns, [[cell(c, row.get(c), tz, table=True) for c in columns] for row in rows])

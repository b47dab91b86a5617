"""Query parameters of the listings and reports: times and days checked in one place, 422 naming the field.

A time in a query string may come without an offset: it is the lot's local
time (the configured ``timezone``), as an operator types it into a URL; a
day (``from``/``to`` of a report) is a local calendar day. Out of the
policy's window or not ISO 8601: a 422 that starts with the field's name.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Query

from gate.rules.clock import check_window, now_utc, parse_day, parse_iso, to_utc
from gate.rules.errors import InvalidInput
from gate.store.ledger import Ledger

LOCAL_TIME = "ISO 8601; without an offset it is the lot's local time (the configured timezone)"
TimeQuery = Annotated[str | None, Query(description=LOCAL_TIME, examples=["2025-03-02T08:00:00Z"])]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]


class OutputFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def time_param(ledger: Ledger, field: str, text: str | None) -> datetime | None:
    """``text`` as aware UTC inside the policy's window, or InvalidInput that names ``field``."""
    if text is None:
        return None
    try:
        moment = to_utc(parse_iso(text), ledger.timezone)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None
    return in_window(ledger, field, moment)


def in_window(ledger: Ledger, field: str, moment: datetime | None) -> datetime | None:
    """An aware time inside the policy's window (None passes), or InvalidInput that names ``field``."""
    if moment is None:
        return None
    earliest, latest = ledger.policy.time_window(now_utc())
    try:
        return check_window(moment, earliest, latest)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None


def day_param(field: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return parse_day(text)
    except InvalidInput as exc:
        raise InvalidInput(f"{field}: {exc}") from None

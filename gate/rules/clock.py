"""Times: the ledger stores timezone-aware UTC.

A naive time (``--at 2025-01-01T08:00``) is read as the gate machine's local
time, because that is what an attendant types; aware times keep their offset.
"""
from __future__ import annotations

from datetime import datetime, timezone

from gate.rules.errors import InvalidInput


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def to_utc(value: datetime | None) -> datetime:
    """None -> now; naive -> local time; aware -> converted to UTC."""
    if value is None:
        return now_utc()
    try:
        if value.tzinfo is None:
            value = value.astimezone()  # interpret as local wall-clock time
        return value.astimezone(timezone.utc)
    except (OverflowError, OSError, ValueError):  # year 1 at +05:00 is before year 1 in UTC
        raise InvalidInput(f"time {value.isoformat()} is out of range") from None


def check_window(value: datetime, earliest: datetime, latest: datetime) -> datetime:
    """``value`` (aware) if earliest <= value <= latest, else InvalidInput naming all three."""
    if not earliest <= value <= latest:
        raise InvalidInput(
            f"time {value.isoformat()} is outside the accepted window"
            f" {earliest.isoformat(timespec='seconds')} .. {latest.isoformat(timespec='seconds')}"
        )
    return value


def parse_time(text: str) -> datetime:
    """ISO 8601 ('2025-01-01T08:00:00+02:00', '...Z', or naive local) -> UTC."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"invalid time {text!r}: expected ISO 8601, e.g. 2025-01-31T08:15:00+02:00") from None
    return to_utc(parsed)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()

"""Times: the ledger stores timezone-aware UTC; people read and type the lot's local time.

A naive time (``--at 2025-01-01T08:00``) is read in the lot's configured time
zone (``timezone``, default Asia/Jerusalem), because that is what an attendant
types, whatever the server's own clock zone; aware times keep their offset.
Every human-facing output (CLI tables, CSV, reports) shows local time;
JSON keeps UTC.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gate.rules.errors import ConfigError, InvalidInput

DEFAULT_TIMEZONE = "Asia/Jerusalem"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def zone(name: object) -> ZoneInfo:
    """The lot's time zone by its IANA name; a wrong one fails when the config loads, naming it."""
    try:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(name)
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # "Asia" is a folder of zones: IsADirectoryError
        raise ConfigError(f"timezone = {name!r}: expected an IANA time zone such as {DEFAULT_TIMEZONE}") from None


def to_utc(value: datetime | None, tz: tzinfo | None = None) -> datetime:
    """None -> now; naive -> wall-clock time in ``tz`` (the machine's zone if None); aware -> UTC."""
    if value is None:
        return now_utc()
    naive = value.tzinfo is None
    try:
        if naive:
            value = value.replace(tzinfo=tz) if tz is not None else value.astimezone()
        utc = value.astimezone(timezone.utc)
    except (OverflowError, OSError, ValueError):  # year 1 at +05:00 is before year 1 in UTC
        raise InvalidInput(f"time {value.isoformat()} is out of range") from None
    if naive and tz is not None and utc.astimezone(tz).replace(tzinfo=None) != value.replace(tzinfo=None):
        # Python would move it by the jump, silently
        raise InvalidInput(f"time {value.replace(tzinfo=None).isoformat()} does not exist in {tz}: the clocks "
                           "jump forward over it (give an offset, or a time outside the jump)")
    return utc


def check_window(value: datetime, earliest: datetime, latest: datetime) -> datetime:
    """``value`` (aware) if earliest <= value <= latest, else InvalidInput naming all three."""
    if not earliest <= value <= latest:
        raise InvalidInput(
            f"time {value.isoformat()} is outside the accepted window"
            f" {earliest.isoformat(timespec='seconds')} .. {latest.isoformat(timespec='seconds')}"
        )
    return value


def parse_iso(text: str) -> datetime:
    """ISO 8601 as typed: aware with an offset or 'Z', naive without (the ledger reads it as local time)."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"invalid time {text!r}: expected ISO 8601, e.g. 2025-01-31T08:15:00+02:00") from None


def parse_time(text: str, tz: tzinfo | None = None) -> datetime:
    """ISO 8601 ('2025-01-01T08:00:00+02:00', '...Z', or naive: local in ``tz``) -> UTC."""
    return to_utc(parse_iso(text), tz)


def parse_day(text: str) -> date:
    """A local calendar day, '2025-03-02' (reports count by the lot's days)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"invalid day {text!r}: expected YYYY-MM-DD, e.g. 2025-03-02") from None


def day_start(day: date, tz: tzinfo) -> datetime:
    """The UTC instant a local day begins (23 or 25 hours long on a DST change)."""
    try:
        return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01 or 9999-12-31 east/west of UTC: no such instant
        raise InvalidInput(f"day {day.isoformat()}: outside the calendar the lot can count") from None


def day_end(day: date, tz: tzinfo) -> datetime:
    """The UTC instant a local day ends, as the next begins: "until 2025-03-02" includes all of that day."""
    if day == date.max:
        raise InvalidInput(f"day {day.isoformat()}: expected a day before {date.max.isoformat()}")
    return day_start(day + timedelta(days=1), tz)


def local_day(value: datetime, tz: tzinfo) -> date:
    return value.astimezone(tz).date()


def local_text(value: datetime | None, tz: tzinfo) -> str | None:
    """A time for people: '2025-03-02 10:00:00+02:00', local, with its offset (unambiguous across DST); in UTC
    where local time is past the calendar's end (an expiry of 9999-12-31T23:59Z stored before it was refused)."""
    if value is None:
        return None
    try:
        return value.astimezone(tz).isoformat(sep=" ", timespec="seconds")
    except OverflowError:
        return value.astimezone(timezone.utc).isoformat(sep=" ", timespec="seconds")



def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()

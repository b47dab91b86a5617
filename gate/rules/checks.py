"""Setting checks: a config value of the wrong type or size fails when it is loaded, not at a decision.

``min_confidence = "high"`` used to load and then raise TypeError at every
camera decision; ``hourly_rate = inf`` or ``1e30`` later overflowed. Each
check returns the value in its Python type or raises ConfigError naming the
key, the value and what is allowed, on one line.
"""
from __future__ import annotations

import math
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any

from gate.rules.errors import ConfigError


def _bad(key: str, value: Any, expected: str) -> ConfigError:
    return ConfigError(f"{key} = {value!r}: expected {expected}")


def number(key: str, value: Any, low: float, high: float, *, above_low: bool = False) -> float:
    """A finite real number in [low, high] (or (low, high]); bools and strings are refused."""
    expected = f"a number above {low:g} and at most {high:g}" if above_low else f"a number from {low:g} to {high:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(key, value, expected)
    if not math.isfinite(value) or not (low < value if above_low else low <= value) or value > high:
        raise _bad(key, value, expected)
    return float(value)


def shekels(key: str, value: Any, high: float) -> float:
    """An amount of money from 0 to ``high`` in whole agorot: 0.004 was rounded to a daily maximum of 0 (free)."""
    amount = number(key, value, 0, high)
    if (Decimal(str(amount)) * 100) % 1:
        raise _bad(key, value, f"an amount in whole agorot (at most 2 decimals) from 0 to {high:g}")
    return amount


def integer(key: str, value: Any, low: int, high: int) -> int:
    """A whole number in [low, high]; 15.0 is 15, 15.5 and "15" are refused."""
    expected = f"a whole number from {low} to {high}"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _bad(key, value, expected)
    return value


def moment(key: str, value: Any) -> datetime:
    """A date or time (TOML date/datetime or ISO 8601 text) as aware UTC; a naive value is UTC."""
    parsed: Any = value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _bad(key, value, "an ISO 8601 date or time, e.g. 2000-01-01") from None
    if isinstance(parsed, date) and not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time(0))
    if not isinstance(parsed, datetime) or parsed.year < 1900:
        raise _bad(key, value, "an ISO 8601 date or time from 1900 on, e.g. 2000-01-01")
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)

"""Tariff: what a stay costs. Pure: no database, no clock.

Defaults (why):
- first 15 minutes free: drop-offs and wrong turns leave without paying;
  a longer stay is charged from the entry, not from minute 16.
- 12.00 ILS per started hour (``unit_minutes=60``): the usual city-lot
  rounding; a shorter unit (e.g. 15) charges ``hourly_rate * unit/60`` per
  started unit.
- 96.00 ILS daily maximum per 24 hours since entry (8 hours' worth):
  long stays are capped, multi-day stays pay the cap per full day.
- 15 minutes grace after paying to reach the exit; staying longer owes the
  difference to the fee at the exit time.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from gate.rules import checks
from gate.rules.errors import ClockError, ConfigError
from gate.rules.money import json_amount, to_agorot

_DAY = timedelta(days=1)
WEEK_MINUTES = 7 * 24 * 60
MAX_HOURLY_RATE = 10_000  # shekels: far above any lot, far below an overflow
MAX_DAILY_MAX = 100_000


@dataclass(frozen=True)
class Tariff:
    """Money in agorot; durations in minutes."""

    free_minutes: int = 15
    hourly_rate_agorot: int = 1200
    unit_minutes: int = 60
    daily_max_agorot: int | None = 9600
    grace_minutes: int = 15
    currency: str = "ILS"

    def __post_init__(self) -> None:
        checks.integer("tariff.free_minutes", self.free_minutes, 0, WEEK_MINUTES)
        checks.integer("tariff.grace_minutes", self.grace_minutes, 0, WEEK_MINUTES)
        checks.integer("tariff.unit_minutes", self.unit_minutes, 1, 24 * 60)
        checks.integer("tariff.hourly_rate_agorot", self.hourly_rate_agorot, 0, MAX_HOURLY_RATE * 100)
        if self.daily_max_agorot is not None:
            checks.integer("tariff.daily_max_agorot", self.daily_max_agorot, 0, MAX_DAILY_MAX * 100)
        # units must tile a day too: with 5 h units a 24 h stay (4 units) cost less than a 23 h one (5 units)
        if (60 % self.unit_minutes and self.unit_minutes % 60) or (24 * 60) % self.unit_minutes:
            raise ConfigError(f"tariff.unit_minutes = {self.unit_minutes!r}: expected a divisor of 60 or whole hours "
                              "that divide 24 h")
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isascii()
                and self.currency.isalpha() and self.currency.isupper()):
            raise ConfigError(f"tariff.currency = {self.currency!r}: expected a 3-letter code such as ILS")

    @property
    def unit_rate_agorot(self) -> int:
        """Price of one started billing unit, half an agora rounded up as `money.to_agorot` rounds (round() went to
        the even agora: 12.10/h in 15 min units charged 3.02, not 3.03)."""
        return (self.hourly_rate_agorot * self.unit_minutes * 2 + 60) // 120

    @property
    def grace(self) -> timedelta:
        return timedelta(minutes=self.grace_minutes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Tariff":
        """Read a config section; money is given in shekels (``hourly_rate = 12.0``)."""
        known = {"free_minutes", "hourly_rate", "unit_minutes", "daily_max", "grace_minutes", "currency"}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"tariff: unknown setting(s) {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for key in ("free_minutes", "unit_minutes", "grace_minutes", "currency"):
            if key in data:
                kwargs[key] = data[key]
        if "hourly_rate" in data:
            kwargs["hourly_rate_agorot"] = to_agorot(checks.shekels("tariff.hourly_rate", data["hourly_rate"],
                                                                    MAX_HOURLY_RATE))
        if "daily_max" in data:
            daily = data["daily_max"]  # 0 or null (JSON): no daily maximum
            if daily is not None:
                daily = checks.shekels("tariff.daily_max", daily, MAX_DAILY_MAX)
            kwargs["daily_max_agorot"] = None if not daily else to_agorot(daily)
        return cls(**kwargs)

    def describe(self) -> dict[str, Any]:
        """The tariff as shown by ``gate tariff`` (shekels)."""
        out = asdict(self)
        out["hourly_rate"] = json_amount(out.pop("hourly_rate_agorot"))
        out["daily_max"] = json_amount(out.pop("daily_max_agorot"))
        out["rules"] = (
            f"stays up to {self.free_minutes} min are free; longer stays pay "
            f"{json_amount(self.unit_rate_agorot):.2f} {self.currency} per started {self.unit_minutes} min from entry, "
            + (
                f"at most {json_amount(self.daily_max_agorot):.2f} {self.currency} per 24 h; "
                if self.daily_max_agorot is not None
                else "no daily maximum; "
            )
            + f"after paying, {self.grace_minutes} min to leave, later exits owe the difference"
        )
        return out


def fee_agorot(tariff: Tariff, entry_at: datetime, until: datetime) -> int:
    """Fee for a stay from entry_at to until. Raises ClockError if until < entry_at."""
    stay = until - entry_at
    if stay < timedelta(0):
        raise ClockError(f"time {until.isoformat()} is before the entry at {entry_at.isoformat()}")
    if stay <= timedelta(minutes=tariff.free_minutes):
        return 0
    unit = timedelta(minutes=tariff.unit_minutes)
    full_days, rest = divmod(stay, _DAY)
    units = -(-rest // unit)  # every started unit is charged
    part = units * tariff.unit_rate_agorot
    if tariff.daily_max_agorot is None:
        return full_days * (_DAY // unit) * tariff.unit_rate_agorot + part
    # a full day costs its units up to the cap: a cap above a day's units (2.00/h, 96.00 max) is never reached
    per_day = min(tariff.daily_max_agorot, (_DAY // unit) * tariff.unit_rate_agorot)
    return full_days * per_day + min(part, tariff.daily_max_agorot)


def covered_until(tariff: Tariff, entry_at: datetime, paid_agorot: int, at: datetime) -> datetime:
    """The end of the stay ``paid_agorot`` pays for, from ``at`` on (at most a day ahead); ``at`` when it pays for
    no more. The fee only grows with the stay and steps on whole minutes of it, so a search over whole seconds of
    the stay finds the step exactly."""
    if fee_agorot(tariff, entry_at, at) > paid_agorot:
        return at
    lo = int((at - entry_at).total_seconds())  # a stay no longer than at's: covered too
    hi = lo + int(_DAY.total_seconds())
    if fee_agorot(tariff, entry_at, entry_at + timedelta(seconds=hi)) <= paid_agorot:
        return entry_at + timedelta(seconds=hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fee_agorot(tariff, entry_at, entry_at + timedelta(seconds=mid)) <= paid_agorot:
            lo = mid
        else:
            hi = mid
    return max(at, entry_at + timedelta(seconds=lo))


def paid_until(tariff: Tariff, entry_at: datetime, paid_agorot: int, grace_from: datetime, at: datetime) -> datetime:
    """Until when an exit owes nothing after a payment: the grace from ``grace_from``, or the end of the stay the
    money paid covers (from ``at`` on) when that is later."""
    return max(grace_from + tariff.grace, covered_until(tariff, entry_at, paid_agorot, at))


def billed_until(tariff: Tariff, at: datetime, last_paid_at: datetime | None) -> datetime:
    """The time the stay is charged up to for an exit at ``at``.

    Within the grace period after the last payment the fee is frozen at the
    payment time; later exits are charged up to ``at`` and owe the difference.
    """
    if last_paid_at is not None and last_paid_at <= at <= last_paid_at + tariff.grace:
        return last_paid_at
    return at


def amount_due_agorot(
    tariff: Tariff,
    entry_at: datetime,
    at: datetime,
    paid_agorot: int,
    last_paid_at: datetime | None,
) -> int:
    """What the driver still owes at an exit at ``at``; never negative."""
    charged = fee_agorot(tariff, entry_at, billed_until(tariff, at, last_paid_at))
    return max(0, charged - paid_agorot)

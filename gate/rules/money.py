"""Money: integers in agorot inside the ledger, shekels (2 decimals) at the edges.

Integers avoid float rounding in sums of payments; Decimal keeps the
2-decimal display exact.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal("0.01")


def to_shekels(agorot: int) -> Decimal:
    """1250 -> Decimal('12.50')."""
    return (Decimal(agorot) / 100).quantize(_CENT)


def to_agorot(shekels: float | str | Decimal) -> int:
    """'12.5' -> 1250; rounds half up to the agora."""
    value = (Decimal(str(shekels)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(value)


def json_amount(agorot: int | None) -> float | None:
    """Shekels as a JSON number with at most 2 decimals (12.5, 0.0)."""
    return None if agorot is None else float(to_shekels(agorot))

"""Israeli plate layouts: 7 digits NN-NNN-NN, 8 digits NNN-NN-NNN."""
from __future__ import annotations

import re

LAYOUTS = {7: (2, 3, 2), 8: (3, 2, 3)}
_NON_DIGIT = re.compile(r"[^0-9]")


class PlateFormatError(ValueError):
    """A plate string that is not 7 or 8 digits."""


def is_valid_plate(text: str) -> bool:
    return text.isdigit() and len(text) in LAYOUTS


def normalize_plate(value: str) -> str:
    """Accept '12-345-67', '12 345 67' or '1234567'; return the digits or raise PlateFormatError."""
    raw = str(value).strip()
    digits = raw.replace("-", "").replace(" ", "")
    if not digits.isdigit() or len(digits) not in LAYOUTS:
        raise PlateFormatError(f"invalid plate {raw!r}: expected 7 or 8 digits (NN-NNN-NN or NNN-NN-NNN)")
    return digits


def format_plate(digits: str) -> str:
    """'1234567' -> '12-345-67'; '12345678' -> '123-45-678'."""
    groups = LAYOUTS.get(len(digits))
    if groups is None or not digits.isdigit():
        raise PlateFormatError(f"invalid plate {digits!r}: expected 7 or 8 digits")
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    return "-".join(out)


def digits_only(text: str) -> str:
    return _NON_DIGIT.sub("", text)

"""Israeli plate layouts: 7 digits NN-NNN-NN, 8 digits NNN-NN-NNN."""
from __future__ import annotations

import re
import unicodedata

LAYOUTS = {7: (2, 3, 2), 8: (3, 2, 3)}
_NON_DIGIT = re.compile(r"[^0-9]")


class PlateFormatError(ValueError):
    """A plate string that is not 7 or 8 digits."""


def is_valid_plate(text: str) -> bool:
    """7 or 8 ASCII digits ('１２３４５６７'.isdigit() is True too, and is not a plate until normalised)."""
    return text.isascii() and text.isdigit() and len(text) in LAYOUTS


def ascii_digits(text: str) -> str:
    """Any Unicode decimal digit as its ASCII digit: fullwidth '１' and Arabic-Indic '١' both become '1'."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text)


def normalize_plate(value: str) -> str:
    """The one door for every plate entering the system (CLI, config, lists, labels, API).

    Accept '12-345-67', '12 345 67', '1234567', in any Unicode digits and dashes (NFKC folds fullwidth
    forms, the rest of the decimal digits are mapped); return 7 or 8 ASCII digits or raise
    PlateFormatError naming the value. Without this, '１２３４５６７' opened a second visit for 1234567.
    """
    raw = str(value).strip()
    folded = ascii_digits(unicodedata.normalize("NFKC", raw))
    digits = re.sub(r"[\s\-\u2010-\u2015\u2212]", "", folded)
    if not is_valid_plate(digits):
        raise PlateFormatError(f"invalid plate {raw!r}: expected 7 or 8 digits (NN-NNN-NN or NNN-NN-NNN)")
    return digits


def format_plate(digits: str) -> str:
    """'1234567' -> '12-345-67'; '12345678' -> '123-45-678'."""
    groups = LAYOUTS.get(len(digits))
    if groups is None or not is_valid_plate(digits):
        raise PlateFormatError(f"invalid plate {digits!r}: expected 7 or 8 digits")
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    return "-".join(out)


def digits_only(text: str) -> str:
    return _NON_DIGIT.sub("", text)

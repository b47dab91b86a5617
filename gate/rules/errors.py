"""Domain errors. The CLI turns each into a one-line message and exit code 1.

Invalid plates raise lpr.plate_format.PlateFormatError (exit code 2).
"""
from __future__ import annotations


class GateError(Exception):
    """Base for errors an operator can act on; str() is a one-line message."""


class ClockError(GateError):
    """A time earlier than the visit it refers to (clock went backwards)."""


class NoOpenVisit(GateError):
    """No open visit matches the plate."""


class UnknownVisit(GateError):
    """No visit with that id."""


class PaymentConflict(GateError):
    """A payment id that was already used for a different visit."""


class ConfigError(GateError):
    """An invalid tariff or policy setting."""

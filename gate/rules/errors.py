"""Domain errors. The CLI turns each into a one-line message: exit code 2 for
InvalidInput (and SchemaMismatch), 1 for the rest (ConfigError included, as
`gate run` documents: a setup error, not a typo in the command).

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


class UnknownEvidence(GateError):
    """No evidence image with that id."""


class PaymentConflict(GateError):
    """A payment id that was already used for a different visit."""


class InvalidInput(GateError, ValueError):
    """A value from outside that is refused before anything is written: a time out of the window,
    an id out of range, a text longer than its column, a database URL that cannot be one."""


class ConfigError(GateError):
    """An invalid tariff or policy setting, found when the config is loaded."""


class SchemaMismatch(InvalidInput):
    """The database's schema version is not this code's: ``gate db upgrade`` (or newer code) fixes it."""


class LedgerUnavailable(GateError):
    """The database refused or failed (locked, read-only, full, corrupt, gone); nothing was written."""


class LedgerBusy(LedgerUnavailable):
    """Another process held the write lock longer than the policy's decision_wait_s."""

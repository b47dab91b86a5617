"""SIGHUP: read the config file again (tariff, policy, and the time zone where both sides have one).

Why not restart instead: a restart drops the pass in progress (its votes so
far) and reloads the reader, a car at the barrier would wait. Why the handler
only sets a flag: the file is read and applied by the frame loop between two
frames, never in the middle of a decision, so a decision is made wholly under
the old config or wholly under the new one, and the pass being tracked keeps
its reads. Under gate serve the reload runs on the event loop while requests
decide in worker threads: there the ledger takes the new settings in one step
and each operation keeps the ones it began with (Ledger.settings). A file
that does not load (bad value, unreadable, not UTF-8) changes nothing: one
error line, the old config stays.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import FrameType, SimpleNamespace
from typing import Callable, Protocol
from zoneinfo import ZoneInfo

from gate.rules import config
from gate.rules.errors import GateError
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff

log = logging.getLogger(__name__)

SETTINGS = ("tariff", "policy", "timezone")  # what a reload swaps, where both the file and the target have it


class Configurable(Protocol):
    """What a reload changes: gate.store.ledger.Ledger's settings, swapped in one step (read once per operation)."""

    @property
    def tariff(self) -> Tariff: ...

    @property
    def policy(self) -> Policy: ...

    def reconfigure(self, *, tariff: Tariff | None = None, policy: Policy | None = None,
                    timezone: ZoneInfo | None = None) -> None: ...


def load_settings(path: str | None) -> object:
    """Everything the config file sets: gate.rules.config's Settings where it has them, else tariff and policy."""
    loader: Callable[[str | None], object] | None = getattr(config, "load_settings", None)
    if loader is not None:
        return loader(path)
    tariff, policy = config.load_config(path)
    return SimpleNamespace(tariff=tariff, policy=policy)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    message: str  # one line for the log


class ConfigReloader:
    """Reloads ``path`` (None: $PLATEGATE_CONFIG, else the defaults) into ``target`` when asked."""

    def __init__(
        self,
        target: Configurable,
        path: str | None = None,
        load: Callable[[str | None], object] = load_settings,
    ) -> None:
        self.target = target
        self.path = path
        self.load = load
        self._requested = threading.Event()

    def request(self, _signum: int | None = None, _frame: FrameType | None = None) -> None:
        """Signal-safe: only remembers that a reload was asked for."""
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def apply_if_requested(self) -> ReloadResult | None:
        """Between frames: reload if SIGHUP came since the last look; None when it did not."""
        if not self._requested.is_set():
            return None
        self._requested.clear()
        return self.reload()

    def reload(self) -> ReloadResult:
        """Load the file; on success swap its settings in, else keep the old ones. Logs one line either way."""
        try:
            loaded = self.load(self.path)
        except Exception as exc:  # noqa: BLE001 - whatever the file does, a reload never takes the lane down
            why = exc if isinstance(exc, GateError) else f"{type(exc).__name__}: {exc}"
            result = ReloadResult(False, f"config reload failed, keeping the previous config: {why}")
            log.error("%s", result.message)
            return result
        names = [n for n in SETTINGS if hasattr(loaded, n) and hasattr(self.target, n)]
        changed = [n for n in names if getattr(self.target, n) != getattr(loaded, n)]
        self.target.reconfigure(**{name: getattr(loaded, name) for name in names})
        result = ReloadResult(True, "config reloaded: " + (", ".join(changed) + " changed" if changed
                                                           else "no change"))
        log.info("%s", result.message)
        return result

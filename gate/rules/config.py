"""Load tariff and policy from a TOML or JSON file.

The file is ``--config PATH`` or ``$PLATEGATE_CONFIG``; without one the
defaults in gate.rules.tariff and gate.rules.policy apply. Layout (TOML)::

    [tariff]
    free_minutes = 15
    hourly_rate = 12.00     # shekels
    unit_minutes = 60
    daily_max = 96.00
    grace_minutes = 15

    [policy]
    capacity = 500
    duplicate_entry = "close-stale"
"""
from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from gate.rules.errors import ConfigError
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff

ENV_CONFIG = "PLATEGATE_CONFIG"


def load_config(path: str | os.PathLike[str] | None = None) -> tuple[Tariff, Policy]:
    """Tariff and Policy from the file (or $PLATEGATE_CONFIG), else defaults."""
    path = path or os.environ.get(ENV_CONFIG)
    if not path:
        return Tariff(), Policy()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}") from None
    try:
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"invalid config {file}: {exc}") from None
    unknown = set(data) - {"tariff", "policy"}
    if unknown:
        raise ConfigError(f"config {file}: unknown section(s) {', '.join(sorted(unknown))}")
    try:
        return Tariff.from_mapping(data.get("tariff", {})), Policy.from_mapping(data.get("policy", {}))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config {file}: {exc}") from None

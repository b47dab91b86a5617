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
    decision_wait_s = 5       # the longest a decision waits for the database
    earliest_time = 2000-01-01
    future_days = 1

The lot's time zone (local input and human-facing output) is a top-level
``timezone = "Asia/Jerusalem"`` or the same key in a ``[site]`` section.

Every value is checked for type and range when the file is loaded (in
Tariff and Policy themselves), so a bad file stops ``gate`` at start with
one line naming the key, the value and what is allowed, never at a decision.
"""
from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from gate.rules.clock import DEFAULT_TIMEZONE, zone
from gate.rules.errors import ConfigError
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff

ENV_CONFIG = "PLATEGATE_CONFIG"


@dataclass(frozen=True)
class Settings:
    """Everything a config file sets: the tariff, the policy and the lot's time zone."""

    tariff: Tariff = field(default_factory=Tariff)
    policy: Policy = field(default_factory=Policy)
    timezone: ZoneInfo = field(default_factory=lambda: zone(DEFAULT_TIMEZONE))


def load_config(path: str | os.PathLike[str] | None = None) -> tuple[Tariff, Policy]:
    """Tariff and Policy from the file (or $PLATEGATE_CONFIG), else defaults."""
    settings = load_settings(path)
    return settings.tariff, settings.policy


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Tariff, Policy and time zone from the file (or $PLATEGATE_CONFIG), else defaults."""
    path = path or os.environ.get(ENV_CONFIG)
    if not path:
        return Settings()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"invalid config {file}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, RecursionError) as exc:  # TOMLDecodeError is a ValueError
        raise ConfigError(f"invalid config {file}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {file}: expected a table with [tariff] and [policy], got {data!r:.40}")
    unknown = set(data) - {"tariff", "policy", "site", "timezone"}
    if unknown:
        raise ConfigError(f"config {file}: unknown section(s) {', '.join(sorted(map(str, unknown)))}")
    sections = {name: data.get(name, {}) for name in ("tariff", "policy", "site")}
    for name, section in sections.items():
        if not isinstance(section, dict):
            raise ConfigError(f"config {file}: {name} = {section!r:.40}: expected a table of settings")
    try:
        return Settings(
            Tariff.from_mapping(sections["tariff"]),
            Policy.from_mapping(sections["policy"]),
            _timezone(data, sections["site"]),
        )
    except ConfigError as exc:
        raise ConfigError(f"config {file}: {exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # a check missed: still one line, never a traceback
        raise ConfigError(f"config {file}: {exc}") from None


def _timezone(data: dict[str, Any], site: dict[str, Any]) -> ZoneInfo:
    """``timezone`` at the top or in ``[site]`` (not both: which one would win is a guess)."""
    unknown = set(site) - {"timezone"}
    if unknown:
        raise ConfigError(f"site: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    if "timezone" in data and "timezone" in site:
        raise ConfigError("timezone is set both at the top and in [site]: keep one")
    return zone(site.get("timezone", data.get("timezone", DEFAULT_TIMEZONE)))

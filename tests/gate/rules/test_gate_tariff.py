"""Tariff rules: free period, started hours, daily maximum, grace."""
from __future__ import annotations

from datetime import timedelta

import pytest
from gate_support import T0, at
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.rules.config import load_config
from gate.rules.errors import ClockError, ConfigError
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff, amount_due_agorot, fee_agorot

DEFAULT = Tariff()


def fee(minutes: float, tariff: Tariff = DEFAULT) -> int:
    return fee_agorot(tariff, T0, at(minutes))


def test_defaults_are_the_documented_ones():
    assert (DEFAULT.free_minutes, DEFAULT.hourly_rate_agorot, DEFAULT.daily_max_agorot, DEFAULT.grace_minutes) == (
        15,
        1200,
        9600,
        15,
    )


def test_first_15_minutes_are_free():
    assert fee(0) == 0
    assert fee(15) == 0
    assert fee(15.02) == 1200


def test_every_started_hour_is_charged_from_entry():
    assert fee(16) == 1200
    assert fee(60) == 1200
    assert fee(61) == 2400
    assert fee(3 * 60 + 1) == 4800


def test_daily_maximum_caps_a_long_day():
    assert fee(8 * 60) == 9600
    assert fee(23 * 60) == 9600


def test_multi_day_stay_pays_the_cap_per_full_day_plus_the_rest():
    assert fee(24 * 60) == 9600
    assert fee(24 * 60 + 30) == 9600 + 1200
    assert fee(2 * 24 * 60 + 10 * 60) == 3 * 9600


def test_quarter_hour_units_charge_a_quarter_of_the_rate():
    quarter = Tariff(unit_minutes=15)
    assert fee(16, quarter) == 2 * 300
    assert fee(45, quarter) == 3 * 300


def test_a_units_price_rounds_half_an_agora_up_as_money_does():
    assert Tariff(hourly_rate_agorot=1210, unit_minutes=15).unit_rate_agorot == 303  # 302.5
    assert Tariff(hourly_rate_agorot=1230, unit_minutes=15).unit_rate_agorot == 308  # 307.5
    assert Tariff(hourly_rate_agorot=1001, unit_minutes=20).unit_rate_agorot == 334  # 333.67


def test_time_before_entry_raises_instead_of_a_negative_fee():
    with pytest.raises(ClockError):
        fee(-1)


def test_paying_freezes_the_fee_for_the_grace_period_only():
    paid = fee_agorot(DEFAULT, T0, at(50))  # 12.00 paid at minute 50
    assert amount_due_agorot(DEFAULT, T0, at(64), paid, at(50)) == 0  # 14 min after paying
    assert amount_due_agorot(DEFAULT, T0, at(65), paid, at(50)) == 0  # 15 min: still grace
    assert amount_due_agorot(DEFAULT, T0, at(66), paid, at(50)) == 1200  # the second hour is owed


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 5 * 24 * 60 * 60), st.integers(0, 5 * 24 * 60 * 60))
def test_fee_is_never_negative_and_never_decreases_with_a_longer_stay(a, b):
    short, long_ = sorted((a, b))
    f_short = fee_agorot(DEFAULT, T0, T0 + timedelta(seconds=short))
    f_long = fee_agorot(DEFAULT, T0, T0 + timedelta(seconds=long_))
    assert 0 <= f_short <= f_long


UNITS = [m for m in range(1, 24 * 60 + 1) if (60 % m == 0 or m % 60 == 0) and (24 * 60) % m == 0]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(UNITS), st.integers(0, 5000), st.one_of(st.none(), st.integers(0, 50_000)),
       st.integers(0, 4 * 24 * 60), st.integers(0, 4 * 24 * 60))
def test_under_any_valid_tariff_a_longer_stay_never_costs_less_and_a_day_costs_its_units_up_to_the_cap(
        unit, rate, cap, a, b):
    tariff = Tariff(unit_minutes=unit, hourly_rate_agorot=rate, daily_max_agorot=cap)
    short, long_ = sorted((a, b))
    assert fee_agorot(tariff, T0, at(short)) <= fee_agorot(tariff, T0, at(long_))
    day = (24 * 60 // unit) * tariff.unit_rate_agorot
    assert fee_agorot(tariff, T0, at(24 * 60)) == (day if cap is None else min(cap, day))


def test_a_daily_maximum_above_a_days_units_is_never_charged():
    cheap = Tariff(hourly_rate_agorot=200, daily_max_agorot=9600)  # 24 h of units: 48.00
    assert fee_agorot(cheap, T0, at(23 * 60)) == 4600
    assert fee_agorot(cheap, T0, at(24 * 60)) == 4800


@pytest.mark.parametrize("unit", [7, 90, 300])
def test_billing_units_that_do_not_tile_an_hour_and_a_day_are_refused(unit):
    with pytest.raises(ConfigError, match=f"tariff.unit_minutes = {unit}: expected"):
        Tariff(unit_minutes=unit)


def test_config_file_overrides_the_defaults(tmp_path):
    path = tmp_path / "lot.toml"
    path.write_text(
        '[tariff]\nfree_minutes = 30\nhourly_rate = 10.50\ndaily_max = 60\n\n[policy]\ncapacity = 40\nduplicate_entry = "deny"\n'
    )
    tariff, policy = load_config(path)
    assert tariff == Tariff(free_minutes=30, hourly_rate_agorot=1050, daily_max_agorot=6000)
    assert policy == Policy(capacity=40, duplicate_entry="deny")


@pytest.mark.parametrize(
    "content",
    ["[tariff]\nhourly = 3\n", "[policy]\nduplicate_entry = 'maybe'\n", "[tariff]\nfree_minutes = -1\n", "not toml ="],
)
def test_invalid_config_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ConfigError):
        load_config(path)

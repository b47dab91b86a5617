"""Config: every value is checked when the file is loaded; a bad one is one line naming key, value and range."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from gate.rules.config import load_config
from gate.rules.errors import ConfigError
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('[policy]\nmin_confidence = "high"\n', "policy.min_confidence = 'high': expected a number from 0 to 1"),
        ('[tariff]\nhourly_rate = "abc"\n', "tariff.hourly_rate = 'abc': expected a number from 0 to 10000"),
        ("[tariff]\nhourly_rate = inf\n", "tariff.hourly_rate = inf"),
        ("[tariff]\nhourly_rate = 1e30\n", "tariff.hourly_rate = 1e+30"),
        ("[tariff]\nfree_minutes = inf\n", "tariff.free_minutes = inf: expected a whole number from 0 to 10080"),
        ("[tariff]\nfree_minutes = 2.5\n", "tariff.free_minutes = 2.5"),
        ("[tariff]\nunit_minutes = 7\n", "tariff.unit_minutes = 7: expected a divisor of 60 or whole hours"),
        ('[tariff]\ncurrency = "shekels"\n', "tariff.currency = 'shekels'"),
        ("[policy]\nmax_stay_hours = nan\n", "policy.max_stay_hours = nan: expected a number above 0"),
        ("[policy]\ncapacity = true\n", "policy.capacity = True"),
        ("[policy]\ndecision_wait_s = 0\n", "policy.decision_wait_s = 0"),
        ('[policy]\nearliest_time = "yesterday"\n', "policy.earliest_time = 'yesterday'"),
        ('[policy]\nduplicate_entry = "maybe"\n', "policy.duplicate_entry = 'maybe': expected one of"),
        ("tariff = 5\n", "tariff = 5: expected a table of settings"),
    ],
)
def test_a_bad_value_fails_at_load_naming_the_key_the_value_and_what_is_allowed(tmp_path, content, named):
    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"config {path}: ") and named in message and "\n" not in message


@pytest.mark.parametrize("data", [[1, 2], 5, "text", None])
def test_a_json_file_that_is_not_an_object_is_refused(tmp_path, data):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="expected a table with"):
        load_config(path)


def test_json_infinity_and_nan_are_refused_like_toml(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"tariff": {"daily_max": Infinity}, "policy": {}}')
    with pytest.raises(ConfigError, match="tariff.daily_max = inf"):
        load_config(path)


@pytest.mark.parametrize("setting", ["daily_max = 0.004", "hourly_rate = 12.345", "daily_max = 1e-9"])
def test_money_finer_than_an_agora_is_refused_not_rounded(tmp_path, setting):
    """daily_max = 0.004 was rounded to a daily maximum of 0 agorot: every stay free, and no error."""
    path = tmp_path / "c.toml"
    path.write_text(f"[tariff]\n{setting}\n")
    with pytest.raises(ConfigError, match="expected an amount in whole agorot"):
        load_config(path)
    path.write_text("[tariff]\ndaily_max = 80.5\nhourly_rate = 12.35\n")
    tariff, _ = load_config(path)
    assert (tariff.daily_max_agorot, tariff.hourly_rate_agorot) == (8050, 1235)


def test_a_file_not_in_utf8_is_one_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"[tariff]\ncurrency = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_the_new_settings_load_and_show(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[policy]\ndecision_wait_s = 2\nearliest_time = 2020-01-01\nfuture_days = 0.5\n")
    _, policy = load_config(path)
    assert (policy.decision_wait_s, policy.future_days) == (2.0, 0.5)
    assert policy.earliest_time == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert json.loads(json.dumps(policy.describe()))["earliest_time"] == "2020-01-01T00:00:00+00:00"


def test_settings_given_in_code_are_checked_the_same_way():
    with pytest.raises(ConfigError, match="policy.min_confidence"):
        Policy(min_confidence="high")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tariff.hourly_rate_agorot"):
        Tariff(hourly_rate_agorot=-1)
    assert Policy(capacity=10.0).capacity == 10  # type: ignore[arg-type]  # a whole float is a whole number

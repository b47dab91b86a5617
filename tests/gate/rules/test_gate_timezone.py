"""The lot's time zone: one config key, checked when the file loads; naive input and reports use it."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from gate.rules.clock import day_start, local_text, parse_time
from gate.rules.config import load_settings
from gate.rules.errors import ConfigError, InvalidInput

JERUSALEM = "Asia/Jerusalem"


def settings_of(tmp_path, text):
    path = tmp_path / "lot.toml"
    path.write_text(text)
    return load_settings(path), path


def test_the_default_is_asia_jerusalem(tmp_path):
    assert load_settings().timezone.key == JERUSALEM
    assert settings_of(tmp_path, "[tariff]\nfree_minutes = 10\n")[0].timezone.key == JERUSALEM


def test_a_top_level_key_or_a_site_section_sets_it(tmp_path):
    assert settings_of(tmp_path, 'timezone = "Europe/London"\n')[0].timezone.key == "Europe/London"
    assert settings_of(tmp_path, '[site]\ntimezone = "UTC"\n')[0].timezone.key == "UTC"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('timezone = "Mars/Olympus"\n', "timezone = 'Mars/Olympus': expected an IANA time zone"),
        ("timezone = 2\n", "timezone = 2: expected an IANA time zone"),
        ('[site]\ntimezone = ""\n', "timezone = '': expected"),
        ('[site]\nzone = "UTC"\n', "site: unknown setting(s) zone"),
        ('timezone = "UTC"\n[site]\ntimezone = "UTC"\n', "timezone is set both at the top and in [site]"),
    ],
)
def test_a_bad_time_zone_is_one_line_naming_the_value(tmp_path, text, named):
    with pytest.raises(ConfigError) as raised:
        settings_of(tmp_path, text)
    message = str(raised.value)
    assert named in message and message.startswith("config ") and "\n" not in message


def test_naive_times_are_wall_clock_time_in_the_zone_and_people_read_local_time(tmp_path):
    zone = settings_of(tmp_path, f'timezone = "{JERUSALEM}"\n')[0].timezone
    assert parse_time("2025-07-01T10:00", zone) == datetime(2025, 7, 1, 7, 0, tzinfo=timezone.utc)  # summer: +03
    assert parse_time("2025-07-01T10:00Z", zone) == datetime(2025, 7, 1, 10, 0, tzinfo=timezone.utc)
    assert local_text(datetime(2025, 1, 1, 8, 0, tzinfo=timezone.utc), zone) == "2025-01-01 10:00:00+02:00"


def test_a_local_day_starts_at_local_midnight_across_dst(tmp_path):
    zone = settings_of(tmp_path, f'timezone = "{JERUSALEM}"\n')[0].timezone
    # Israel's clocks went forward on Friday 28 March 2025: that day had 23 hours
    start, end = day_start(date(2025, 3, 28), zone), day_start(date(2025, 3, 29), zone)
    assert start == datetime(2025, 3, 27, 22, 0, tzinfo=timezone.utc) and (end - start).total_seconds() == 23 * 3600


def test_the_sample_config_names_the_default_time_zone():
    from pathlib import Path

    sample = Path(__file__).parents[3] / "deploy" / "plategate.toml"
    assert load_settings(sample).timezone.key == JERUSALEM


def test_a_local_time_the_clocks_jump_over_is_refused_naming_it(tmp_path):
    zone = settings_of(tmp_path, f'timezone = "{JERUSALEM}"\n')[0].timezone
    # 28 March 2025 in Israel: 02:00 became 03:00, so 02:30 was never on a wall clock there
    with pytest.raises(InvalidInput, match="2025-03-28T02:30:00 does not exist in Asia/Jerusalem"):
        parse_time("2025-03-28T02:30", zone)
    assert parse_time("2025-03-28T03:30", zone) == datetime(2025, 3, 28, 0, 30, tzinfo=timezone.utc)
    assert parse_time("2025-03-28T02:30+02:00", zone) == datetime(2025, 3, 28, 0, 30, tzinfo=timezone.utc)
    # the hour repeated in autumn (26 October 2025, 01:00-02:00 twice) is read as its first time, at +03
    assert parse_time("2025-10-26T01:30", zone) == datetime(2025, 10, 25, 22, 30, tzinfo=timezone.utc)

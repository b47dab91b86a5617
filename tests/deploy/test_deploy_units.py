"""The gate box's service files and sample config: valid for systemd, and in step with the code."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from gate.rules.config import load_config
from gate.rules.policy import Policy
from gate.rules.tariff import Tariff

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ["plategate-run@.service", "plategate-serve.service"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="Debian's systemd package not installed")
@pytest.mark.parametrize("unit", UNITS)
def test_service_file_passes_systemd_analyze_verify(unit, tmp_path):
    """Verified as installed, with /opt/plategate/bin pointing at this environment's gate and the
    lane's environment file in place (verify checks that both exist)."""
    text = (DEPLOY / unit).read_text().replace("/opt/plategate/bin", str(Path(sys.executable).parent))
    text = text.replace("/etc/plategate/lane-%i.env", str(DEPLOY / "lane-%i.env"))
    name = unit.replace("@.service", "@entry.service")
    (tmp_path / unit).write_text(text)
    if name != unit:
        (tmp_path / name).symlink_to(tmp_path / unit)
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / name)], capture_output=True,
                         text=True, timeout=60)
    problems = [line for line in (out.stdout + out.stderr).splitlines() if name in line or unit in line]
    assert out.returncode == 0 and not problems, out.stdout + out.stderr


def test_units_restart_on_failure_as_a_dedicated_user_with_state_in_var_lib():
    for unit in UNITS:
        text = (DEPLOY / unit).read_text()
        assert "Restart=on-failure" in text and "User=plategate" in text
        assert "StateDirectory=plategate" in text and "/var/lib/plategate" in text


def test_sample_config_names_every_setting_at_its_default():
    data = tomllib.loads((DEPLOY / "plategate.toml").read_text())
    assert set(data["policy"]) == {f.name for f in fields(Policy)}
    money = {"hourly_rate_agorot": "hourly_rate", "daily_max_agorot": "daily_max"}
    assert set(data["tariff"]) == {money.get(f.name, f.name) for f in fields(Tariff)}
    assert load_config(DEPLOY / "plategate.toml") == (Tariff(), Policy())

"""A lane's unit takes its gate id and remote-camera options from LANE_ARGS in its env file, split into
words by systemd ($LANE_ARGS, not ${LANE_ARGS}: unset, it adds no empty argument)."""
from __future__ import annotations

import shlex
from pathlib import Path

from typer.testing import CliRunner

from gate.cli import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_lane_unit_passes_lane_args_and_the_env_file_shows_them():
    unit = (DEPLOY / "plategate-run@.service").read_text()
    assert "--give-up-after 30 $LANE_ARGS\n" in unit
    examples = [line.removeprefix("# LANE_ARGS=") for line in (DEPLOY / "lane-entry.env").read_text().splitlines()
                if line.startswith("# LANE_ARGS=")]
    assert examples and all("--gate" in e for e in examples)
    for example in examples:  # each is options gate run knows (its --help would name an unknown one)
        words = shlex.split(example)
        options = [w for w in words if w.startswith("--")]
        help_text = CliRunner().invoke(app, ["run", "--help"], terminal_width=200).output
        assert all(o in help_text for o in options), (example, help_text)


def test_the_camera_url_is_in_the_env_file_never_on_the_command_line():
    """An rtsp://user:password@ URL in ExecStart is in every user's `ps`; gate run reads $PLATEGATE_SOURCE."""
    unit = (DEPLOY / "plategate-run@.service").read_text()
    exec_start = unit[unit.index("ExecStart="):unit.index("ExecReload=")]
    assert "--source" not in exec_start and "SOURCE}" not in exec_start
    env = (DEPLOY / "lane-entry.env").read_text().splitlines()
    assert any(line.startswith("PLATEGATE_SOURCE=rtsp://") for line in env)
    assert not any(line.startswith("SOURCE=") for line in env)


def test_gate_run_takes_its_source_from_plategate_source(tmp_path):
    db = str(tmp_path / "ledger.db")
    missing = str(tmp_path / "no-such-camera.mp4")
    ran = CliRunner().invoke(app, ["run", "--lane", "entry", "--db", db], env={"PLATEGATE_SOURCE": missing})
    assert ran.exit_code == 2 and f"source '{missing}': no such file" in ran.output, ran.output
    unset = CliRunner().invoke(app, ["run", "--lane", "entry", "--db", db], env={"PLATEGATE_SOURCE": None})
    assert unset.exit_code == 2 and "Missing option '--source'" in unset.output

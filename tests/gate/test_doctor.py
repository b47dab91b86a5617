"""`gate doctor`: one line per check, ok/warn/fail/skip; exit 1 only when something fails.

Cameras, readers and clocks are injected; the database checks run on real SQLite files (and PostgreSQL
when $PLATEGATE_TEST_PG_URL is set); the relay check connects to a socket the test listens on.
"""
from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gate import doctor as dr
from gate.cli import app
from gate.rules.clock import now_utc
from gate.store import schema

DEMO = Path(__file__).resolve().parents[2] / "gate" / "demo" / "entry.mp4"


@pytest.fixture
def ledger_file(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    return path


class FrameCapture:
    def __init__(self, opened: bool = True, frame: np.ndarray | None = None) -> None:
        self.opened, self.frame, self.released = opened, frame, False

    def isOpened(self) -> bool:
        return self.opened

    def read(self):
        return (self.frame is not None), self.frame

    def release(self) -> None:
        self.released = True


@dataclass(frozen=True)
class Read:
    text: str
    valid: bool = True


class SampleReader:
    def __init__(self, text: str) -> None:
        self.text = text

    def read(self, image):
        return [Read(self.text)]


def by_name(checks) -> dict[str, dr.Check]:
    return {c.name: c for c in checks}


# --- the whole box ------------------------------------------------------------------------------------------

def test_a_ready_box_is_all_ok_or_skipped(ledger_file: Path, tmp_path: Path):
    options = dr.DoctorOptions(db=str(ledger_file), source=str(DEMO), evidence_dir=str(tmp_path / "evidence"))
    checks = dr.run_checks(options, reader_factory=lambda: SampleReader("7814176"))
    assert [c.name for c in checks] == ["config", "database", "clock", "evidence", "models", "camera", "relay",
                                        "disk"]
    assert {c.status for c in checks} <= {dr.Status.OK, dr.Status.SKIP} and not dr.failed(checks)
    assert "gate_1.jpg read as 78-141-76" in by_name(checks)["models"].detail


def test_cli_prints_one_line_per_check_and_exits_1_on_a_failure(ledger_file: Path, tmp_path: Path):
    args = ["doctor", "--db", str(ledger_file), "--no-models", "--evidence-dir", str(tmp_path / "ev"),
            "--source", str(DEMO)]
    ok = CliRunner().invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert [line.split()[:2] for line in ok.output.splitlines()] == [
        ["ok", "config"], ["ok", "database"], ["skip", "clock"], ["ok", "evidence"], ["skip", "models"],
        ["ok", "camera"], ["skip", "relay"], ["ok", "disk"]]
    bad = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "no-such.mp4"), "--format", "json"])
    assert bad.exit_code == 1
    report = json.loads(bad.output)
    assert report["ok"] is False
    assert [c["status"] for c in report["checks"] if c["name"] == "camera"] == ["fail"]


@pytest.mark.parametrize("key", ["PLATEGATE_SOURCE", "SOURCE"])  # the unit's env var; an older file's name
def test_the_lane_env_file_names_the_camera_and_relay(ledger_file: Path, tmp_path: Path, key: str):
    env = tmp_path / "lane-entry.env"
    env.write_text(f"# lane\nLANE=entry\n{key}=\"{DEMO}\"\nPLATEGATE_RELAY=sim\n")
    result = CliRunner().invoke(app, ["doctor", "--db", str(ledger_file), "--no-models", "--lane-env", str(env),
                                      "--evidence-dir", str(tmp_path / "ev"), "--format", "json"])
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert checks["camera"]["status"] == "ok" and "1280x720" in checks["camera"]["detail"]


def test_a_config_named_in_the_lane_env_file_is_checked(ledger_file: Path, tmp_path: Path):
    """Doctor said "ok config: no file" for a lane whose file named a config it would refuse."""
    bad = tmp_path / "plategate.toml"
    bad.write_text('[policy]\nmin_confidence = "high"\n')
    env = tmp_path / "lane-entry.env"
    env.write_text(f"LANE=entry\nPLATEGATE_SOURCE={DEMO}\nPLATEGATE_CONFIG={bad}\nPLATEGATE_DB={ledger_file}\n")
    result = CliRunner().invoke(app, ["doctor", "--no-models", "--lane-env", str(env), "--evidence-dir",
                                      str(tmp_path / "ev"), "--format", "json"])
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert result.exit_code == 1 and checks["config"]["status"] == "fail" and "min_confidence" in checks["config"]["detail"]


def test_a_folder_the_caller_may_not_look_into_is_a_fail_not_a_traceback(tmp_path: Path, monkeypatch):
    from gate import doctor as dr

    hidden = tmp_path / "root-only" / "evidence"
    real_exists = Path.exists

    def exists(self: Path, *args, **kwargs) -> bool:
        if self == hidden:
            raise PermissionError(13, "Permission denied", str(self))
        return real_exists(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", exists)
    checks = {c.name: c for c in dr.run_checks(dr.DoctorOptions(db=str(tmp_path / "l.db"), config=None, source=None, relay=None,
                                                                   evidence_dir=str(hidden), models=False))}
    assert checks["evidence"].status is dr.Status.FAIL and "Permission denied" in checks["evidence"].detail


# --- camera -------------------------------------------------------------------------------------------------

def test_a_camera_that_hangs_fails_after_the_timeout_with_its_password_masked():
    release = threading.Event()

    def hanging(_target):
        release.wait(5)
        raise OSError("gave up")

    check = dr.check_camera("rtsp://admin:s3cret@192.0.2.10/stream1", timeout_s=0.2, factory=hanging)
    release.set()
    assert check.status is dr.Status.FAIL and "no frame within 0.2 s" in check.detail
    assert "s3cret" not in check.detail and "admin:***@" in check.detail


@pytest.mark.parametrize("capture, says", [(FrameCapture(opened=False), "cannot open"),
                                           (FrameCapture(opened=True, frame=None), "gave no frame")])
def test_a_camera_that_opens_badly_fails(capture, says):
    check = dr.check_camera("rtsp://cam/s", timeout_s=2, factory=lambda _t: capture)
    assert check.status is dr.Status.FAIL and says in check.detail and capture.released


def test_no_camera_given_is_skipped():
    assert dr.check_camera(None).status is dr.Status.SKIP


# --- models -------------------------------------------------------------------------------------------------

def test_a_reader_that_misreads_the_sample_fails():
    check = dr.check_models(lambda: SampleReader("7814170"))
    assert check.status is dr.Status.FAIL and "read 78-141-70, expected 78-141-76" in check.detail


def test_a_reader_that_does_not_load_fails_in_one_line():
    def broken():
        raise RuntimeError("[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model failed")

    check = dr.check_models(broken)
    assert check.status is dr.Status.FAIL and "INVALID_PROTOBUF" in check.detail and "\n" not in check.detail


@pytest.mark.slow
def test_the_shipped_reader_reads_the_sample_photo():
    check = dr.check_models()
    assert check.status is dr.Status.OK and "78-141-76" in check.detail


# --- database and clock -------------------------------------------------------------------------------------

def test_a_missing_ledger_file_fails_and_is_not_created(tmp_path: Path):
    database, clock = dr.check_database(str(tmp_path / "none.db"))
    assert database.status is dr.Status.FAIL and "gate db upgrade" in database.detail
    assert clock.status is dr.Status.SKIP and not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("version, fix", [("0002", "run `gate db upgrade`"), ("0099", "update plategate")])
def test_a_ledger_at_another_schema_fails_with_the_fix(ledger_file: Path, version, fix):
    with sqlite3.connect(ledger_file) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (version,))
    database, _ = dr.check_database(str(ledger_file))
    assert database.status is dr.Status.FAIL and f"schema {version}" in database.detail and fix in database.detail


def test_a_read_only_ledger_fails(ledger_file: Path):
    database, _ = dr.check_database(f"sqlite:///file:{ledger_file}?mode=ro&uri=true")
    assert database.status is dr.Status.FAIL and "readonly" in database.detail


def test_the_write_probe_leaves_the_ledger_as_it_was(ledger_file: Path):
    before = ledger_file.read_bytes()
    database, clock = dr.check_database(str(ledger_file))
    assert database.status is dr.Status.OK and "writable" in database.detail
    assert clock.status is dr.Status.SKIP
    with sqlite3.connect(ledger_file) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.HEAD,)]
    assert len(ledger_file.read_bytes()) == len(before)


def test_a_database_url_with_a_password_is_masked(tmp_path: Path):
    database, _ = dr.check_database("postgresql+psycopg://gate:hunter2@127.0.0.1:1/none")
    assert database.status is dr.Status.FAIL and "hunter2" not in database.detail


def test_the_clock_is_compared_with_postgresql(pg_url: str):
    database, clock = dr.check_database(pg_url)
    assert database.status is dr.Status.OK and clock.status is dr.Status.OK, clock.detail
    _, late = dr.check_database(pg_url, now=lambda: now_utc() - timedelta(seconds=30))
    assert late.status is dr.Status.WARN and "-30" in late.detail and "NTP" in late.detail


# --- evidence, relay, disk ----------------------------------------------------------------------------------

def test_the_evidence_folder_takes_a_file_and_keeps_none(tmp_path: Path):
    folder = tmp_path / "evidence"
    folder.mkdir()
    assert dr.check_evidence(str(folder)).status is dr.Status.OK
    assert list(folder.iterdir()) == []


def test_an_evidence_path_that_is_a_file_fails(tmp_path: Path):
    (tmp_path / "evidence").write_text("x")
    check = dr.check_evidence(str(tmp_path / "evidence"))
    assert check.status is dr.Status.FAIL and "not a folder" in check.detail


def test_the_relay_is_connected_to_and_never_pulsed():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        check = dr.check_relay(f"http://admin:pw@127.0.0.1:{port}/pulse", timeout_s=2)
        conn, _ = server.accept()
        conn.settimeout(0.5)
        try:
            assert conn.recv(10) == b""  # connected and closed: not one byte of a request
        finally:
            conn.close()
    assert check.status is dr.Status.OK and "admin:***@" in check.detail and "not pulsed" in check.detail


def test_a_relay_that_refuses_fails_and_sim_is_skipped():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    assert dr.check_relay(f"http://127.0.0.1:{port}/pulse", timeout_s=1).status is dr.Status.FAIL
    assert dr.check_relay("sim").status is dr.Status.SKIP
    assert dr.check_relay("ftp://relay/x").status is dr.Status.FAIL


def test_low_disk_space_only_warns(tmp_path: Path):
    check = dr.check_disk([tmp_path], min_free_bytes=1 << 60)
    assert check.status is dr.Status.WARN and "GB free" in check.detail
    assert not dr.failed([check])
    assert dr.check_disk([tmp_path / "not" / "yet"]).status is dr.Status.OK  # the nearest existing folder


def test_config_that_does_not_load_fails(tmp_path: Path):
    bad = tmp_path / "c.toml"
    bad.write_text("[policy]\nmin_confidence = 'high'\n")
    check = dr.check_config(str(bad))
    assert check.status is dr.Status.FAIL and "min_confidence" in check.detail

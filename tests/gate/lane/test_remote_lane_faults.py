"""The remote lane against a server that misbehaves: no read is lost, no car waits on a backlog, no secret leaks."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_ledger_server import Fake, nobody_listens
from gate_support import at

from gate.lane.remote import ReadQueue, RemoteLedger

TOKEN = "pgt_secret_token"


@pytest.fixture
def fake():
    server = Fake()
    yield server
    server.close()


def remote(tmp_path: Path, url: str, **options) -> RemoteLedger:
    return RemoteLedger(url, TOKEN, ReadQueue(tmp_path / "queue"), **options)


@pytest.mark.parametrize("mode", ["garbage", "truncated"])
def test_an_answer_that_is_not_http_or_is_cut_queues_the_read_behind_the_backlog(fake, tmp_path: Path, mode):
    lane = remote(tmp_path, nobody_listens(), timeout_s=1.0)
    lane.decide("entry", "1111111", at=at(0))  # queued while the server was down
    lane.url, fake.mode = fake.url, mode  # back, behind a proxy that garbles or cuts the answer
    decision = lane.decide("exit", "2222222", at=at(10))
    assert (decision.action, decision.reason) == ("review", "offline") and len(lane.queue) == 2


@pytest.mark.parametrize("mode", ["garbage", "truncated"])
def test_a_live_read_given_a_bad_answer_is_queued_and_the_gate_stays_shut(fake, tmp_path: Path, mode):
    lane = remote(tmp_path, fake.url, timeout_s=1.0)
    fake.mode = mode
    assert lane.decide("exit", "3333333", at=at(0)).action == "review"
    assert len(lane.queue) == 1


def test_a_car_does_not_wait_for_the_background_flush_of_a_backlog(fake, tmp_path: Path):
    lane = remote(tmp_path, nobody_listens(), timeout_s=1.0)
    for i in range(30):  # an outage: 30 reads queued
        lane.decide("entry", f"11111{i:02d}", at=at(i))
    lane.url, fake.delay_s = fake.url, 0.2  # the server is back, answering each read in 0.2 s (6 s in all)
    lane.start(every_s=0.05)
    try:
        while not fake.posted:
            time.sleep(0.01)
        decision = lane.decide("exit", "2222222", at=at(60))
        left = len(lane.queue)
    finally:
        lane.close()
    # the car's read was decided (queued behind what one decision's wait could not send) while older reads were
    # still waiting: it did not wait for the flusher to send all 30
    assert decision.reason == "offline" and left > 1


def test_the_token_is_never_sent_to_the_host_a_redirect_names(tmp_path: Path):
    a, b = Fake(), Fake()  # b: another host (a captive portal, a proxy's login page)
    try:
        a.mode, a.redirect_to = "redirect", b.url
        lane = remote(tmp_path, a.url, timeout_s=1.0)
        lane.check_token("entry", "entry")
        lane.decide("entry", "4444444", at=at(0))
        assert b.auth and not any(h and TOKEN in h for _m, _p, h in b.auth)
    finally:
        a.close()
        b.close()


def test_a_ledger_url_with_a_password_is_refused_without_showing_it(tmp_path: Path):
    with pytest.raises(ValueError, match="no user or password in it") as refused:
        remote(tmp_path, "http://plategate:S3cretPw@127.0.0.1/")
    assert "S3cretPw" not in str(refused.value)
    with pytest.raises(ValueError, match="expected http"):
        remote(tmp_path, "http://127.0.0.1:eighty/")


@pytest.mark.slow
def test_gate_run_with_a_password_in_the_ledger_url_exits_2_with_one_line(tmp_path: Path):
    frames = tmp_path / "frames"
    frames.mkdir()
    out = subprocess.run([str(Path(sys.executable).parent / "gate"), "run", "--lane", "entry", "--source",
                          str(frames), "--ledger-url", "http://plategate:S3cretPw@127.0.0.1/", "--state-dir",
                          str(tmp_path / "st"), "--evidence-dir", str(tmp_path / "ev")],
                         capture_output=True, text=True, env={**os.environ, "PLATEGATE_TOKEN": "pgt_x"}, timeout=120)
    assert out.returncode == 2 and "S3cretPw" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("content", ["[]", "{}", '{"lane": "exit", "gate_id": "exit"}', '{"lane": "exit", '
                                     '"gate_id": "exit", "plate": "12", "at": "2026-01-01T00:00:00Z"}'])
def test_a_queued_file_that_is_not_a_read_is_set_aside_and_the_queue_goes_on(fake, tmp_path: Path, content):
    (tmp_path / "queue").mkdir()
    (tmp_path / "queue" / "000000000001.json").write_text(content)  # valid JSON, edited by hand
    lane = remote(tmp_path, fake.url, timeout_s=1.0)
    assert lane.decide("exit", "5555555", at=at(0)).action == "open"
    assert fake.posted == ["5555555"] and len(lane.queue) == 0
    assert [p.name for p in (tmp_path / "queue" / "rejected").iterdir()] == ["000000000001.json"]


def test_a_read_the_server_keeps_answering_oddly_is_set_aside_and_the_later_cars_decided(fake, tmp_path: Path):
    fake.odd_plates = {"1111111"}  # a decision that is not one, for this read only (a server bug)
    lane = remote(tmp_path, fake.url, timeout_s=1.0, defer_after_tries=2)
    assert lane.decide("exit", "1111111", at=at(0)).action == "review"  # queued, the gate shut
    assert lane.decide("exit", "2222222", at=at(1)).action == "review"  # behind it, in order
    assert lane.decide("exit", "3333333", at=at(2)).action == "open"  # its second odd answer set it aside
    assert [p.name for p in (tmp_path / "queue" / "deferred").iterdir()] == ["000000000001.json"]
    assert fake.posted.count("2222222") == 1 and len(lane.queue) == 0

"""Relays: the HTTP relay POSTs JSON; failures are retried and reported, never raised."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from gate.lane.relay import HttpRelay, RetryingRelay, SimulatedRelay, make_relay


@pytest.fixture
def relay_server():
    """A relay controller that fails its first request with HTTP 500, then answers 200."""
    seen: list[dict] = []
    auth: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            auth.append(self.headers.get("Authorization"))
            self.send_response(500 if len(seen) == 1 else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pulse", seen, auth
    server.shutdown()
    server.server_close()


def test_http_relay_is_retried_until_it_answers(relay_server):
    url, seen, _auth = relay_server
    relay = RetryingRelay(HttpRelay(url), tries=3, sleep=lambda s: None)
    assert relay.pulse("exit", {"plate": "1234567", "visit_id": 7}) is True
    assert len(seen) == 2 and seen[-1] == {"lane": "exit", "action": "open", "plate": "1234567", "visit_id": 7}


def test_a_relay_url_with_a_password_authenticates_and_never_logs_it(relay_server, caplog):
    url, seen, auth = relay_server
    relay = RetryingRelay(HttpRelay(url.replace("http://", "http://gate:s%40cret@")), tries=3, sleep=lambda s: None)
    assert relay.pulse("exit", {"plate": "1234567"}) is True  # the first answer is a 500, logged
    assert auth == ["Basic " + base64.b64encode(b"gate:s@cret").decode()] * 2
    assert "pulse failed" in caplog.text and "cret" not in caplog.text


@pytest.fixture
def silent_relay():
    """A relay controller that takes each request and hangs up without an answer (it may have opened)."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.close_connection = True  # no status line: the client sees the connection dropped

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pulse", seen
    server.shutdown()
    server.server_close()


def test_a_pulse_sent_and_never_answered_is_not_sent_again(silent_relay, caplog):
    url, seen = silent_relay
    sleeps: list[float] = []
    relay = RetryingRelay(HttpRelay(url), tries=3, sleep=sleeps.append)
    assert relay.pulse("exit", {"plate": "1234567", "visit_id": 7}) is False
    assert len(seen) == 1 and sleeps == []  # a second pulse could open the barrier for the car behind
    assert "may have opened, not sent again" in caplog.text and "visit=7" in caplog.text


def test_an_unreachable_relay_gives_up_without_raising(caplog):
    sleeps: list[float] = []
    relay = RetryingRelay(HttpRelay("http://127.0.0.1:9/none", timeout_s=0.5), tries=3, sleep=sleeps.append)
    assert relay.pulse("entry", {"plate": "1234567"}) is False
    assert sleeps == [0.2, 0.4]  # backoff doubles between tries
    assert "gave up after 3 tries" in caplog.text


def test_make_relay():
    assert isinstance(make_relay(None), SimulatedRelay) and isinstance(make_relay("sim"), SimulatedRelay)
    assert isinstance(make_relay("https://relay.local/open"), HttpRelay)
    with pytest.raises(ValueError):
        make_relay("gpio:17")

"""A stand-in `gate serve` on loopback for the remote lane's faults: slow, garbled, cut or redirecting answers."""
from __future__ import annotations

import http.server
import json
import socket
import threading
import time


class Fake:
    """A stand-in `gate serve`: answers every read with a decision, after ``delay_s``; ``mode`` changes the answer."""

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.mode = "ok"  # ok | garbage | truncated | redirect
        self.redirect_to = ""
        self.odd_plates: set[str] = set()  # reads answered with a decision that is not one (amount_due "n/a")
        self.failing: set[str] = set()  # reads answered with failing_code (a server bug, a full disk)
        self.failing_code = 500
        self.health = 200  # what /health answers
        self.old = False  # a server from before read ids: it refuses the field
        self.posted: list[str] = []
        self.auth: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def answer(self, code: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)

            def _common(self) -> bool:
                fake.auth.append((self.command, self.path, self.headers.get("Authorization")))
                if fake.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", fake.redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return True
                return False

            def do_GET(self) -> None:
                if self._common():
                    return
                if self.path == "/api/whoami":
                    self.answer(200, {"name": "cam", "gate": None, "lane": None})
                else:
                    self.answer(fake.health, {"status": "ok" if fake.health == 200 else "unavailable"})

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                read = json.loads(self.rfile.read(n) or b"{}")
                if self._common():
                    return
                if not isinstance(read, dict) or not {"lane", "plate", "gate_id"} <= set(read):  # as gate serve: 422
                    self.answer(422, {"detail": "Input should be a valid dictionary"})
                    return
                if self.path.endswith("/commands/claim"):
                    self.answer(200, [])
                    return
                fake.posted.append(read.get("plate"))
                if fake.old and "read_id" in read:
                    self.answer(422, {"detail": "read_id: Extra inputs are not permitted"})
                    return
                if read["plate"] in fake.failing:
                    self.answer(fake.failing_code, {"detail": "Internal Server Error" if fake.failing_code == 500
                                                    else "database: disk full"})
                    return
                time.sleep(fake.delay_s)
                if fake.mode == "garbage":  # a proxy / half-dead server: not an HTTP status line
                    self.wfile.write(b"garbage\r\n\r\n")
                    self.close_connection = True
                    return
                body = {"action": "open", "reason": "entered", "lane": read["lane"], "plate": read["plate"],
                        "gate_id": read["gate_id"], "at": read["at"], "decision_id": len(fake.posted)}
                if read["plate"] in fake.odd_plates:
                    body["amount_due"] = "n/a"
                if fake.mode == "truncated":  # the connection drops in the middle of the answer
                    data = json.dumps(body).encode()
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     + f"Content-Length: {len(data)}\r\n\r\n".encode() + data[:10])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_WR)
                    self.close_connection = True
                    return
                self.answer(200, body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nobody_listens() -> str:
    return f"http://127.0.0.1:{free_port()}"

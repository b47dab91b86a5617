"""Request body limits: an oversized upload is a 413 with one line, before it is all read.

Why a middleware: FastAPI reads and parses a JSON body or a form before the
endpoint runs, and before its token, login or CSRF check, so a limit in the
endpoint comes after the memory is spent (by anyone, logged in or not); and
it turns an error while reading into a 400. Here every path has a limit (a
small default, larger ones named by path): a declared ``Content-Length`` over
it is refused at once, and a chunked body is counted as it arrives and cut
off at the limit (the endpoint's own answer is then dropped).
"""
from __future__ import annotations

import json
from typing import Any, Awaitable, Callable, Mapping, MutableMapping

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


DEFAULT_MAX_BODY = 64 * 1024  # a login, a payment, a form: any body of a path without a limit of its own


class BodyLimit:
    """ASGI middleware: ``limits`` maps a path (``/api/reads``) to its largest body in bytes; every other
    path takes at most ``default`` bytes."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int], default: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope.get("path", ""), self.default) if scope["type"] == "http" else None
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit, declared)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to a body we cut off: replaced by the 413 below
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, limit, None)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int, size: int | None) -> None:
    what = f"{size} bytes" if size is not None else "larger than that"
    body = json.dumps({"detail": f"request body is {what}: at most {limit} bytes here"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})

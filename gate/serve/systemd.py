"""`gate serve` under systemd: READY=1 once listening, the watchdog fed from the event loop, SIGHUP reloads.

Why from the event loop: every request passes through it, so a loop that
stopped turning (a handler blocking it, a deadlock) stops the pings and
systemd restarts the server (``WatchdogSec=`` in plategate-serve.service).
READY=1 comes after the socket is bound and the ledger opened, so units
ordered after this one start against a server that answers.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

import uvicorn
from fastapi import FastAPI

from gate.notify import Notifier, State
from gate.reload import ConfigReloader


class NotifyingServer(uvicorn.Server):
    """uvicorn.Server that speaks sd_notify; ``config_path`` is reloaded into the app's ledger on SIGHUP."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, config_path: str | None = None,
                 notifier: Notifier | None = None) -> None:
        super().__init__(config)
        self.app = app
        self.config_path = config_path
        self.notifier = notifier or Notifier.from_env()
        self.reloader: ConfigReloader | None = None
        self._watchdog: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started or self.should_exit:
            return
        ledger = getattr(self.app.state, "ledger", None)
        if ledger is not None:
            self.reloader = ConfigReloader(ledger, self.config_path)
            with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals off the main thread
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._reload)
        if self.notifier.watchdog_s:
            self._watchdog = asyncio.create_task(self._feed_watchdog(self.notifier.watchdog_s / 2))
        self.notifier.ready(f"listening on {self.config.host}:{self.config.port}")

    def _reload(self) -> None:
        if self.reloader is not None:
            self.notifier.send(State.RELOADING)
            result = self.reloader.reload()
            # uvicorn's logger is the one `gate serve` prints; gate.* lines go nowhere in the server
            logging.getLogger("uvicorn.error").log(logging.INFO if result.ok else logging.ERROR, "%s", result.message)
            self.notifier.ready()

    async def _feed_watchdog(self, interval_s: float) -> None:
        while True:
            self.notifier.send(State.WATCHDOG)
            await asyncio.sleep(interval_s)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.notifier.stopping()
        if self._watchdog is not None:
            self._watchdog.cancel()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await super().shutdown(sockets)

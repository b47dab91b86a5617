"""Frame sources of a lane: cameras and recordings, read through OpenCV or an injected capture factory.

- live (camera index, rtsp/http URL): a background thread keeps only the
  latest frame, so a slow reader drops stale frames instead of building a
  backlog; a read failure reconnects with exponential backoff, forever
  unless ``give_up_after`` attempts in a row fail;
- video file or folder of images (name order): every frame in order, with
  the media clock (frame index / fps) as time, so runs are deterministic;
  ``--max-fps`` paces them instead of dropping; ``loop`` starts a recording
  again at its end (soak tests), its clock going on and each start counted
  as a reconnect.

A source that cannot be opened, gives no frame at all, or whose reconnects
give up says why in ``failure``: the process exits non-zero on it
(``RunEnd.SOURCE_FAILED``). Source names are logged through ``redact`` only.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from gate.lane.redact import redact
from lpr.image_io import ImageLoadError, load_image

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Frame:
    t: float  # stream seconds: media time for files/folders, wall seconds since start for live sources
    image: np.ndarray
    index: int
    origin: str = ""  # the file a still came from (stills mode); empty for video frames
    # decided, but never pulsed: a still tried again after its decision failed, or one waiting since before the
    # process started; its car is not the one at the barrier now (t is still when the still was first taken)
    late: bool = False


class Capture(Protocol):
    """The slice of cv2.VideoCapture the process uses (fakes in tests provide the same)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[Any], Capture]


@dataclass(frozen=True)
class SourceSpec:
    target: str | int  # what the capture factory opens
    live: bool  # a stream that can drop and come back, vs. a finite recording

    @property
    def name(self) -> str:
        """The target as it may be logged: credentials masked."""
        return redact(self.target)


def parse_source(text: str | int) -> SourceSpec:
    """'0' -> camera 0 (live); rtsp/http URL -> live; folder or file -> recording."""
    if isinstance(text, int) or (str(text).isascii() and str(text).isdigit()):  # int("²") raises
        return SourceSpec(int(text), live=True)
    if str(text).lower().startswith(LIVE_SCHEMES):
        return SourceSpec(str(text), live=True)
    path = Path(text)
    if not path.exists():
        raise FileNotFoundError(f"source {redact(repr(text))}: no such file or folder, expected a camera index, "
                                "an rtsp/http URL, a video file or a folder of images")
    return SourceSpec(str(path), live=False)


class FolderCapture:
    """A folder of images in name order, read like a video at ``fps``.

    Images are decoded by lpr.image_io.load_image, which refuses a decompression bomb (over MAX_PIXELS)
    from its header: such a file, like any unreadable one, is skipped with one log line.
    """

    def __init__(self, folder: str | Path, fps: float = 10.0) -> None:
        self.files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        self.fps = fps
        self.pos = 0

    def isOpened(self) -> bool:
        return bool(self.files)

    def read(self) -> tuple[bool, np.ndarray | None]:
        while self.pos < len(self.files):
            path = self.files[self.pos]
            self.pos += 1
            try:
                return True, load_image(path)
            except (ImageLoadError, OSError) as exc:
                log.warning("source: skipping %s", redact(exc))
        return False, None

    def get(self, prop: int) -> float:
        import cv2

        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_COUNT: float(len(self.files))}.get(prop, 0.0)

    def release(self) -> None:
        self.pos = len(self.files)


def open_capture(target: str | int) -> Capture:
    """The default factory: a folder -> FolderCapture, anything else -> cv2.VideoCapture."""
    if isinstance(target, str) and Path(target).is_dir():
        return FolderCapture(target)
    import cv2

    return cv2.VideoCapture(target)


class ReconnectingCapture:
    """Reads frames in order; on failure a live source reconnects with backoff, a recording ends.

    ``give_up_after`` (reconnect attempts) is for tests and batch jobs; a gate
    camera keeps trying forever (None).
    """

    def __init__(
        self,
        spec: SourceSpec,
        factory: CaptureFactory = open_capture,
        *,
        media_clock: bool | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        give_up_after: int | None = None,
        stop: threading.Event | None = None,
        loop: bool = False,
    ) -> None:
        self.spec = spec
        self.loop = loop and not spec.live
        self.factory = factory
        self.media_clock = (not spec.live) if media_clock is None else media_clock
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.give_up_after = give_up_after
        self.stop = stop or threading.Event()
        self.reconnects = 0
        self.failure: str | None = None  # why the source ended early, when it did
        self._cap: Capture | None = None
        self._fps = 0.0
        self._index = 0
        self._t0 = time.monotonic()

    def _open(self) -> bool:
        try:
            cap = self.factory(self.spec.target)
            if cap is not None and cap.isOpened():
                self._cap = cap
                import cv2

                self._fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
                return True
            if cap is not None:
                cap.release()
        except Exception as exc:  # noqa: BLE001 - a camera that cannot open is retried, not fatal
            log.warning("source %s: open failed: %s", self.spec.name, redact(exc))
        return False

    def _release(self) -> None:
        if self._cap is not None:
            try:
                self._cap.release()
            except Exception:  # noqa: BLE001
                pass
            self._cap = None

    def _grab(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        try:
            ok, img = self._cap.read()
        except Exception as exc:  # noqa: BLE001 - a driver error is a camera loss
            log.warning("source %s: read raised %s", self.spec.name, redact(exc))
            return None
        return img if ok and img is not None else None

    def _reconnect(self, lost: bool = True) -> bool:
        """Live only: reopen with doubling backoff until it works, we give up, or stop is set."""
        self._release()
        what = "camera lost" if lost else "cannot open"
        log.warning("source %s: %s; reconnecting", self.spec.name, what)
        delay, attempt = self.backoff_s, 0
        while not self.stop.is_set():
            if self.give_up_after is not None and attempt >= self.give_up_after:
                self.failure = f"{what}; gave up after {attempt} reconnect attempts"
                log.error("source %s: %s", self.spec.name, self.failure)
                return False
            attempt += 1
            if self._open():
                self.reconnects += 1
                log.warning("source %s: reconnected after %d attempt(s)", self.spec.name, attempt)
                return True
            if self.give_up_after is not None and attempt >= self.give_up_after:
                continue  # that was the last attempt: give up now, not after one more wait
            log.warning("source %s: reconnect attempt %d failed; next in %.1f s", self.spec.name, attempt, delay)
            self.stop.wait(delay)
            delay = min(delay * 2, self.max_backoff_s)
        return False

    def _restart(self) -> bool:
        """A looped recording at its end: open it again from the start (False: it no longer opens)."""
        self._release()
        if not self._open():
            self.failure = "cannot open again to loop"
            log.error("source %s: %s", self.spec.name, self.failure)
            return False
        self.reconnects += 1
        log.info("source %s: looped (%d)", self.spec.name, self.reconnects)
        return True

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a recording / when stopped or given up."""
        if self._cap is None and not self._open():
            if not self.spec.live:
                self.failure = "cannot open: expected a video file, a folder of images or a camera OpenCV can read"
                log.error("source %s: %s", self.spec.name, self.failure)
                return None
            if not self._reconnect(lost=self._index > 0 or self.reconnects > 0):
                return None
        while not self.stop.is_set():
            img = self._grab()
            if img is not None:
                frame = Frame(self._time(), img, self._index)
                self._index += 1
                return frame
            if not self.spec.live:  # end of the recording
                if self._index == 0:
                    self.failure = "opened, but not one frame could be read"
                    log.error("source %s: %s", self.spec.name, self.failure)
                elif self.loop and self._restart():
                    continue
                return None
            if not self._reconnect():
                return None
        return None

    def _time(self) -> float:
        if self.media_clock:
            fps = self._fps if self._fps > 0 else 10.0
            return self._index / fps
        return time.monotonic() - self._t0

    def close(self) -> None:
        self._release()


class _CaptureSource:
    """What both frame sources tell about their capture: reconnects, why it failed, its stop flag, its name."""

    def __init__(self, inner: ReconnectingCapture) -> None:
        self.inner = inner
        self.dropped = 0

    @property
    def reconnects(self) -> int:
        return self.inner.reconnects

    @property
    def failure(self) -> str | None:
        return self.inner.failure

    @property
    def stop(self) -> threading.Event:
        return self.inner.stop

    @property
    def name(self) -> str:
        return self.inner.spec.name


class LatestFrameSource(_CaptureSource):
    """Live sources: a thread reads as fast as frames come and keeps only the newest."""

    def __init__(self, inner: ReconnectingCapture) -> None:
        super().__init__(inner)
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._ended = False
        self._thread = threading.Thread(target=self._pump, name="frame-grabber", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self.inner.stop.is_set():
            frame = self.inner.read()
            with self._cond:
                if frame is None:
                    self._ended = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1  # never consumed: stale, replaced by a newer one
                self._latest = frame
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def read(self) -> Frame | None:
        with self._cond:
            while self._latest is None and not self._ended and not self.inner.stop.is_set():
                self._cond.wait(0.1)
            frame, self._latest = self._latest, None
            return frame

    def done(self, frame: Frame, ok: bool) -> None:
        """Video frames need no acknowledgement."""

    def close(self) -> None:
        self.inner.stop.set()
        self._thread.join(timeout=2.0)
        self.inner.close()


class InOrderSource(_CaptureSource):
    """Recordings (and tests): every frame, in order, from the reading thread itself."""

    def read(self) -> Frame | None:
        return self.inner.read()

    def done(self, frame: Frame, ok: bool) -> None:
        """Video frames need no acknowledgement."""

    def close(self) -> None:
        self.inner.close()


class FrameSource(Protocol):
    """What the process reads frames from: a camera or recording here, a stills folder (gate.lane.stills)."""

    dropped: int

    @property
    def reconnects(self) -> int: ...
    @property
    def failure(self) -> str | None: ...
    @property
    def stop(self) -> threading.Event: ...
    @property
    def name(self) -> str: ...
    def read(self) -> Frame | None: ...
    def done(self, frame: Frame, ok: bool) -> None:
        """``frame`` was handled; ``ok`` False when one of its decisions could not be committed."""
    def close(self) -> None: ...


def make_source(
    spec: SourceSpec,
    stop: threading.Event,
    factory: CaptureFactory = open_capture,
    drop_stale: bool | None = None,
    *,
    media_clock: bool | None = None,
    backoff_s: float = 0.5,
    give_up_after: int | None = None,
    loop: bool = False,
) -> LatestFrameSource | InOrderSource:
    """Live -> latest-frame thread; recording -> in order (``drop_stale`` overrides)."""
    inner = ReconnectingCapture(
        spec, factory, media_clock=media_clock, backoff_s=backoff_s, give_up_after=give_up_after, stop=stop,
        loop=loop,
    )
    return LatestFrameSource(inner) if (spec.live if drop_stale is None else drop_stale) else InOrderSource(inner)


"""Stills: one photo per car, as gate cameras triggered by a loop detector upload them (FTP, a folder).

Why a mode of its own: a video pass needs two agreeing reads, so a single
still never decided (50 photos of 50 cars made 8 visits, 3 right). Here each
image is one pass (``StillPasses``), decided on its best valid read; the
ledger flags a read below the policy's ``min_confidence`` for review, as it
does for any unsure read, so an unsure still never passes unnoticed.

``StillsSource`` reads a folder's images in name order. Without ``watch`` it
takes the images there at start and ends. With ``watch`` it polls every
``poll_s`` and takes a file once its size and mtime are the same on two
polls in a row, so an upload in progress is never read half written (its
mtime is not compared with our clock: FTP servers may keep the camera's).
After its decision is committed a still is moved to ``done_dir`` if given,
else left and remembered by name, size and mtime (a camera that writes
``latest.jpg`` again is a new car). A still whose decision failed (database
down) stays and is tried again on the next poll, dated when it was first
taken and never pulsed: by then its car is not the one at the barrier (a
retry once pulsed for whoever stood there minutes later). Stills already in
a watched folder at start (``done_dir`` given) are a backlog: decided, never
pulsed, for the same reason. Watching without
``done_dir``, the images already there at start are left alone: they would
otherwise be decided again on every restart.
"""
from __future__ import annotations

import itertools
import logging
import shutil
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from gate.lane.redact import redact
from gate.lane.sources import IMAGE_SUFFIXES, Frame
from gate.lane.voting import NoisePass, PassResult, ReadLike, vote
from gate.rules.votes import tally
from lpr.image_io import ImageLoadError, load_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StillsConfig:
    watch: bool = False  # keep polling for new images until stopped, vs. the images there at start
    done_dir: Path | None = None  # move each decided still here; None: leave it (and remember it)
    poll_s: float = 0.25  # between looks at a watched folder; a file is taken on its second, unchanged look


_Key = tuple[int, int]  # (size, mtime_ns): a file written again under the same name is a new still


class StillsSource:
    """A folder of stills as frames, one per car; ``done()`` moves or remembers each decided one."""

    dropped = 0
    reconnects = 0

    def __init__(
        self,
        folder: str | Path,
        config: StillsConfig = StillsConfig(),
        *,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.config = config
        self.stop = stop or threading.Event()
        self.clock = clock
        self.sleep = sleep or self.stop.wait  # wakes at once on stop
        self.failure: str | None = None
        self._t0 = clock()
        self._index = 0
        self._queue: deque[tuple[Path, _Key]] = deque()
        self._pending: dict[int, tuple[Path, _Key]] = {}  # frame index -> its file, until done()
        self._seen: dict[str, _Key] = {}  # decided (or unreadable) and left in the folder
        self._last: dict[str, _Key] = {}  # what the previous poll saw
        self._scans = 0
        self._taken: dict[str, tuple[_Key, float]] = {}  # a still read, until its decision commits: when first taken
        self._backlog: dict[str, _Key] = {}  # watching with done_dir: the stills already there at start

    @property
    def name(self) -> str:
        return redact(self.folder)

    def _list(self) -> dict[str, tuple[Path, _Key]]:
        found = {}
        try:
            entries = sorted(self.folder.iterdir())
        except OSError as exc:
            log.warning("stills %s: cannot list: %s", self.name, redact(exc))
            return {}
        for path in entries:
            if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith("."):
                continue
            try:
                st = path.stat()
            except OSError:
                continue  # gone between the listing and the look
            if path.is_file():
                found[path.name] = (path, (st.st_size, st.st_mtime_ns))
        return found

    def _scan(self) -> None:
        """Queue the stills that are ready: all at the first look (batch), else those unchanged since the last."""
        found = self._list()
        first, self._scans = self._scans == 0, self._scans + 1
        self._seen = {n: k for n, k in self._seen.items() if n in found}  # forget files that went away
        busy = {p.name for p, _ in self._queue} | {p.name for p, _ in self._pending.values()}
        if first and self.config.watch and self.config.done_dir is None:
            self._seen.update({n: k for n, (_p, k) in found.items()})
            if found:
                log.info("stills %s: %d image(s) already there are left alone (--stills-done processes a "
                         "backlog)", self.name, len(found))
        elif first and self.config.watch:
            self._backlog = {n: k for n, (_p, k) in found.items()}
            if found:
                log.info("stills %s: %d image(s) already there are decided as a backlog, never pulsed",
                         self.name, len(found))
        for n, (path, key) in found.items():
            if n in busy or self._seen.get(n) == key:
                continue
            if not self.config.watch or self._last.get(n) == key:
                self._queue.append((path, key))
        self._last = {n: k for n, (_p, k) in found.items()}

    def read(self) -> Frame | None:
        """The next still as a frame; None when a batch is done or on stop."""
        while not self.stop.is_set():
            if not self._queue:
                if self._scans and not self.config.watch:
                    if self._index == 0:
                        self.failure = "not one image in the folder could be read"
                        log.error("stills %s: %s", self.name, self.failure)
                    return None
                self._scan()
                if not self._queue:
                    if not self.config.watch:
                        self.failure = "no images in the folder"
                        log.error("stills %s: %s", self.name, self.failure)
                        return None
                    self.sleep(self.config.poll_s)
                    continue
            path, key = self._queue.popleft()
            try:
                image = load_image(path)
            except (ImageLoadError, OSError) as exc:
                log.warning("stills: skipping %s", redact(exc))
                self._seen[path.name] = key
                continue
            taken = self._taken.get(path.name)
            if taken is not None and taken[0] == key:  # tried before: its decision failed
                t, late = taken[1], True
            else:
                t, late = self.clock() - self._t0, self._backlog.get(path.name) == key
            frame = Frame(t, image, self._index, origin=str(path), late=late)
            self._taken[path.name] = (key, t)
            self._pending[self._index] = (path, key)
            self._index += 1
            return frame
        return None

    def done(self, frame: Frame, ok: bool) -> None:
        """Move (or remember) a decided still; one whose decision failed stays to be tried again."""
        path, key = self._pending.pop(frame.index, (Path(frame.origin), (0, 0)))
        if not ok:
            log.warning("stills %s: decision not committed; the still stays for another try (decided then, "
                        "never pulsed)", redact(path.name))
            return
        self._taken.pop(path.name, None)
        self._backlog.pop(path.name, None)
        if self.config.done_dir is None:
            self._seen[path.name] = key
            return
        try:
            self.config.done_dir.mkdir(parents=True, exist_ok=True)
            target = self.config.done_dir / path.name
            for n in itertools.count(1):
                if not target.exists():
                    break
                target = self.config.done_dir / f"{path.stem}_{n}{path.suffix}"
            shutil.move(str(path), str(target))
        except OSError as exc:
            log.warning("stills: could not move %s to %s: %s; left in place", redact(path.name),
                        redact(self.config.done_dir), redact(exc))
            self._seen[path.name] = key

    def close(self) -> None:
        self.stop.set()


class StillPasses:
    """Each still is a pass of one read: its best valid read (most confident, then largest plate)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.dropped: Counter[NoisePass] = Counter()  # a still with a read is always decided
        self.gap_s = 0.0  # a still's pass is decided on its only read

    def feed(self, t: float, reads: Sequence[ReadLike], image: Any = None) -> list[PassResult]:
        valid = [r for r in reads if r.valid]
        if not valid:
            return []
        best = max(valid, key=lambda r: (r.confidence, (r.box[2] - r.box[0]) * (r.box[3] - r.box[1])))
        box = (float(best.box[0]), float(best.box[1]), float(best.box[2]), float(best.box[3]))
        votes = tuple(tally([(best.text, float(best.confidence))]))
        return [PassResult(next(self._ids), vote([best]), t, t, t, best.crop, box, "still", image, votes)]

    def flush(self, t: float | None = None) -> list[PassResult]:
        return []  # every still was decided when it was read

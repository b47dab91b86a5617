"""`gate doctor`: is this box ready to run its lanes? One line per check: ok, warn, fail or skip.

Why a command of its own: a gate that cannot read, decide or open fails at
the first car, in front of a driver. Each check does what the lane will do,
once and harmlessly: open the camera and take one frame (with a timeout: an
RTSP open can hang for half a minute), build the reader and read the bundled
sample photo, write to the ledger in a transaction that is rolled back, write
and delete a file in the evidence folder, open a TCP connection to the relay
(never a pulse: that would lift the barrier). The clock and the disk only
warn. Passwords in URLs are masked in every line (gate.lane.redact).

Checks are plain functions returning a ``Check``; their parts (capture
factory, reader, clock) are injected so tests run them without a camera.
"""
from __future__ import annotations

import csv
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence
from urllib.parse import urlsplit

from gate.lane.redact import redact
from gate.rules.clock import now_utc

MIN_FREE_BYTES = 1 << 30  # warn below 1 GiB free where the ledger or the evidence live
MAX_CLOCK_SKEW_S = 2.0  # warn when this box and the database server disagree by more
CAMERA_TIMEOUT_S = 10.0
RELAY_TIMEOUT_S = 2.0


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"  # not configured here (no camera or relay given, a local ledger has no second clock)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status.value, "detail": self.detail}

    def line(self) -> str:
        return f"{self.status.value:<5} {self.name:<9} {self.detail}"


class Capture(Protocol):
    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def release(self) -> None: ...


class SampleReader(Protocol):
    def read(self, image: Any) -> Sequence[Any]: ...


@dataclass(frozen=True)
class DoctorOptions:
    """What to check: the lane's options as `gate run` takes them (None: that check is skipped)."""

    db: str | None = None
    config: str | None = None
    source: str | None = None
    relay: str | None = None
    evidence_dir: str | None = "evidence"
    models: bool = True
    camera_timeout_s: float = CAMERA_TIMEOUT_S
    relay_timeout_s: float = RELAY_TIMEOUT_S
    min_free_bytes: int = MIN_FREE_BYTES
    max_clock_skew_s: float = MAX_CLOCK_SKEW_S
    extra_paths: tuple[str, ...] = field(default_factory=tuple)  # more folders whose free space matters


def read_env_file(path: str | Path) -> dict[str, str]:
    """KEY=VALUE lines of a systemd EnvironmentFile (the lane's /etc/plategate/lane-<lane>.env)."""
    values = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def check_config(path: str | None) -> Check:
    from gate.rules.config import load_config
    from gate.rules.errors import GateError

    try:
        load_config(path)
    except GateError as exc:
        return Check("config", Status.FAIL, str(exc))
    shown = path or os.environ.get("PLATEGATE_CONFIG")
    return Check("config", Status.OK, f"{shown} loads" if shown else "no file: the default tariff and policy")


def check_camera(source: str | None, timeout_s: float = CAMERA_TIMEOUT_S,
                 factory: Callable[[Any], Capture] | None = None) -> Check:
    """Open the source and read one frame within ``timeout_s`` (on a thread: a dead RTSP camera can hang)."""
    if not source:
        return Check("camera", Status.SKIP, "no --source given")
    from gate.lane.sources import open_capture, parse_source

    try:
        spec = parse_source(source)
    except FileNotFoundError as exc:
        return Check("camera", Status.FAIL, redact(exc))
    opener: Callable[[Any], Capture] = factory or open_capture
    result: dict[str, Any] = {}

    def grab() -> None:
        t0 = time.perf_counter()
        cap = None
        try:
            cap = opener(spec.target)
            if not cap.isOpened():
                result["error"] = "cannot open"
                return
            ok, image = cap.read()
            if not ok or image is None:
                result["error"] = "opened, but gave no frame"
                return
            result["shape"], result["s"] = image.shape, time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - any driver error is the answer
            result["error"] = redact(exc)
        finally:
            if cap is not None:
                try:
                    cap.release()
                except Exception:  # noqa: BLE001
                    pass

    thread = threading.Thread(target=grab, name="doctor-camera", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        return Check("camera", Status.FAIL, f"{spec.name}: no frame within {timeout_s:g} s")
    if "error" in result:
        return Check("camera", Status.FAIL, f"{spec.name}: {result['error']}")
    h, w = result["shape"][:2]
    return Check("camera", Status.OK, f"{spec.name}: one {w}x{h} frame in {result['s']:.1f} s")


def sample_plate() -> tuple[Path, str]:
    """The bundled sample photo gate_1.jpg and its plate (from lpr/samples/labels.csv)."""
    from lpr.config import PACKAGE_DIR

    folder = PACKAGE_DIR / "samples"
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["image"] == "gate_1.jpg")
    return folder / "images" / row["image"], row["plate"]


def check_models(reader_factory: Callable[[], SampleReader] | None = None) -> Check:
    """The weights are there, the reader builds, and it reads the sample photo's plate."""
    from lpr.config import DETECTOR_ONNX, OCR_ONNX
    from lpr.plate_format import format_plate

    missing = [p.name for p in (DETECTOR_ONNX, OCR_ONNX) if not p.is_file() or p.stat().st_size == 0]
    if missing and reader_factory is None:
        return Check("models", Status.FAIL, f"missing in {DETECTOR_ONNX.parent}: {', '.join(missing)}")
    try:
        image, plate = sample_plate()
        t0 = time.perf_counter()
        if reader_factory is None:
            from lpr import Reader

            reader: SampleReader = Reader(threads=2)
        else:
            reader = reader_factory()
        t1 = time.perf_counter()
        from lpr.image_io import load_image

        reads = [r for r in reader.read(load_image(image)) if r.valid]
        t2 = time.perf_counter()
    except Exception as exc:  # noqa: BLE001 - a broken model file, a missing runtime: one line
        return Check("models", Status.FAIL, f"reader does not load or read: {type(exc).__name__}: {exc}")
    got = reads[0].text if reads else None
    if got != plate:
        return Check("models", Status.FAIL, f"{image.name}: read {format_plate(got) if got else 'nothing'}, "
                                            f"expected {format_plate(plate)}")
    return Check("models", Status.OK, f"reader built in {t1 - t0:.1f} s; {image.name} read as "
                                      f"{format_plate(plate)} in {(t2 - t1) * 1e3:.0f} ms")


def check_database(db: str | None, now: Callable[[], datetime] = now_utc,
                   max_skew_s: float = MAX_CLOCK_SKEW_S) -> list[Check]:
    """The ledger at this code's schema and writable (a write rolled back); the server's clock on PostgreSQL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from gate.rules.errors import GateError
    from gate.store import db as store_db
    from gate.store import schema

    try:
        url = make_url(store_db.resolve_url(db))
        shown = url.render_as_string(hide_password=True)
        if url.get_backend_name() == "sqlite" and url.database and not _sqlite_path(url.database).exists():
            return [Check("database", Status.FAIL, f"{shown}: no such file (run `gate db upgrade` to create it)"),
                    Check("clock", Status.SKIP, "no database")]
        engine = store_db.make_engine(db)
    except GateError as exc:
        return [Check("database", Status.FAIL, str(exc)), Check("clock", Status.SKIP, "no database")]
    except Exception as exc:  # noqa: BLE001 - make_url on garbage
        return [Check("database", Status.FAIL, f"invalid database URL: {_first_line(exc)}"),
                Check("clock", Status.SKIP, "no database")]
    try:
        revision = schema.current_revision(engine)
        if revision != schema.HEAD:
            fix = "update plategate" if revision and revision not in schema.REVISIONS else "run `gate db upgrade`"
            return [Check("database", Status.FAIL, f"{shown}: schema {revision or 'none'}, this code's is "
                                                   f"{schema.HEAD}: {fix}"), _clock(engine, now, max_skew_s)]
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            finally:
                trans.rollback()
        return [Check("database", Status.OK, f"{shown}: schema {revision}, writable"),
                _clock(engine, now, max_skew_s)]
    except Exception as exc:  # noqa: BLE001 - read-only, locked, down: the driver's first line
        return [Check("database", Status.FAIL, f"{shown}: {_first_line(getattr(exc, 'orig', None) or exc)}"),
                Check("clock", Status.SKIP, "database unreachable")]
    finally:
        engine.dispose()


def _clock(engine: Any, now: Callable[[], datetime], max_skew_s: float) -> Check:
    """PostgreSQL: this box's clock against the server's now() (decision times come from this box)."""
    if engine.dialect.name != "postgresql":
        return Check("clock", Status.SKIP, "the ledger is a local file: no second clock to compare with")
    from sqlalchemy import text

    try:
        with engine.connect() as conn:
            before = now()
            server = conn.execute(text("SELECT now()")).scalar_one()
            after = now()
    except Exception as exc:  # noqa: BLE001
        return Check("clock", Status.WARN, f"cannot ask the database server's time: {_first_line(exc)}")
    skew = (server - (before + (after - before) / 2)).total_seconds()
    status = Status.OK if abs(skew) <= max_skew_s else Status.WARN
    return Check("clock", status, f"this box is {-skew:+.2f} s from the database server"
                                  + ("" if status is Status.OK else f" (more than {max_skew_s:g} s: check NTP)"))


def check_evidence(folder: str | None) -> Check:
    """The evidence folder exists (or can be made) and takes a file; nothing is left behind."""
    if not folder:
        return Check("evidence", Status.SKIP, "no evidence folder (--evidence-dir '')")
    path = Path(folder)
    if not path.exists():
        parent = _existing_parent(path)
        if os.access(parent, os.W_OK | os.X_OK):
            return Check("evidence", Status.OK, f"{path}: not there yet; gate run will create it in {parent}")
        return Check("evidence", Status.FAIL, f"{path}: missing, and {parent} is not writable")
    if not path.is_dir():
        return Check("evidence", Status.FAIL, f"{path}: not a folder")
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-", suffix=".tmp") as f:
            f.write(b"plategate doctor")
            f.flush()
    except OSError as exc:
        return Check("evidence", Status.FAIL, f"{path}: cannot write ({exc.strerror or exc})")
    return Check("evidence", Status.OK, f"{path}: writable")


def check_relay(relay: str | None, timeout_s: float = RELAY_TIMEOUT_S) -> Check:
    """A TCP connection to the relay controller; it is never pulsed (that would open the barrier)."""
    if not relay or relay == "sim":
        return Check("relay", Status.SKIP, "simulated relay (no --relay URL)")
    shown = redact(relay)
    parts = urlsplit(relay)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Check("relay", Status.FAIL, f"{shown}: expected 'sim' or an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return Check("relay", Status.FAIL, f"{shown}: bad port")
    t0 = time.perf_counter()
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        return Check("relay", Status.FAIL, f"{shown}: cannot connect ({exc.strerror or exc})")
    return Check("relay", Status.OK, f"{shown}: accepts connections ({(time.perf_counter() - t0) * 1e3:.0f} ms; "
                                     "not pulsed)")


def check_disk(paths: Sequence[str | Path], min_free_bytes: int = MIN_FREE_BYTES) -> Check:
    """Free space where the ledger and the evidence are written (warn only: the gate runs until it is full)."""
    frees: dict[Path, int] = {}
    for p in paths:
        folder = _existing_parent(Path(p))
        frees[folder] = shutil.disk_usage(folder).free
    if not frees:
        return Check("disk", Status.SKIP, "no folder to look at")
    low = {p: f for p, f in frees.items() if f < min_free_bytes}
    text = ", ".join(f"{p}: {f / 2**30:.1f} GB free" for p, f in frees.items())
    if low:
        return Check("disk", Status.WARN, f"{text} (under {min_free_bytes / 2**30:g} GB)")
    return Check("disk", Status.OK, text)


def run_checks(options: DoctorOptions, *, camera_factory: Callable[[Any], Capture] | None = None,
               reader_factory: Callable[[], SampleReader] | None = None,
               now: Callable[[], datetime] = now_utc) -> list[Check]:
    """Every check, in the order a lane needs them."""
    checks = [check_config(options.config)]
    checks += check_database(options.db, now, options.max_clock_skew_s)
    checks.append(_guarded("evidence", lambda: check_evidence(options.evidence_dir)))
    checks.append(check_models(reader_factory) if options.models else Check("models", Status.SKIP, "--no-models"))
    checks.append(_guarded("camera", lambda: check_camera(options.source, options.camera_timeout_s, camera_factory)))
    checks.append(check_relay(options.relay, options.relay_timeout_s))
    checks.append(_guarded("disk", lambda: check_disk(_disk_paths(options), options.min_free_bytes)))
    return checks


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """A check whose files the caller may not even look at (a folder of another user's): a fail, not a traceback."""
    try:
        return check()
    except OSError as exc:
        where = f"{redact(str(exc.filename))}: " if exc.filename else ""
        return Check(name, Status.FAIL, f"{where}{exc.strerror or exc}")


def _disk_paths(options: DoctorOptions) -> list[Path]:
    from sqlalchemy.engine import make_url

    from gate.store import db as store_db

    paths = [Path(p) for p in options.extra_paths]
    if options.evidence_dir:
        paths.append(Path(options.evidence_dir))
    try:
        url = make_url(store_db.resolve_url(options.db))
        if url.get_backend_name() == "sqlite" and url.database:
            paths.append(_sqlite_path(url.database).parent)
    except Exception:  # noqa: BLE001 - the database check already said what is wrong with it
        pass
    return paths


def failed(checks: Sequence[Check]) -> bool:
    return any(c.status is Status.FAIL for c in checks)


def _sqlite_path(database: str) -> Path:
    """The file of a SQLite URL's database part, a URI filename ("file:/x.db?mode=ro") included."""
    return Path(database.removeprefix("file:").split("?", 1)[0])


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _first_line(exc: object) -> str:
    lines = str(exc).strip().splitlines()
    return redact(lines[0]) if lines else type(exc).__name__

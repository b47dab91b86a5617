"""`gate` command line: a thin shell over gate.store.ledger.Ledger, JSON on stdout.

Every command takes ``--db URL`` (else $PLATEGATE_DB, else ./plategate.db) and
``--config PATH`` (else $PLATEGATE_CONFIG, else the default tariff/policy).
Errors are one line on stderr: exit 2 for bad input (plate, time, id, text
length, option, database URL, a schema version that is not this code's), exit
1 for a refused operation (no open visit, clock went back), a bad config file,
or a database that is locked, read-only, full or broken (nothing is written).
``--at``, ``--since`` and ``--until`` take ISO 8601; a time without offset is the lot's
local time (the config's ``timezone``, default Asia/Jerusalem), and tables, CSV and
reports show local time; JSON keeps UTC.

Imports are lazy: ``gate --help`` loads neither SQLAlchemy nor the reader, and
only ``gate db upgrade`` (or a first start on an empty database) loads Alembic.
"""
from __future__ import annotations

import enum
import json
import logging
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer

from gate.rules.codes import Lane, ListKind, Role
from gate.rules.errors import GateError, InvalidInput

if TYPE_CHECKING:
    from gate.store.ledger import Ledger

# the commands print their own one-line errors; the library's log lines are for `gate run` (which logs to stderr)
logging.getLogger("gate").addHandler(logging.NullHandler())

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Parking gate ledger: entry/exit decisions, payments, admin queries.",
)
override_app = typer.Typer(no_args_is_help=True, help="Operator actions, always recorded with who and why.")
plates_app = typer.Typer(no_args_is_help=True, help="Allow list (subscribers) and deny list.")
db_app = typer.Typer(no_args_is_help=True, help="The ledger database: schema version and migration.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens of `gate serve`: one role each, stored hashed.")
report_app = typer.Typer(no_args_is_help=True, help="Reports for the office, in the lot's local days.")
user_app = typer.Typer(no_args_is_help=True, help="Accounts of the web page: viewer or operator, scrypt-hashed.")
app.add_typer(override_app, name="override")
app.add_typer(plates_app, name="plates")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(report_app, name="report")
app.add_typer(user_app, name="user")
evidence_app = typer.Typer(no_args_is_help=True, help="Decision images: retention where no `gate run` keeps them.")
app.add_typer(evidence_app, name="evidence")


class Format(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


DbOpt = Annotated[
    Optional[str], typer.Option("--db", help="SQLAlchemy URL or SQLite file; default $PLATEGATE_DB or ./plategate.db")
]
ConfigOpt = Annotated[
    Optional[str], typer.Option("--config", help="tariff/policy TOML or JSON; default $PLATEGATE_CONFIG")
]
AtOpt = Annotated[Optional[str], typer.Option("--at", help="ISO 8601 time; no offset = local time; default now")]
OperatorOpt = Annotated[str, typer.Option("--operator", help="who is acting")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="why")]
VisitOpt = Annotated[Optional[int], typer.Option("--visit", help="visit id")]
PlateFilterOpt = Annotated[Optional[str], typer.Option("--plate")]
PlateOpt = Annotated[str, typer.Option("--plate", help="digits, with or without dashes")]
ListOpt = Annotated[ListKind, typer.Option("--list", help="allow or deny")]
LaneOpt = Annotated[Lane, typer.Option("--lane", help="entry or exit")]


class _BadInput(Exception):
    """Invalid user input: exit code 2."""


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _exit_code(exc: Exception) -> int | None:
    """2 for bad input, 1 for a refused operation or a failed database, None: not ours (a bug)."""
    plate_format = sys.modules.get("lpr.plate_format")  # loaded by whatever raised its error
    if isinstance(exc, (InvalidInput, _BadInput)) or (
        plate_format is not None and isinstance(exc, plate_format.PlateFormatError)
    ):
        return 2
    if isinstance(exc, GateError):
        return 1
    sa_exc, sqlite3 = sys.modules.get("sqlalchemy.exc"), sys.modules.get("sqlite3")
    if (sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError)) or (
        sqlite3 is not None and isinstance(exc, sqlite3.Error)
    ):
        return 1  # a safety net: the ledger already turns these into LedgerUnavailable
    return None


@contextmanager
def _errors() -> Iterator[None]:
    """Domain exceptions -> one line on stderr and an exit code."""
    try:
        yield
    except Exception as exc:
        code = _exit_code(exc)
        if code is None:
            raise
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        _fail(message[0] if code == 2 or isinstance(exc, GateError) else f"database: {message[0]}", code)


@contextmanager
def _ledger(db: str | None, config: str | None) -> Iterator["Ledger"]:
    with _errors():
        from gate.store.ledger import Ledger

        ledger = Ledger.open(db, config=config)
        try:
            yield ledger
        finally:
            ledger.close()


def _time(value: str | None) -> datetime | None:
    """ISO 8601 from the command line, naive when typed without an offset: the ledger reads that as
    the lot's local time and checks it against the policy's time window."""
    if value is None:
        return None
    from gate.rules.clock import parse_iso

    return parse_iso(value)


def _emit(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False))


@app.command()
def read(
    lane: LaneOpt,
    plate: PlateOpt,
    at: AtOpt = None,
    confidence: Annotated[Optional[float], typer.Option("--confidence", min=0.0, max=1.0)] = None,
    gate: Annotated[Optional[str], typer.Option("--gate", help="the gate id (default: the lane name)")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """A plate read at a lane (the attendant's manual entry): decide and print the decision."""
    with _ledger(db, config) as ledger:
        decision = ledger.decide(lane, plate, at=_time(at), confidence=confidence, gate=gate)
        _emit(decision.to_dict())


@app.command()
def pay(
    plate: PlateOpt,
    at: AtOpt = None,
    payment_id: Annotated[
        Optional[str], typer.Option("--payment-id", help="idempotency key; replays change nothing")
    ] = None,
    visit: Annotated[
        Optional[int],
        typer.Option("--visit", help="a candidate's visit id from `gate quote` (the entry misread the plate)"),
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Pay the open visit's fee at the pay station (or, with --visit, the chosen candidate's: flagged for review)."""
    with _ledger(db, config) as ledger:
        _emit(ledger.pay(plate, at=_time(at), payment_id=payment_id, visit_id=visit).to_dict())


@app.command()
def quote(
    plate: PlateOpt,
    at: AtOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """What the plate owes at an exit now (or --at); with no open visit of that plate, the near plates' visits."""
    with _ledger(db, config) as ledger:
        _emit(ledger.quote(plate, at=_time(at)).to_dict())


FormatOpt = Annotated[Format, typer.Option("--format", help="json (UTC), or table / csv in the lot's local time")]
SinceOpt = Annotated[
    Optional[str], typer.Option("--since", help="ISO 8601; no offset = the lot's local time")
]
VISIT_COLUMNS = ["visit_id", "plate", "entry_at", "exit_at", "state", "fee", "paid", "flagged", "close_reason",
                 "entry_gate", "exit_gate"]
DECISION_COLUMNS = ["decision_id", "at", "lane", "gate", "plate", "action", "reason", "visit_id", "amount_due",
                    "flagged", "votes"]
PAYMENT_COLUMNS = ["id", "payment_id", "visit_id", "plate", "typed_plate", "amount", "fee", "paid_at"]
REVIEW_COLUMNS = ["id", "kind", "plate", "visit_id", "decision_id", "reason", "created_at", "resolved_at",
                  "resolved_by"]
LIST_COLUMNS = ["plate", "list", "holder", "note", "added_at", "expires_at"]


@app.command()
def visits(
    plate: PlateFilterOpt = None,
    plate_contains: Annotated[
        Optional[str], typer.Option("--plate-contains", help="3 to 8 digits anywhere in the plate")
    ] = None,
    inside: Annotated[bool, typer.Option("--inside", help="only open visits")] = False,
    since: Annotated[Optional[str], typer.Option("--since", help="visits still inside at or after this time")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="visits entered at or before this time")] = None,
    unpaid: Annotated[bool, typer.Option("--unpaid", help="not waived, and nothing paid or less than the fee")] = (
        False
    ),
    flagged: Annotated[bool, typer.Option("--flagged", help="only visits flagged for review")] = False,
    limit: Annotated[
        Optional[int], typer.Option("--limit", min=1, max=10_000, help="one page of this many (default: all)")
    ] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="with --limit: skip this many first")] = 0,
    fmt: FormatOpt = Format.JSON,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Entry/exit log: visits overlapping [--since, --until], oldest entry first."""
    with _ledger(db, config) as ledger:
        filters: dict[str, Any] = dict(plate=plate, inside=inside, since=_time(since), until=_time(until),
                                       plate_contains=plate_contains, unpaid=unpaid, flagged=flagged)
        if limit is None:
            rows = ledger.visits(**filters)
        else:  # the page is cut in SQL: a ledger of millions is not read to print a hundred
            rows = ledger.visit_page(ledger.visit_filter(**filters), limit, offset).visits
        _print_rows([v.to_dict() for v in rows], fmt, VISIT_COLUMNS, ledger.timezone)


@app.command()
def decisions(
    lane: Annotated[Optional[Lane], typer.Option("--lane", help="entry or exit")] = None,
    gate: Annotated[Optional[str], typer.Option("--gate", help="a gate id, e.g. north-exit")] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="open, deny or review")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="e.g. unpaid, no-open-visit, deny-listed")] = None,
    plate: PlateFilterOpt = None,
    since: Annotated[Optional[str], typer.Option("--since", help="decided at or after; no offset = local time")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="decided at or before")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="at most this many rows")] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help="skip this many rows first")] = 0,
    fmt: FormatOpt = Format.TABLE,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The decision log, newest first: denials and unpaid exits too (they change no visit)."""
    with _ledger(db, config) as ledger:
        from gate.store.decision_log import DecisionFilter, list_decisions

        where = DecisionFilter(lane=lane, gate=gate, action=action, reason=reason, plate=plate, since=_time(since),
                               until=_time(until))
        page = list_decisions(ledger, where, limit, offset)
        rows = [d.to_dict() for d in page.decisions]
        if fmt is not Format.JSON:
            from lpr.plate_format import format_plate

            shown = format_plate if fmt is Format.TABLE else str  # plates as the other cells show them
            for row in rows:  # one cell: the votes as "12-345-67 x9, 12-345-61 x1"
                row["votes"] = ", ".join(f"{shown(v['plate'])} x{v['frames']}" for v in row["votes"] or [])
        _print_rows(rows, fmt, DECISION_COLUMNS, ledger.timezone)


@app.command()
def payments(
    since: SinceOpt = None,
    until: Annotated[Optional[str], typer.Option("--until", help="before this time; no offset = local time")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="at most this many rows")] = 10_000,
    offset: Annotated[int, typer.Option("--offset", min=0, help="skip this many rows first")] = 0,
    fmt: FormatOpt = Format.TABLE,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Payments made in [--since, --until), oldest first, with their count and sum (what was really paid)."""
    with _ledger(db, config) as ledger:
        page = ledger.payments(_time(since), _time(until), limit, offset)
        rows = [p.to_dict() for p in page.payments]
        if fmt is Format.JSON:
            from gate.rules.money import json_amount

            _emit({"payments": rows, "total": page.total, "total_amount": json_amount(page.total_amount_agorot),
                   "currency": ledger.tariff.currency, "next_offset": page.next_offset})
            return
        _print_rows(rows, fmt, PAYMENT_COLUMNS, ledger.timezone)
        if fmt is Format.TABLE:
            from gate.rules.money import to_shekels

            typer.echo(f"{page.total} payments, {to_shekels(page.total_amount_agorot)} {ledger.tariff.currency}"
                       + (f" (this page: {len(rows)} from {offset})" if len(rows) < page.total else ""))


@report_app.command("revenue")
def report_revenue(
    first: Annotated[Optional[str], typer.Option(
        "--from", help="first local day YYYY-MM-DD; default today (--by month: this month's first)")] = None,
    last: Annotated[Optional[str], typer.Option(
        "--to", help="last local day, included; default --from (--by month: the end of its month)")] = None,
    by: Annotated[str, typer.Option("--by", help="day or month")] = "day",
    fmt: FormatOpt = Format.TABLE,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revenue per local day (or month) from the payments table, in the lot's time zone."""
    from gate.rules.clock import parse_day

    with _ledger(db, config) as ledger:
        days = ledger.report_range(parse_day(first) if first else None, parse_day(last) if last else None, by)
        rows = [r.to_dict() for r in ledger.revenue(*days, by)]
        if fmt is Format.JSON:  # a month row counts only its days in from..to: the range says which
            _emit({"from": days[0].isoformat(), "to": days[1].isoformat(), "by": by, "timezone": ledger.timezone.key,
                   "currency": ledger.tariff.currency, "rows": rows})
            return
        _print_rows(rows, fmt, ["period", "payments", "amount"], ledger.timezone)
        if fmt is Format.TABLE:
            total = sum(r["payments"] for r in rows), sum(r["amount"] for r in rows)
            typer.echo(f"{total[0]} payments, {total[1]:.2f} {ledger.tariff.currency} "
                       f"({days[0].isoformat()} to {days[1].isoformat()}, {ledger.timezone.key} days)")


def _print_rows(rows: list[dict[str, Any]], fmt: Format, columns: list[str], tz: "tzinfo") -> None:
    """JSON as the records give it (UTC); CSV and tables in the lot's local time (gate.report)."""
    if fmt is Format.JSON:
        _emit(rows)
        return
    from gate import report

    if fmt is Format.CSV:
        sys.stdout.write(report.csv_text(columns, rows, tz))
        return
    typer.echo(report.text_table(columns, rows, tz))


@app.command()
def review(
    resolve: Annotated[Optional[int], typer.Option("--resolve", help="mark this item handled")] = None,
    operator: Annotated[Optional[str], typer.Option("--operator")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason")] = None,
    action: Annotated[
        Optional[str], typer.Option("--action", help="with --resolve: confirm, reassign (with --visit), open (the "
                                    "decision's gate, by hand) or waive; as POST /api/review/{id}/resolve")
    ] = None,
    visit: VisitOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="include resolved items")] = False,
    fmt: FormatOpt = Format.JSON,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The review queue: unmatched exits, fuzzy matches, stale visits, overstays."""
    with _ledger(db, config) as ledger:
        if (action is not None or visit is not None) and resolve is None:
            raise _BadInput(f"{'--action' if action is not None else '--visit'}: expected together with --resolve")
        if resolve is not None and action is not None:
            from gate.store.review import Operations

            done = Operations(ledger).resolve(resolve, operator or "", action, reason or "", visit_id=visit)
            _emit(done.to_dict())
            return
        if resolve is not None:
            if visit is not None:
                raise _BadInput("--visit: expected with --action reassign")
            ledger.resolve_review(resolve, operator or "", reason or "")
            _emit({"resolved": resolve})
            return
        rows = [item.to_dict() for item in ledger.review_queue(include_resolved=show_all)]
        _print_rows(rows, fmt, REVIEW_COLUMNS, ledger.timezone)


@app.command()
def tariff(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Show the active tariff, policy and time zone (defaults unless --config / $PLATEGATE_CONFIG)."""
    from gate.rules.config import load_settings

    with _errors():
        settings = load_settings(config)
    _emit({"tariff": settings.tariff.describe(), "policy": settings.policy.describe(),
           "timezone": settings.timezone.key})


class DoctorFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command()
def doctor(
    source: Annotated[
        Optional[str], typer.Option("--source", help="the lane's camera: index, URL, video file or folder")
    ] = None,
    relay: Annotated[
        Optional[str], typer.Option("--relay", help="the lane's relay URL (connected to, never pulsed)")
    ] = None,
    evidence_dir: Annotated[str, typer.Option("--evidence-dir", help="the lanes' evidence folder")] = "evidence",
    lane_env: Annotated[
        Optional[str], typer.Option("--lane-env", help="take PLATEGATE_SOURCE and PLATEGATE_RELAY (and PLATEGATE_DB, "
                                    "PLATEGATE_CONFIG where it sets them) from a lane's env file "
                                    "(/etc/plategate/lane-entry.env)")
    ] = None,
    camera_timeout: Annotated[
        float, typer.Option("--camera-timeout", min=0.1, help="seconds to wait for the camera's first frame")
    ] = 10.0,
    models: Annotated[bool, typer.Option("--models/--no-models", help="load the reader and read the sample")] = True,
    fmt: Annotated[DoctorFormat, typer.Option("--format")] = DoctorFormat.TEXT,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Check this box: config, database (schema, writable), clock, evidence folder, models, camera, relay, disk.

    One line per check (ok, warn, fail, skip); exit 0 when nothing failed, 1 otherwise.
    """
    from gate import doctor as dr

    if lane_env is not None:
        try:
            env = dr.read_env_file(lane_env)
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"lane env {lane_env}: cannot read ({getattr(exc, 'strerror', None) or exc})", 2)
        source, relay = source or env.get("PLATEGATE_SOURCE") or env.get("SOURCE"), (
            relay or env.get("PLATEGATE_RELAY") or env.get("RELAY"))
        db, config = db or env.get("PLATEGATE_DB"), config or env.get("PLATEGATE_CONFIG")  # where a file sets them
    options = dr.DoctorOptions(db=db, config=config, source=source, relay=relay, evidence_dir=evidence_dir,
                               models=models, camera_timeout_s=camera_timeout)
    checks = dr.run_checks(options)
    if fmt is DoctorFormat.JSON:
        _emit({"ok": not dr.failed(checks), "checks": [c.to_dict() for c in checks]})
    else:
        typer.echo("\n".join(c.line() for c in checks))
    if dr.failed(checks):
        raise typer.Exit(1)


@override_app.command("open")
def override_open(
    plate: PlateOpt,
    operator: OperatorOpt,
    reason: ReasonOpt,
    at: AtOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Open a visit by hand (the car is inside but no entry was read)."""
    with _ledger(db, config) as ledger:
        _emit(ledger.override_open(plate, operator, reason, at=_time(at)).to_dict())


@override_app.command("close")
def override_close(
    operator: OperatorOpt,
    reason: ReasonOpt,
    visit: VisitOpt = None,
    plate: PlateFilterOpt = None,
    at: AtOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Close an open visit by hand (the car left; its fee is recorded)."""
    with _ledger(db, config) as ledger:
        _emit(ledger.override_close(operator, reason, visit_id=visit, plate=plate, at=_time(at)).to_dict())


@override_app.command("waive")
def override_waive(
    operator: OperatorOpt,
    reason: ReasonOpt,
    visit: VisitOpt = None,
    plate: PlateFilterOpt = None,
    at: AtOpt = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Waive an open visit's fee: it may leave without paying."""
    with _ledger(db, config) as ledger:
        _emit(ledger.waive(operator, reason, visit_id=visit, plate=plate, at=_time(at)).to_dict())


@plates_app.command("add")
def plates_add(
    plate: PlateOpt,
    kind: ListOpt,
    note: Annotated[Optional[str], typer.Option("--note", help="free text ('' clears it)")] = None,
    holder: Annotated[
        Optional[str], typer.Option("--holder", help="whose plate, at most 100 characters ('' clears it)")
    ] = None,
    expires: Annotated[
        Optional[str],
        typer.Option("--expires", help="the last local day it applies (YYYY-MM-DD), or a time ('' clears it)"),
    ] = None,
    operator: Annotated[
        Optional[str], typer.Option("--operator", help="who is acting, for the audit log (default: the login name)")
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Put a plate on the allow or deny list, or change its entry there: only the options given change (renewing
    a lapsed subscriber is adding it again with a new --expires). Recorded in the overrides log, as the API's PUT."""
    from gate.store.plate_lists import KEEP, PlateLists
    from gate.store.plate_lists_csv import parse_expiry

    with _ledger(db, config) as ledger:
        stored, _ = PlateLists(ledger).edit(
            plate, kind, operator or _login_name(),
            holder=KEEP if holder is None else holder, note=KEEP if note is None else note,
            expires_at=KEEP if expires is None else parse_expiry(expires, ledger.timezone))
        if not stored.applies():
            typer.echo(f"warning: {stored.kind} entry {stored.plate} expired at {stored.expires_at}; give --expires "
                       "to renew it", err=True)
        _emit(ledger.plate_lists())


@plates_app.command("remove")
def plates_remove(
    plate: PlateOpt,
    kind: ListOpt,
    operator: Annotated[
        Optional[str], typer.Option("--operator", help="who is acting, for the audit log (default: the login name)")
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Take a plate off the allow or deny list (recorded in the overrides log, as the API's DELETE)."""
    from gate.store.plate_lists import PlateLists

    with _ledger(db, config) as ledger:
        _emit({"removed": PlateLists(ledger).remove(plate, kind, operator or _login_name()) is not None})


@plates_app.command("show")
def plates_show(fmt: FormatOpt = Format.JSON, db: DbOpt = None, config: ConfigOpt = None) -> None:
    """List allow- and deny-listed plates."""
    with _ledger(db, config) as ledger:
        _print_rows(ledger.plate_lists(), fmt, LIST_COLUMNS, ledger.timezone)


@plates_app.command("import")
def plates_import(
    file: Annotated[str, typer.Argument(help="a CSV with the header plate,kind,holder,note,expires_at; - for stdin")],
    operator: Annotated[
        Optional[str], typer.Option("--operator", help="who is acting, for the audit log (default: the login name)")
    ] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Add or edit list entries from a CSV (what `gate plates export` and GET /api/lists/export write), all or
    nothing: a bad row is named by its line, column and value, and nothing is written. A day as expires_at
    applies through that local day; a time without an offset is local."""
    from gate.store.plate_lists import PlateLists
    from gate.store.plate_lists_csv import MAX_BYTES, read_csv

    with _ledger(db, config) as ledger:  # its errors are one line and an exit code, the file's too
        try:
            raw = sys.stdin.buffer.read(MAX_BYTES + 1) if file == "-" else Path(file).read_bytes()
            text = raw.decode("utf-8-sig")
        except OSError as exc:
            raise _BadInput(f"{file}: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise _BadInput(f"{file}: not UTF-8 text (byte {exc.start})") from None
        if len(raw) > MAX_BYTES:
            raise _BadInput(f"{file}: over {MAX_BYTES} bytes: split it")
        entries = read_csv(text, ledger.timezone)
        _emit({"imported": PlateLists(ledger).import_entries(entries, operator or _login_name())})


@plates_app.command("export")
def plates_export(
    fmt: Annotated[Format, typer.Option("--format", help="csv (what `gate plates import` reads), json or table")] = (
        Format.CSV
    ),
    kind: Annotated[Optional[ListKind], typer.Option("--list", help="one list only: allow or deny")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Both lists with holder, note and expiry: plate,kind,holder,note,expires_at, expiry in local time."""
    from gate.store.plate_lists import PlateLists
    from gate.store.plate_lists_csv import HEADER, write_csv

    with _ledger(db, config) as ledger:
        entries = PlateLists(ledger).entries(kind)
        if fmt is Format.CSV:
            sys.stdout.write(write_csv(entries, ledger.timezone))
        else:
            _print_rows([e.to_dict() for e in entries], fmt, list(HEADER) + ["added_at"], ledger.timezone)


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no such user (a container's uid)
        return "cli"


@evidence_app.command("purge")
def evidence_purge(
    days: Annotated[float, typer.Option("--days", min=0.0, help="delete images older than this many days")],
    evidence_dir: Annotated[str, typer.Option("--evidence-dir", help="the folder gate serve keeps them in")] = (
        "evidence"
    ),
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Delete the gate's own evidence images older than --days and mark them expired (gate serve's uploads; a
    `gate run --retention-days` does this for its own). Other files in the folder are never touched."""
    from gate.lane.evidence import EvidenceStore

    with _ledger(db, config) as ledger:
        folder = Path(evidence_dir)
        if not folder.is_dir():
            raise _BadInput(f"--evidence-dir {evidence_dir!r}: no such folder")
        removed = EvidenceStore(folder, expire=ledger.expire_evidence).purge(days)
        _emit({"removed": removed})


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Migrate the database to this code's schema (the only command that does, besides a first start)."""
    with _errors():
        from gate.store.ledger import Ledger

        before, after = Ledger.upgrade_schema(db)
    _emit({"before": before, "after": after, "migrated": before != after})


@db_app.command("version")
def db_version(db: DbOpt = None) -> None:
    """The database's schema version and this code's; reads only, takes no lock."""
    with _errors():
        from gate.store import db as store_db
        from gate.store import schema

        engine = store_db.make_engine(db)
        try:
            current = schema.current_revision(engine)
        finally:
            engine.dispose()
    _emit({"database": current, "code": schema.HEAD, "up_to_date": current == schema.HEAD})


@dataclass(frozen=True)
class _Remote:
    """`gate run`'s options for a lane that decides through `gate serve` (url None: through --db)."""

    url: str | None
    token: str | None
    state_dir: Path
    open_entry_offline: bool
    timeout_s: float
    evidence_dir: Path


@contextmanager
def _lane_ledger(db: str | None, config: str | None, remote: _Remote, gate: str,
                 lane: Lane) -> Iterator[tuple[Any, Any, Any]]:
    """(ledger, its gate-command claim, the local Ledger or None): the database, or the server and its queue."""
    if remote.url is None:
        with _errors():  # a token alone is ignored: $PLATEGATE_TOKEN may be set for other commands
            if remote.open_entry_offline:
                raise _BadInput("--open-entry-offline: expected together with --ledger-url")
        with _ledger(db, config) as ledger:
            from gate.store.commands import GateCommands

            yield ledger, GateCommands(ledger).claim, ledger
        return
    with _errors():
        from gate.lane.redact import redact
        from gate.lane.remote import ReadQueue, RemoteLedger
        from gate.rules.votes import gate_id

        if db is not None:
            raise _BadInput("--db and --ledger-url: give one (a remote lane opens no database)")
        try:
            queue = ReadQueue(remote.state_dir / gate_id(gate) / "queue")
            server = RemoteLedger(remote.url, remote.token or "", queue, evidence_root=remote.evidence_dir,
                                  open_entry_offline=remote.open_entry_offline, timeout_s=remote.timeout_s)
            server.check_token(gate_id(gate), lane)
        except ValueError as exc:
            raise _BadInput(redact(exc)) from None
        server.start()
        try:
            yield server, server.claim_commands, None
        finally:
            server.close()


def _hold_reloads() -> list[int]:
    """SIGHUP while the lane starts (the reader takes seconds to load): remembered, not fatal. Its default action
    ended the process, and systemd restarted it into the same window; the lane's own handler takes over once it
    runs, and a reload asked meanwhile is applied then (the list says whether one was)."""
    import signal

    asked: list[int] = []
    signal.signal(signal.SIGHUP, lambda signum, _frame: asked.append(signum))
    return asked


def _ignore_reload() -> None:
    """SIGHUP (`systemctl reload`) on a remote lane: logged, not fatal (its default action ends the process)."""
    import signal

    def reload(_signum: int, _frame: object) -> None:
        logging.getLogger("gate.lane.remote").info("reload: nothing to read again, the config is the server's")

    signal.signal(signal.SIGHUP, reload)


@app.command()
def run(
    lane: LaneOpt,
    source: Annotated[str, typer.Option(
        "--source", envvar="PLATEGATE_SOURCE", show_default=False,
        help="camera index, rtsp/http URL, video file or image folder (or $PLATEGATE_SOURCE: a camera URL with "
        "its password stays out of `ps`)")],
    relay: Annotated[
        Optional[str], typer.Option("--relay", envvar=["PLATEGATE_RELAY", "RELAY"], show_default=False,
                                    help="'sim' (default, logs) or an http(s) URL to POST (or $PLATEGATE_RELAY)")
    ] = None,
    relay_timeout: Annotated[
        float, typer.Option("--relay-timeout", min=0.01, help="seconds per relay try (3 tries, off the decision path)")
    ] = 0.5,
    evidence_dir: Annotated[str, typer.Option("--evidence-dir", help="where decision crops go")] = "evidence",
    retention_days: Annotated[
        Optional[float],
        typer.Option("--retention-days", min=0.0, help="delete the gate's own evidence files older than N days"),
    ] = None,
    max_fps: Annotated[Optional[float], typer.Option("--max-fps", min=0.1, help="cap frames read per second")] = None,
    pass_gap: Annotated[
        float, typer.Option("--pass-gap", min=0.1, help="seconds without the plate that end a pass")
    ] = 2.0,
    give_up_after: Annotated[
        Optional[int],
        typer.Option("--give-up-after", min=0, help="live camera: exit 3 after N failed reconnects in a row "
                     "(default: keep trying)"),
    ] = None,
    stills: Annotated[
        bool, typer.Option("--stills", help="the source folder holds one still per car: each image is one pass")
    ] = False,
    watch: Annotated[bool, typer.Option("--watch", help="with --stills: keep taking new images until stopped")] = False,
    stills_done: Annotated[
        Optional[str], typer.Option("--stills-done", help="with --stills: move decided images here (else left)")
    ] = None,
    poll: Annotated[float, typer.Option("--poll", min=0.01, help="with --watch: seconds between looks")] = 0.25,
    loop: Annotated[
        bool, typer.Option("--loop", help="a video file or folder starts again at its end (soak tests)")
    ] = False,
    motion_skip: Annotated[
        bool, typer.Option("--motion-skip", help="skip the reader on frames where nothing moved in an empty lane")
    ] = False,
    gate: Annotated[
        Optional[str], typer.Option("--gate", help="this barrier's id in the ledger (default: the lane name); "
                                    "manual opens for it are polled every second")
    ] = None,
    ledger_url: Annotated[
        Optional[str], typer.Option("--ledger-url", help="decide through `gate serve` at this URL instead of --db")
    ] = None,
    token: Annotated[
        Optional[str], typer.Option("--token", envvar="PLATEGATE_TOKEN", show_default=False,
                                    help="with --ledger-url: a camera API token (or $PLATEGATE_TOKEN)")
    ] = None,
    state_dir: Annotated[
        str, typer.Option("--state-dir", help="with --ledger-url: reads wait here while the server is down")
    ] = "lane-state",
    open_entry_offline: Annotated[
        bool, typer.Option("--open-entry-offline", help="with --ledger-url: an entry opens while the server is "
                           "down (its read is queued); exits always stay shut")
    ] = False,
    ledger_timeout: Annotated[
        float, typer.Option("--ledger-timeout", min=0.1, help="with --ledger-url: seconds to wait for a decision")
    ] = 5.0,
    threads: Annotated[
        int, typer.Option("--threads", min=1, max=16, help="CPU threads for the reader; 1 when several lanes share "
                          "the box (4 lanes on 2 cores: --threads 1 each)")
    ] = 2,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The camera process of one lane: one decision per car, relay pulse on open. Stats on exit.

    SIGHUP reloads --config between two frames (a bad file keeps the old one); under systemd
    (Type=notify) it says READY=1 once reading and feeds the watchdog.

    Exit codes: 0 stopped by SIGTERM/SIGINT or the recording/stills read to the end; 1 database or config
    error; 2 bad option; 3 the source could not be opened, gave no frame, or a live camera's reconnects
    gave up (--give-up-after).
    """
    from gate.lane.process import build_process, log_to_stderr
    from gate.lane.redact import redact
    from gate.lane.stills import StillsConfig
    from gate.reload import ConfigReloader

    log_to_stderr()
    reloads_asked = _hold_reloads()
    remote = _Remote(ledger_url, token, Path(state_dir), open_entry_offline, ledger_timeout, Path(evidence_dir))
    with _lane_ledger(db, config, remote, gate or lane.value, lane) as (ledger, commands, local):
        try:
            if (watch or stills_done) and not stills:
                raise ValueError(f"{'--watch' if watch else '--stills-done'}: expected together with --stills")
            still_mode = StillsConfig(watch, Path(stills_done) if stills_done else None, poll) if stills else None
            process = build_process(lane, source, ledger, relay=relay, relay_timeout_s=relay_timeout,
                                    evidence_dir=evidence_dir, retention_days=retention_days, max_fps=max_fps,
                                    pass_gap_s=pass_gap, give_up_after=give_up_after, stills=still_mode,
                                    loop=loop, motion_skip=motion_skip,
                                    reloader=None if local is None else ConfigReloader(local, config),
                                    gate=gate, commands=commands, threads=threads)
        except (OSError, ValueError) as exc:  # a source or folder missing, or not ours to read
            raise _BadInput(redact(exc)) from None
        process.install_signal_handlers()
        if local is None:  # a remote lane's tariff and policy are the server's: SIGHUP must not end it
            _ignore_reload()
        elif reloads_asked and process.reloader is not None:  # the file may have changed after it was read
            process.reloader.request()
        stats = process.run()
        typer.echo(stats.summary(), err=True)
        if stats.end.exit_code:
            _fail(f"source {process.source.name}: {stats.failure}", stats.end.exit_code)


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="address to listen on; 0.0.0.0 opens it to the network")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8080,
    db: DbOpt = None,
    config: ConfigOpt = None,
    evidence_dir: Annotated[
        str, typer.Option("--evidence-dir", help="where camera reads' images are kept and served from, by id")
    ] = "evidence",
) -> None:
    """The HTTP API (quote, pay, camera reads, visits) on uvicorn; every endpoint but /health needs a token.

    SIGHUP reloads --config; under systemd (Type=notify) it says READY=1 once listening and feeds the watchdog.
    """
    with _ledger(db, config):
        pass  # a bad URL, schema or config is one line on stderr before the server starts
    import uvicorn

    from gate.serve.app import create_app
    from gate.serve.systemd import NotifyingServer
    from gate.store.ledger import Ledger

    def open_ledger() -> Ledger:
        return Ledger.open(db, config=config, migrate=False)

    api = create_app(open_ledger, evidence_dir)
    NotifyingServer(uvicorn.Config(api, host=host, port=port, log_level="info"), api, config).run()


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="who holds it (recorded as who acted)")],
    role: Annotated[Role, typer.Option("--role", help="pay-station, camera, operator or viewer")],
    gate: Annotated[
        Optional[str], typer.Option("--gate", help="with --lane: a camera token for this barrier only")
    ] = None,
    lane: Annotated[Optional[Lane], typer.Option("--lane", help="with --gate: entry or exit")] = None,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an API token and print it once: only its SHA-256 is kept."""
    with _ledger(db, config) as ledger:
        from gate.store.tokens import Tokens

        created = Tokens(ledger).create(name, role, gate, lane)
        _emit({**created.token.to_dict(), "token": created.secret})
    typer.echo("the token is shown only now: store it where its holder keeps secrets", err=True)


@token_app.command("list")
def token_list(fmt: FormatOpt = Format.JSON, db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Every API token (never the secrets), revoked ones too."""
    with _ledger(db, config) as ledger:
        from gate.store.tokens import Tokens

        rows = [t.to_dict() for t in Tokens(ledger).list()]
        _print_rows(rows, fmt, ["name", "role", "gate", "lane", "created_at", "revoked_at", "active"], ledger.timezone)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Option("--name")],
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Revoke an API token: its next request is refused (401)."""
    with _ledger(db, config) as ledger:
        from gate.store.tokens import Tokens

        _emit(Tokens(ledger).revoke(name).to_dict())


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option("--username", help="the login name (recorded as who acted)")],
    role: Annotated[Role, typer.Option("--role", help="viewer or operator")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin instead of a prompt")
    ] = False,
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create a web page account; the password is asked for (or read from stdin), kept as a scrypt hash."""
    if password_stdin:
        try:  # bytes, decoded here: a non-UTF-8 line was a traceback from the hash (exit 1) instead of one line
            password = sys.stdin.buffer.readline().decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            _fail(f"the password on stdin: not UTF-8 text (byte {exc.start})", 2)
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _ledger(db, config) as ledger:
        from gate.store.users import Users

        _emit(Users(ledger).create(username, role, password).to_dict())


@user_app.command("list")
def user_list(fmt: FormatOpt = Format.JSON, db: DbOpt = None, config: ConfigOpt = None) -> None:
    """Every web account (never a password hash), disabled ones too."""
    with _ledger(db, config) as ledger:
        from gate.store.users import Users

        rows = [u.to_dict() for u in Users(ledger).list()]
        _print_rows(rows, fmt, ["username", "role", "created_at", "disabled_at", "active"], ledger.timezone)


@user_app.command("disable")
def user_disable(
    username: Annotated[str, typer.Option("--username")],
    db: DbOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Disable a web account: its sessions end at once and it can no longer log in."""
    with _ledger(db, config) as ledger:
        from gate.store.users import Users

        _emit(Users(ledger).disable(username).to_dict())


def main() -> None:
    app()


if __name__ == "__main__":
    main()

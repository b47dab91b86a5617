"""The ledger's queries: SQLAlchemy Core on the gate.store.models tables, built once.

Each function runs one query in the caller's transaction (a Connection
from ``Engine.begin()``). Queries are module constants so that a decision,
5-7 queries in its own committed transaction, skips building them and
computing their cache keys each time.

Locking, the same on every path:
- SQLite: every write transaction starts with BEGIN IMMEDIATE (gate.store.db),
  so writers are serialized and read what they update; FOR UPDATE compiles to
  nothing there;
- PostgreSQL: a visit about to change is read FOR UPDATE, and entries take a
  transaction-scoped advisory lock (``take_entry_lock``) so capacity and
  duplicate checks see every entry;
- both: an open visit changes only through ``UPDATE ... WHERE state = 'open'``
  and a row count other than 1 raises LostRace (the caller retries).

``state = 'open'`` is written as a literal, not a parameter, so that the
planner can use the partial unique index ``uq_visits_open_plate``.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Row, Table, bindparam, delete, func, insert, literal_column, or_, select, update

from gate.rules.codes import CloseReason, EvidenceKind, ListKind, ReviewKind, VisitState
from gate.store.models import (
    UTCDateTime,
    api_tokens,
    decisions,
    evidence,
    overrides,
    payments,
    plate_lists,
    reads,
    review_items,
    visits,
)
from gate.store.records import VisitRecord

ENTRY_LOCK_KEY = 7305000002  # PostgreSQL advisory lock taken by every entry (7305000001: migrations)


class LostRace(Exception):
    """A concurrent process changed the visit between our read and our update."""


_IS_OPEN = visits.c.state == literal_column(f"'{VisitState.OPEN.value}'")
_OPEN_VISIT_OF_PLATE = select(visits).where(visits.c.plate == bindparam("plate"), _IS_OPEN).with_for_update()
_VISIT_BY_ID = select(visits).where(visits.c.id == bindparam("visit_id")).with_for_update()
_OPEN_PLATES = select(visits.c.id, visits.c.plate).where(_IS_OPEN)
_COUNT_OPEN = select(func.count()).select_from(visits).where(_IS_OPEN)
_RECENT_EXIT = (
    select(visits.c.id)
    .where(
        visits.c.plate == bindparam("plate"),
        visits.c.state == VisitState.CLOSED.value,
        visits.c.exit_at >= bindparam("since"),
        visits.c.exit_at <= bindparam("until"),
    )
    .order_by(visits.c.exit_at.desc())
    .limit(1)
)
# a visit an exit opened the barrier for on a read of this plate, whatever the visit's own plate (a paid-as or
# fuzzy match): the plate read again moments later is that car, not a neighbour (ix_decisions_at: a short range)
_RECENT_EXIT_READ = (
    select(decisions.c.visit_id)
    .where(
        decisions.c.at >= bindparam("since"),
        decisions.c.at <= bindparam("until"),
        decisions.c.lane == "exit",
        decisions.c.action == "open",
        decisions.c.plate == bindparam("plate"),
        decisions.c.visit_id.is_not(None),
    )
    .order_by(decisions.c.at.desc())
    .limit(1)
)
# the SET clause is made of the keys given besides "visit_key"
_UPDATE_OPEN_VISIT = update(visits).where(visits.c.id == bindparam("visit_key"), _IS_OPEN)
_ADD_PAYMENT = (
    update(visits)
    .where(visits.c.id == bindparam("visit_key"), _IS_OPEN)
    .values(
        paid_agorot=visits.c.paid_agorot + bindparam("amount"),
        last_paid_at=bindparam("paid_at", type_=UTCDateTime()),
    )
)
_PAYMENT_BY_ID = select(payments).where(payments.c.payment_id == bindparam("payment_id"))
_PAID_OF_VISIT = select(visits.c.paid_agorot).where(visits.c.id == bindparam("visit_id"))
_LISTS_OF_PLATE = select(plate_lists.c.kind).where(plate_lists.c.plate == bindparam("plate"))
_LIVE_LISTS_OF_PLATE = _LISTS_OF_PLATE.where(
    or_(plate_lists.c.expires_at.is_(None), plate_lists.c.expires_at > bindparam("at", type_=UTCDateTime()))
)
_DELETE_LIST_ENTRY = delete(plate_lists).where(
    plate_lists.c.plate == bindparam("plate"), plate_lists.c.kind == bindparam("kind")
)
_RESOLVE_REVIEW = (
    update(review_items)
    .where(review_items.c.id == bindparam("item_id"), review_items.c.resolved_at.is_(None))
    .values(resolved_at=bindparam("at", type_=UTCDateTime()))
)
_TOKEN_BY_HASH = select(api_tokens).where(api_tokens.c.token_hash == bindparam("token_hash"))
_TOKEN_BY_NAME = select(api_tokens).where(api_tokens.c.name == bindparam("name")).with_for_update()
_ALL_TOKENS = select(api_tokens).order_by(api_tokens.c.id)
_REVOKE_TOKEN = (
    update(api_tokens)
    .where(api_tokens.c.name == bindparam("token_name"), api_tokens.c.revoked_at.is_(None))
    .values(revoked_at=bindparam("at", type_=UTCDateTime()))
)
_ENTRY_LOCK = select(func.pg_advisory_xact_lock(ENTRY_LOCK_KEY))
_INSERT = {
    table: insert(table)
    for table in (visits, reads, payments, decisions, overrides, plate_lists, review_items, api_tokens)
}


def insert_row(conn: Connection, table: Table, values: dict[str, Any]) -> int:
    """INSERT one row; return its id."""
    key = conn.execute(_INSERT[table], values).inserted_primary_key
    assert key is not None  # every table but plate_lists has an integer id
    return int(key[0])


def take_entry_lock(conn: Connection) -> None:
    """PostgreSQL: serialize entries (capacity, duplicates); SQLite's BEGIN IMMEDIATE already does."""
    if conn.dialect.name == "postgresql":
        conn.execute(_ENTRY_LOCK)


def open_visit(conn: Connection, plate: str) -> VisitRecord | None:
    """The plate's open visit, locked for update."""
    row = conn.execute(_OPEN_VISIT_OF_PLATE, {"plate": plate}).first()
    return None if row is None else VisitRecord.from_row(row)


def visit_by_id(conn: Connection, visit_id: int) -> VisitRecord | None:
    """Any visit by id, locked for update."""
    row = conn.execute(_VISIT_BY_ID, {"visit_id": visit_id}).first()
    return None if row is None else VisitRecord.from_row(row)


def open_plates(conn: Connection) -> list[tuple[int, str]]:
    """(visit id, plate) of every open visit: the candidates of a fuzzy match."""
    return [(visit_id, plate) for visit_id, plate in conn.execute(_OPEN_PLATES)]


def count_open(conn: Connection) -> int:
    return int(conn.execute(_COUNT_OPEN).scalar_one())


def recent_exit(conn: Connection, plate: str, since: datetime, until: datetime) -> int | None:
    """The id of the visit this plate left by in [since, until], latest first: the plate's own visit closed
    then, else a visit an exit read of this plate opened the barrier for (matched paid-as or fuzzily)."""
    found = conn.execute(_RECENT_EXIT, {"plate": plate, "since": since, "until": until}).scalar()
    if found is None:
        found = conn.execute(_RECENT_EXIT_READ, {"plate": plate, "since": since, "until": until}).scalar()
    return None if found is None else int(found)


def insert_visit(
    conn: Connection, plate: str, entry_at: datetime, flag_reason: str | None = None, entry_gate: str | None = None
) -> int:
    """Open a visit; the unique partial index refuses a second open visit of the plate."""
    values = {
        "plate": plate,
        "entry_at": entry_at,
        "entry_gate": entry_gate,
        "state": VisitState.OPEN.value,
        "paid_agorot": 0,
        "waived": False,
        "flagged": flag_reason is not None,
        "flag_reason": flag_reason,
    }
    return insert_row(conn, visits, values)


def update_open_visit(conn: Connection, visit_id: int, **values: Any) -> None:
    """Change a visit only while it is open; LostRace when a concurrent writer closed it first."""
    if conn.execute(_UPDATE_OPEN_VISIT, {"visit_key": visit_id, **values}).rowcount != 1:
        raise LostRace(f"visit {visit_id} closed concurrently")


def close_visit(
    conn: Connection,
    visit: VisitRecord,
    *,
    exit_at: datetime,
    fee: int,
    close_reason: CloseReason,
    flag_reason: str | None = None,
    exit_gate: str | None = None,
) -> None:
    """Close an open visit exactly once (never before its entry); keeps an earlier flag."""
    update_open_visit(
        conn,
        visit.id,
        exit_gate=exit_gate,
        state=VisitState.CLOSED.value,
        exit_at=max(exit_at, visit.entry_at),
        fee_agorot=fee,
        close_reason=close_reason.value,
        flagged=bool(visit.flagged or flag_reason),
        flag_reason=flag_reason or visit.flag_reason,
    )


def add_payment(conn: Connection, visit_id: int, amount: int, paid_at: datetime) -> None:
    if conn.execute(_ADD_PAYMENT, {"visit_key": visit_id, "amount": amount, "paid_at": paid_at}).rowcount != 1:
        raise LostRace(f"visit {visit_id} closed concurrently")


def grace_start(conn: Connection, visit_id: int, payment_row_id: int) -> datetime | None:
    """When the grace ran from after this payment (``payments.id``): the visit's last payment up to it that took
    money, or its first payment (which may be 0, in the free minutes); a later payment of 0 does not move it."""
    rows = conn.execute(
        select(payments.c.id, payments.c.amount_agorot, payments.c.paid_at)
        .where(payments.c.visit_id == visit_id, payments.c.id <= payment_row_id)
        .order_by(payments.c.id)
    ).all()
    start = None
    for i, (_id, amount, paid_at) in enumerate(rows):
        if i == 0 or amount > 0:
            start = paid_at
    return start


def payment(conn: Connection, payment_id: str) -> Row[Any] | None:
    """The payments row with this idempotency key, or None."""
    return conn.execute(_PAYMENT_BY_ID, {"payment_id": payment_id}).first()


def paid_of(conn: Connection, visit_id: int) -> int:
    return int(conn.execute(_PAID_OF_VISIT, {"visit_id": visit_id}).scalar_one())


def allow_listed(conn: Connection, plate: str) -> bool:
    """Whether the plate is a subscriber's now: it leaves free."""
    return ListKind.ALLOW in lists_of(conn, plate)


def lists_of(conn: Connection, plate: str, at: datetime | None = None, *, expired: bool = False) -> set[ListKind]:
    """The lists the plate is on at ``at`` (default now): an entry no longer applies from its expiry on
    (``expired=True``: every entry, expired or not, as a duplicate check needs)."""
    if expired:
        kinds = conn.execute(_LISTS_OF_PLATE, {"plate": plate}).scalars()
    else:
        kinds = conn.execute(_LIVE_LISTS_OF_PLATE, {"plate": plate, "at": at or datetime.now(timezone.utc)}).scalars()
    return {ListKind(kind) for kind in kinds}


def add_list_entry(
    conn: Connection,
    plate: str,
    kind: ListKind,
    note: str | None,
    at: datetime,
    *,
    holder: str | None = None,
    expires_at: datetime | None = None,
) -> None:
    values = {"plate": plate, "kind": kind.value, "note": note, "added_at": at, "holder": holder,
              "expires_at": expires_at}
    conn.execute(_INSERT[plate_lists], values)


def delete_list_entry(conn: Connection, plate: str, kind: ListKind) -> bool:
    return conn.execute(_DELETE_LIST_ENTRY, {"plate": plate, "kind": kind.value}).rowcount > 0


def has_unresolved_review(conn: Connection, kind: ReviewKind, plate: str, visit_id: int) -> bool:
    """Whether an item of ``kind`` about ``plate`` and ``visit_id`` still waits in the review queue."""
    query = select(review_items.c.id).where(
        review_items.c.kind == kind.value, review_items.c.plate == plate, review_items.c.visit_id == visit_id,
        review_items.c.resolved_at.is_(None)).limit(1)
    return conn.execute(query).first() is not None


def resolve_review(conn: Connection, item_id: int, operator: str, resolution: str, at: datetime) -> bool:
    """Mark an unresolved item handled; False when there is none with that id."""
    params = {"item_id": item_id, "at": at, "resolved_by": operator, "resolution": resolution}
    return conn.execute(_RESOLVE_REVIEW, params).rowcount == 1


def token_by_hash(conn: Connection, token_hash: str) -> Row[Any] | None:
    """The api_tokens row whose secret hashes to ``token_hash`` (revoked or not)."""
    return conn.execute(_TOKEN_BY_HASH, {"token_hash": token_hash}).first()


def token_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(_TOKEN_BY_NAME, {"name": name}).first()


def all_tokens(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(_ALL_TOKENS))


def revoke_token(conn: Connection, name: str, at: datetime) -> bool:
    """Revoke a live token; False when there is none of that name or it already was."""
    return conn.execute(_REVOKE_TOKEN, {"token_name": name, "at": at}).rowcount == 1


# ------------------------------------------------------------------ the pay station's reads (no locks)

_OPEN_VISIT_UNLOCKED = select(visits).where(visits.c.plate == bindparam("plate"), _IS_OPEN)
_VISITS_BY_IDS = select(visits).where(visits.c.id.in_(bindparam("ids", expanding=True)))
_ENTRY_EVIDENCE = (
    select(decisions.c.visit_id, evidence.c.id, evidence.c.kind)
    .join(evidence, evidence.c.decision_id == decisions.c.id)
    .where(decisions.c.visit_id.in_(bindparam("ids", expanding=True)), decisions.c.lane == "entry")
    .order_by(evidence.c.id)
)


_OPEN_VISIT_PAID_AS = (
    select(visits.c.id, visits.c.plate)
    .join(payments, payments.c.visit_id == visits.c.id)
    .where(_IS_OPEN, payments.c.typed_plate == bindparam("plate"))
    .order_by(payments.c.id.desc())
    .limit(1)
)


def open_visit_paid_as(conn: Connection, plate: str) -> tuple[int, str] | None:
    """(id, plate) of the open visit last paid for by a driver who typed ``plate`` (a chosen candidate).

    From the open visits (their partial index) to their payments (by visit id): a
    payments table of millions is never scanned for typed_plate, which has no index.
    """
    row = conn.execute(_OPEN_VISIT_PAID_AS, {"plate": plate}).first()
    return None if row is None else (int(row.id), str(row.plate))


def open_visit_unlocked(conn: Connection, plate: str) -> VisitRecord | None:
    """The plate's open visit, read without a lock (a quote writes nothing)."""
    row = conn.execute(_OPEN_VISIT_UNLOCKED, {"plate": plate}).first()
    return None if row is None else VisitRecord.from_row(row)


def visits_by_ids(conn: Connection, ids: list[int]) -> dict[int, VisitRecord]:
    return {r.id: VisitRecord.from_row(r) for r in conn.execute(_VISITS_BY_IDS, {"ids": ids})} if ids else {}


def entry_evidence(conn: Connection, visit_ids: list[int]) -> dict[int, int]:
    """visit id -> the id of its entry decision's frame image (else its plate crop), where there is one."""
    found: dict[int, tuple[bool, int]] = {}
    for visit_id, evidence_id, kind in conn.execute(_ENTRY_EVIDENCE, {"ids": visit_ids}) if visit_ids else ():
        choice = (kind != EvidenceKind.FRAME.value, evidence_id)  # the frame first, then the earliest
        if visit_id not in found or choice < found[visit_id]:
            found[visit_id] = choice
    return {visit_id: evidence_id for visit_id, (_, evidence_id) in found.items()}

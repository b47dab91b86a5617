"""Visit and payment listings: filters, paging and totals in SQL, each filter served by an index.

At a million visits a listing must not scan (the issue measured 32 ms for
``inside`` and a one-day range at 100,000, i.e. seconds at 10 million):
- plate: ``ix_visits_plate``; a partial plate (>= 3 digits): the FTS5 trigram
  table ``visits_plate_fts`` on SQLite, ``plate LIKE`` on the pg_trgm GIN index
  on PostgreSQL (both made by migration 0003);
- inside: the partial unique index of open visits (``state = 'open'`` is a
  literal so the planner can use it);
- a time range [since, until] (visits overlapping it) is split into terms
  each one index serves: entered inside the range (``ix_visits_entry_at``),
  entered before and left at or after ``since`` (``ix_visits_exit_at``), or
  entered before and still open (the open index).
``unpaid`` and ``flagged`` narrow the others; alone they scan.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    true,
    union_all,
)

from gate.rules.codes import VisitState
from gate.store.billing import PaymentPage, PaymentRecord, VisitPage
from gate.store.models import UTCDateTime, payments, visits
from gate.store.records import VisitRecord

MIN_PARTIAL_DIGITS = 3  # a trigram: the shortest substring the search indexes serve
_FTS = table("visits_plate_fts", column("rowid"), column("plate"))
# a literal, not a parameter: the planner matches it to the partial index of open visits
_IS_OPEN = visits.c.state == literal_column(f"'{VisitState.OPEN.value}'")


@dataclass(frozen=True)
class VisitFilter:
    """Which visits a listing shows; every field is already checked (the ledger's edge)."""

    plate: str | None = None  # exactly this plate (normalised)
    plate_contains: str | None = None  # these digits somewhere in the plate (>= 3)
    inside: bool = False  # open visits only
    since: datetime | None = None  # still inside at or after this time
    until: datetime | None = None  # entered at or before this time
    unpaid: bool = False  # not waived, and nothing paid (open) or less than the fee (closed)
    flagged: bool = False


def _fts_match(digits: str) -> Select[Any]:
    """Rowids of the plates containing ``digits``: an FTS5 trigram phrase (digits only, so quoting is safe).

    MATCH reads the trigram index alone; LIKE also re-read every candidate's
    plate from the visits table to check it (a count of '345' at a million
    visits: 0.3 ms against 30 ms).
    """
    return select(_FTS.c.rowid).where(literal_column("visits_plate_fts").op("MATCH")(f'"{digits}"'))


def _at(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


def _overlapping(dialect: str, *, bounded: bool) -> Any:
    """Ids of the visits inside at some time in [since, until], as three disjoint index searches.

    As one OR, SQLite could not use the partial index of open visits for
    the third term and scanned the table (40 ms at 20,000 visits); as a
    UNION ALL each part is planned on its own index.
    """
    v = visits.c
    since = _at("since")
    entered = [v.entry_at >= since] + ([v.entry_at <= _at("until")] if bounded else [])
    # SQLite: `+entry_at` keeps the open visits' search on their partial index, not every entry before `since`
    entry_at: Any = literal_column("+visits.entry_at", UTCDateTime()) if dialect == "sqlite" else v.entry_at
    return union_all(
        select(v.id).where(*entered),  # entered inside the range
        select(v.id).where(v.exit_at >= since, v.entry_at < since),  # entered before, left inside or after it
        select(v.id).where(_IS_OPEN, entry_at < since),  # entered before, still inside
    )


def visit_conditions(f: VisitFilter, dialect: str) -> list[ColumnElement[bool]]:
    v = visits.c
    where: list[ColumnElement[bool]] = []
    if f.plate is not None:
        where.append(v.plate == f.plate)
    if f.plate_contains is not None:
        if dialect == "sqlite":
            where.append(v.id.in_(_fts_match(f.plate_contains)))
        else:
            where.append(v.plate.like(f"%{f.plate_contains}%"))
    if f.inside:
        where.append(_IS_OPEN)
    if f.since is not None and f.until is not None and f.until < f.since:
        where.append(false())
    elif f.since is not None and dialect == "sqlite":
        where.append(v.id.in_(_overlapping(dialect, bounded=f.until is not None)))
    elif f.since is not None:  # PostgreSQL: one BitmapOr of the same three index searches
        since = _at("since")
        entered = [v.entry_at >= since] + ([v.entry_at <= _at("until")] if f.until is not None else [])
        before = v.entry_at < since
        where.append(or_(and_(*entered), and_(v.exit_at >= since, before), and_(_IS_OPEN, before)))
    elif f.until is not None:
        where.append(v.entry_at <= _at("until"))
    if f.unpaid:
        where.append(and_(v.waived == false(), v.paid_agorot < func.coalesce(v.fee_agorot, 1)))
    if f.flagged:
        where.append(v.flagged == true())
    return where


def time_params(
    f: VisitFilter | None = None, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    if f is not None:
        since, until = f.since, f.until
    return {k: t for k, t in (("since", since), ("until", until)) if t is not None}


def visit_query(f: VisitFilter, dialect: str) -> Select[Any]:
    """The visits matching ``f``, oldest entry first (for a whole listing or one page).

    SQLite keeps no statistics unless told (ANALYZE), and with a LIMIT it
    preferred walking ``ix_visits_entry_at`` in order and testing every row:
    ``inside`` read the whole table to find the newest 400. When a selective
    filter has its own index, ``+entry_at`` (the same value) takes the order
    off that index, so the filter's index finds the rows and they are sorted.
    PostgreSQL's statistics choose well but for a time range, which it walked
    in entry order (376 ms for a day at a million visits); ordering by
    ``entry_at + interval '0 s'`` lets it take the BitmapOr of the range's
    three indexes and sort (4 ms).
    """
    entry_at: Any = visits.c.entry_at
    if dialect == "sqlite" and (f.plate or f.plate_contains or f.inside or f.since is not None):
        entry_at = text("+visits.entry_at")
    elif dialect != "sqlite" and f.since is not None:
        entry_at = text("visits.entry_at + interval '0 s'")
    return select(visits).where(*visit_conditions(f, dialect)).order_by(entry_at, visits.c.id)


def visit_page(conn: Connection, f: VisitFilter, limit: int, offset: int) -> VisitPage:
    """One page (LIMIT/OFFSET in SQL) and the count of all matching visits."""
    dialect = conn.dialect.name
    params = time_params(f)
    rows = conn.execute(visit_query(f, dialect).limit(limit).offset(offset), params)
    found = [VisitRecord.from_row(r) for r in rows]
    if offset == 0 and len(found) < limit:
        total = len(found)  # the whole listing is on this page: no second query
    elif dialect == "sqlite" and f.plate_contains is not None and f == VisitFilter(plate_contains=f.plate_contains):
        matches = _fts_match(f.plate_contains).subquery()  # the trigram index alone counts them
        total = int(conn.execute(select(func.count()).select_from(matches)).scalar_one())
    else:
        count = select(func.count()).select_from(visits).where(*visit_conditions(f, dialect))
        total = int(conn.execute(count, params).scalar_one())
    return VisitPage(limit=limit, offset=offset, total=total, visits=found)


def visits_all(conn: Connection, f: VisitFilter) -> list[VisitRecord]:
    return [VisitRecord.from_row(r) for r in conn.execute(visit_query(f, conn.dialect.name), time_params(f))]


def _payment_conditions(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if since is not None:
        where.append(payments.c.paid_at >= _at("since"))
    if until is not None:
        where.append(payments.c.paid_at < _at("until"))
    return where


def payment_query(since: datetime | None, until: datetime | None) -> Select[Any]:
    """Payments in [since, until), oldest first (``ix_payments_paid_at``)."""
    return select(payments).where(*_payment_conditions(since, until)).order_by(payments.c.paid_at, payments.c.id)


def payment_page(conn: Connection, since: datetime | None, until: datetime | None, limit: int,
                 offset: int) -> PaymentPage:
    """One page of payments in [since, until) and their count and sum over all pages."""
    params = time_params(since=since, until=until)
    rows = conn.execute(payment_query(since, until).limit(limit).offset(offset), params)
    totals = select(func.count(), func.coalesce(func.sum(payments.c.amount_agorot), 0)).where(
        *_payment_conditions(since, until)
    )
    count, amount = conn.execute(totals, params).one()
    return PaymentPage(limit=limit, offset=offset, total=int(count), total_amount_agorot=int(amount),
                       payments=[PaymentRecord.from_row(r) for r in rows])


_SUM_BETWEEN = select(func.count(), func.coalesce(func.sum(payments.c.amount_agorot), 0)).where(
    payments.c.paid_at >= _at("since"), payments.c.paid_at < _at("until")
)


def payment_sum(conn: Connection, since: datetime, until: datetime) -> tuple[int, int]:
    """(count, agorot) of the payments in [since, until): one index range per day of a report."""
    count, amount = conn.execute(_SUM_BETWEEN, {"since": since, "until": until}).one()
    return int(count), int(amount)


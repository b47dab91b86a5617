"""Ledger tables (SQLAlchemy 2.x declarative). The schema itself is created by
the Alembic migrations in gate/migrations; keep both in step (a test checks).

Times are stored as UTC and returned timezone-aware (UTCDateTime); money is
integer agorot.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

OPEN, CLOSED = "open", "closed"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (naive text) and PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; convert with gate.rules.clock.to_utc")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class Visit(Base):
    """One stay of one car: open at entry, closed at exit (or stale/override)."""

    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(
            "(state = 'open' AND exit_at IS NULL AND fee_agorot IS NULL)"
            " OR (state = 'closed' AND exit_at IS NOT NULL AND fee_agorot IS NOT NULL)",
            name="ck_visits_state_consistent",
        ),
        CheckConstraint("exit_at IS NULL OR exit_at >= entry_at", name="ck_visits_exit_after_entry"),
        CheckConstraint("paid_agorot >= 0 AND (fee_agorot IS NULL OR fee_agorot >= 0)", name="ck_visits_money"),
        # never two open visits for one plate, enforced by the database itself; it also
        # serves every "state = 'open'" query (count, fuzzy candidates), so no index on state
        Index(
            "uq_visits_open_plate",
            "plate",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index("ix_visits_entry_at", "entry_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plate: Mapped[str] = mapped_column(String(8), index=True)
    entry_at: Mapped[datetime] = mapped_column(UTCDateTime)
    exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(8))
    close_reason: Mapped[str | None] = mapped_column(String(32))
    fee_agorot: Mapped[int | None] = mapped_column(Integer)
    paid_agorot: Mapped[int] = mapped_column(Integer, server_default="0")
    last_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waived: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    flagged: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    flag_reason: Mapped[str | None] = mapped_column(String(200))


class Read(Base):
    """Every accepted plate read (camera or attendant), with its evidence."""

    __tablename__ = "reads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lane: Mapped[str] = mapped_column(String(8))
    plate: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[float | None] = mapped_column(Float)
    char_conf: Mapped[list[float] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence_path: Mapped[str | None] = mapped_column(String(500))


class Payment(Base):
    """A payment at the pay station; payment_id makes replays harmless."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount_agorot >= 0", name="ck_payments_amount"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(64), unique=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    plate: Mapped[str] = mapped_column(String(8))
    amount_agorot: Mapped[int] = mapped_column(Integer)
    fee_agorot: Mapped[int] = mapped_column(Integer)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GateDecision(Base):
    """What the gate did for a read, and why."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    read_id: Mapped[int | None] = mapped_column(ForeignKey("reads.id"))
    lane: Mapped[str] = mapped_column(String(8))
    plate: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(200))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)
    amount_due_agorot: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Override(Base):
    """An operator's manual action: who, why, what."""

    __tablename__ = "overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operator: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(32))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    plate: Mapped[str | None] = mapped_column(String(8))
    amount_agorot: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlateListEntry(Base):
    """Allow-listed (subscribers) and deny-listed plates."""

    __tablename__ = "plate_lists"

    plate: Mapped[str] = mapped_column(String(8), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # "allow" | "deny"
    note: Mapped[str | None] = mapped_column(String(500))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewItem(Base):
    """Something a human should look at: unmatched exits, fuzzy matches, stale visits."""

    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    plate: Mapped[str] = mapped_column(String(8))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(String(500))

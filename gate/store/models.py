"""Ledger tables as SQLAlchemy Core ``Table`` objects: the one description of the schema.

The ledger reads and writes them with Core queries; the Alembic migrations
in gate/store/migrations create them (a test checks both stay in step).
Times are stored as UTC and returned timezone-aware (UTCDateTime); money is
integer agorot; codes are the strings of gate.rules.codes.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (naive text) and PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; convert with gate.rules.clock.to_utc")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


metadata = MetaData()

# One stay of one car: open at entry, closed at exit (or stale/override).
visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("plate", String(8), nullable=False, index=True),
    Column("entry_at", UTCDateTime, nullable=False),
    Column("exit_at", UTCDateTime),
    Column("state", String(8), nullable=False),  # VisitState
    Column("close_reason", String(32)),  # CloseReason
    Column("fee_agorot", Integer),
    Column("paid_agorot", Integer, nullable=False, server_default="0"),
    Column("last_paid_at", UTCDateTime),
    Column("waived", Boolean, nullable=False, server_default=text("false")),
    Column("flagged", Boolean, nullable=False, server_default=text("false")),
    Column("flag_reason", String(200)),
    Column("entry_gate", String(32)),  # the gate id of the entry decision (default: the lane name)
    Column("exit_gate", String(32)),
    CheckConstraint(
        "(state = 'open' AND exit_at IS NULL AND fee_agorot IS NULL)"
        " OR (state = 'closed' AND exit_at IS NOT NULL AND fee_agorot IS NOT NULL)",
        name="ck_visits_state_consistent",
    ),
    CheckConstraint("exit_at IS NULL OR exit_at >= entry_at", name="ck_visits_exit_after_entry"),
    CheckConstraint("paid_agorot >= 0 AND (fee_agorot IS NULL OR fee_agorot >= 0)", name="ck_visits_money"),
    # uq_visits_open_plate: see schema_metadata()
    Index("ix_visits_entry_at", "entry_at"),
    Index("ix_visits_exit_at", "exit_at"),
    # partial-plate search: SQLite FTS5 trigram table visits_plate_fts / PostgreSQL pg_trgm GIN index
    # ix_visits_plate_trgm, both made by migration 0003 and outside this metadata (see UNMODELLED)
)

# Every accepted plate read (camera or attendant), with its evidence.
reads = Table(
    "reads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lane", String(8), nullable=False),  # Lane
    Column("plate", String(8), nullable=False),
    Column("confidence", Float),
    Column("char_conf", JSON),
    Column("at", UTCDateTime, nullable=False),
    Column("evidence_path", String(500)),
    Column("gate", String(32)),  # gate id: several entry or exit gates share a lane kind
    # the camera's own id of the read (POST /api/reads read_id): a resent read is answered, not decided again
    Column("read_key", String(64)),
    Index("uq_reads_read_key", "read_key", unique=True),
)

# A payment at the pay station; payment_id makes replays harmless.
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("payment_id", String(64), nullable=False, unique=True),
    Column("visit_id", ForeignKey("visits.id"), nullable=False, index=True),
    Column("plate", String(8), nullable=False),
    Column("amount_agorot", Integer, nullable=False),
    Column("fee_agorot", Integer, nullable=False),
    Column("paid_at", UTCDateTime, nullable=False),
    # what the driver typed when it was not the visit's plate (a candidate chosen at the pay station)
    Column("typed_plate", String(8)),
    CheckConstraint("amount_agorot >= 0", name="ck_payments_amount"),
    Index("ix_payments_paid_at", "paid_at"),
)

# What the gate did for a read, and why.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("read_id", ForeignKey("reads.id")),
    Column("lane", String(8), nullable=False),  # Lane
    Column("plate", String(8), nullable=False),
    Column("action", String(8), nullable=False),  # Action
    Column("reason", String(200), nullable=False),  # Reason
    Column("visit_id", ForeignKey("visits.id"), index=True),
    Column("amount_due_agorot", Integer, nullable=False),
    Column("flagged", Boolean, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("gate", String(32)),  # gate id (default: the lane name)
    Column("votes", JSON),  # the pass's votes: [{"plate": ..., "frames": n, "score": s}, ...]
    Index("ix_decisions_at", "at"),
    Index("ix_decisions_gate_at", "gate", "at"),
)

# An operator's manual action: who, why, what.
overrides = Table(
    "overrides",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("operator", String(100), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("action", String(32), nullable=False),  # OverrideAction
    Column("visit_id", ForeignKey("visits.id")),
    Column("plate", String(8)),
    Column("amount_agorot", Integer),
    Column("at", UTCDateTime, nullable=False),
)

# Allow-listed (subscribers) and deny-listed plates.
plate_lists = Table(
    "plate_lists",
    metadata,
    Column("plate", String(8), primary_key=True),
    Column("kind", String(8), primary_key=True),  # ListKind
    Column("note", String(500)),
    Column("added_at", UTCDateTime, nullable=False),
    Column("holder", String(100)),  # the subscriber's (or banned driver's) name
    Column("expires_at", UTCDateTime),  # no longer applies from then on; NULL: never expires
)

# Something a human should look at: unmatched exits, fuzzy matches, stale visits.
review_items = Table(
    "review_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),  # ReviewKind
    Column("plate", String(8), nullable=False),
    Column("visit_id", ForeignKey("visits.id")),
    Column("decision_id", ForeignKey("decisions.id")),
    Column("reason", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", String(100)),
    Column("resolution", String(500)),
    # 0007: with 200,000 items (1 in 50 open) each of these was a scan of all of them, 35-50 ms on SQLite; now
    # 0.2-2 ms (scripts/benchmark_gate_ops.py). By visit: a visit's page, and the check for an open fuzzy-match
    # item before a decision files another. By resolved_at: the audit log, and (resolved_at IS NULL) the open
    # queue and the admin header's count of it, on every page view.
    Index("ix_review_items_visit_id", "visit_id"),
    Index("ix_review_items_resolved_at", "resolved_at"),
)


# API tokens of `gate serve`: only a SHA-256 of the secret is kept; revoked tokens stay for the record.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),  # who acted, in overrides and reviews
    Column("role", String(16), nullable=False),  # Role
    Column("token_hash", String(64), nullable=False, unique=True),  # hex SHA-256 of the secret
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # a camera token bound to one gate and its lane posts reads of that lane at that gate and claims that gate's
    # manual opens, nothing else (migration 0006); NULL: any gate and lane
    Column("gate", String(32)),
    Column("lane", String(8)),  # Lane
)


# Evidence of a decision, one row per (decision, kind): the full frame (downscaled JPEG) and the
# rectified plate. ``file`` is a name the ledger made inside the evidence folder, served by id only;
# ``expired_at`` is set when retention deletes the file (the row stays: the page says it expired).
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("decision_id", ForeignKey("decisions.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # EvidenceKind
    Column("file", String(200), nullable=False),
    Column("content_type", String(32), nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("width", Integer),
    Column("height", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expired_at", UTCDateTime),
    UniqueConstraint("decision_id", "kind", name="uq_evidence_decision_kind"),
)

# Commands for a gate's `gate run` (a manual open from the API or the web page), picked up by polling.
gate_commands = Table(
    "gate_commands",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("gate", String(32), nullable=False),
    Column("command", String(16), nullable=False),  # GateCommand
    Column("visit_id", ForeignKey("visits.id")),
    Column("requested_by", String(100), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime),
    Index("ix_gate_commands_gate_done", "gate", "done_at"),
)

# Operator accounts of the web page; the password is kept as a KDF hash (scrypt), never in clear.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # Role (viewer, operator)
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime),
)

# Web sessions: the cookie holds a random secret, the ledger its SHA-256; logout revokes the row.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    # where the login came from (`users.exact_address`): for 30 days, guesses from elsewhere do not lock the user out
    # of there (0008)
    Column("remote", String(64)),
    Index("ix_web_sessions_user_remote", "user_id", "remote"),
)

# Failed logins, for rate limiting across server processes and for the record.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False),
    Column("remote", String(64)),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_username_at", "username", "at"),
    Index("ix_login_failures_remote_at", "remote", "at"),  # the per-address limit
    Index("ix_login_failures_at", "at"),  # each attempt deletes the failures older than RECORDS_KEPT (0006)
)

# Objects migration 0003 makes outside this metadata (dialect-specific search indexes); the schema
# comparison in tests and Alembic's autogenerate skip them.
UNMODELLED = ("visits_plate_fts", "ix_visits_plate_trgm")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's filter: everything but UNMODELLED (and FTS5's shadow tables)."""
    return not (name or "").startswith(UNMODELLED)


def schema_metadata() -> MetaData:
    """``metadata`` with every index, for the migrations and the schema tests.

    The partial unique index is declared here rather than at import because its
    ``postgresql_where`` loads the whole PostgreSQL dialect (50 ms of every
    ``gate`` command's start-up), and only creating or comparing the schema
    needs it; the ledger's queries never name an index.
    """
    if not any(index.name == "uq_visits_open_plate" for index in visits.indexes):
        # never two open visits for one plate, enforced by the database itself; it also
        # serves every "state = 'open'" query (count, fuzzy candidates), so no index on state
        Index(
            "uq_visits_open_plate",
            visits.c.plate,
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        )
    return metadata

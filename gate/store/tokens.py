"""API tokens of ``gate serve``: created, listed, revoked, and looked up by the secret's hash.

A secret is 32 random bytes (URL-safe text) shown once, at creation; the
ledger keeps only its SHA-256, so a copy of the database or a backup lets
nobody in, and a lookup by that hash leaks nothing useful through timing.
The token's name is who acted in every override and review the API records.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from gate.rules.clock import iso, now_utc
from gate.rules.codes import Lane, Role
from gate.rules.errors import GateError, InvalidInput
from gate.rules.votes import gate_id
from gate.store import models, queries
from gate.store.ledger import Ledger, _text

log = logging.getLogger(__name__)

SECRET_PREFIX = "pgt_"  # recognisable in a leaked log or a config file


@dataclass(frozen=True)
class ApiToken:
    """A token as the ledger keeps it: never the secret."""

    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    gate: str | None = None  # a camera token bound to this gate and lane (None: any)
    lane: Lane | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may_act_for(self, gate: str, lane: Lane | None = None) -> bool:
        """Whether this token may post reads of ``lane`` at ``gate`` (claim ``gate``'s manual opens: no lane)."""
        return self.gate is None or (self.gate == gate and (lane is None or self.lane == lane))

    @classmethod
    def from_row(cls, row: Row[Any]) -> "ApiToken":
        return cls(row.id, row.name, Role(row.role), row.created_at, row.revoked_at, row.gate,
                   None if row.lane is None else Lane(row.lane))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "gate": self.gate,
            "lane": None if self.lane is None else self.lane.value,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "active": self.active,
        }


@dataclass(frozen=True)
class NewToken:
    """A token just created, with its secret: the only time the secret exists outside its holder."""

    token: ApiToken
    secret: str


def hash_secret(secret: str) -> str:
    """Hex SHA-256 of the secret: what the api_tokens table stores and looks up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Tokens:
    """The api_tokens table of one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def create(self, name: str, role: Role | str, gate: str | None = None, lane: Lane | str | None = None) -> NewToken:
        """A new token; GateError when the name is taken (revoked names stay taken: they name past actions).

        ``gate`` and ``lane`` bind a camera token to its barrier; other roles act for the whole lot."""
        name = _token_name(name)
        try:
            role = Role(role)
        except ValueError:
            expected = ", ".join(r.value for r in Role)
            raise InvalidInput(f"invalid role {role!r}: expected one of {expected}") from None
        if (gate is None) != (lane is None):
            raise InvalidInput(f"gate {gate!r}, lane {lane!r}: a camera token is bound to a gate and its lane, "
                               "expected both or neither")
        bound_lane: Lane | None = None
        if gate is not None and lane is not None:
            gate = gate_id(gate)
            if role is not Role.CAMERA:
                raise InvalidInput(f"gate {gate!r} for a {role} token: expected a gate only for a camera token")
            try:
                bound_lane = Lane(lane)
            except ValueError:
                raise InvalidInput(f"lane {lane!r}: expected entry or exit") from None
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        created = now_utc()
        values = {"name": name, "role": role.value, "token_hash": hash_secret(secret), "created_at": created,
                  "gate": gate, "lane": bound_lane and bound_lane.value}

        def run(conn: Connection) -> ApiToken:
            if queries.token_by_name(conn, name) is not None:
                raise GateError(f"a token named {name!r} already exists: pick another name")
            if conn.execute(select(models.users.c.id).where(models.users.c.username == name.lower())).first():
                # the audit log records a token's name and a web user's name alike: one name, one actor
                raise GateError(f"a web user named {name.lower()!r} exists: a token may not take its name")
            token_id = queries.insert_row(conn, models.api_tokens, values)
            return ApiToken(token_id, name, role, created, None, gate, bound_lane)

        # a concurrent create of the same name loses on the unique index; the retry then finds the name taken
        token = self.ledger._transaction(run)
        where = f" for the {bound_lane} at gate {gate}" if gate else ""
        log.info("api token %r created with role %s%s", name, role, where)
        return NewToken(token, secret)

    def list(self) -> list[ApiToken]:
        """Every token, revoked ones too, oldest first."""
        with self.ledger._reader() as conn:
            return [ApiToken.from_row(r) for r in queries.all_tokens(conn)]

    def revoke(self, name: str) -> ApiToken:
        """Revoke a live token at once: its next request is refused."""
        name = _token_name(name)

        def run(conn: Connection) -> ApiToken:
            if not queries.revoke_token(conn, name, now_utc()):
                raise GateError(f"no live token named {name!r}")
            row = queries.token_by_name(conn, name)
            assert row is not None
            return ApiToken.from_row(row)

        token = self.ledger._transaction(run)
        log.info("api token %r revoked", name)
        return token

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live token of this secret, else None (unknown or revoked)."""
        if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
            return None
        with self.ledger._reader() as conn:
            row = queries.token_by_hash(conn, hash_secret(secret))
        if row is None or row.revoked_at is not None:
            return None
        return ApiToken.from_row(row)


def _token_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a token name is required")
    return _text(models.api_tokens.c.name, name.strip())

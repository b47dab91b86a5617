"""Web page accounts: users with a scrypt password hash, login sessions, and failed-login throttling.

Why scrypt from hashlib: a KDF that is memory-hard (a stolen ledger copy
cannot be brute-forced on a GPU cheaply) and needs no extra package. The
hash string carries its own parameters and salt, so they can be raised later
without breaking old hashes. A session cookie is 32 random bytes; the ledger
keeps only its SHA-256 (like API tokens), and the form token against CSRF is
derived from the cookie's secret, so it is per session and stored nowhere.
Failed logins are rows in login_failures: the limit holds across several
server processes and the attempts stay on record (never the password).
An attempt is recorded before its password is checked, in the transaction
that counts the earlier ones (and deleted when the password was right), so
concurrent guesses cannot all pass the count during the ~50 ms check; one
address may fail FAILURE_LIMIT_PER_ADDRESS times in the window whatever
usernames it tries, and one process checks at most CONCURRENT_CHECKS
passwords at once (each costs 16 MiB and a core for ~50 ms).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from gate.rules.clock import iso, now_utc
from gate.rules.codes import Role
from gate.rules.errors import GateError, InvalidInput
from gate.store import models
from gate.store.ledger import Ledger, _text

log = logging.getLogger(__name__)

USER_ROLES: tuple[Role, ...] = (Role.VIEWER, Role.OPERATOR)

# scrypt cost: n=2**14, r=8 is 16 MiB and ~50 ms per check on this box; stored per hash
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32
_SALT_BYTES = 16
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # scrypt takes any length; a 10 MB password should not

SESSION_HOURS = 12.0  # one shift in the booth
FAILURE_LIMIT = 5  # failed logins of one username from one address ...
FAILURE_WINDOW = timedelta(minutes=5)  # ... within this long: further attempts from there are refused
# ... and from all addresses together. Counted over all addresses alone, 5 anonymous guesses from anywhere locked an
# operator out of the page (an auditor's finding); this cap still bounds guessing from many addresses. It does not
# hold at an address the user has logged in from (a session started there within RECORDS_KEPT): 4 addresses of an
# attacker's, 5 guesses each, would otherwise lock the booth's own terminal out every 5 minutes. The per-address
# limits still hold there.
FAILURE_LIMIT_PER_USER = 20
# failed logins are kept this long for the record, then deleted by the next login attempt; ended sessions too, deleted
# by the next successful login
RECORDS_KEPT = timedelta(days=30)
FAILURE_LIMIT_PER_ADDRESS = 20  # failed logins from one remote address, any usernames, within FAILURE_WINDOW
CONCURRENT_CHECKS = 2  # password checks at once in this process: the rest wait (at most CHECK_WAIT_S)
CHECK_WAIT_S = 10.0
LOGIN_LOCK_KEY = 7305000003  # PostgreSQL advisory lock: one count-and-record of an attempt at a time
_checks = threading.BoundedSemaphore(CONCURRENT_CHECKS)


class LoginFailed(GateError):
    """Unknown user, wrong password or a disabled account (one message for all: no user enumeration)."""


class LoginThrottled(GateError):
    """Too many failed logins for this username or from this address lately, or the server is busy checking
    other passwords: try again later."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$key``: a random salt per hash, the cost parameters kept beside it."""
    _check_password(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, n, r, p, _KEY_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the hash; constant-time compare, False for a malformed hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(key)
        derived = _scrypt(password, _unb64(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=64 * 1024 * 1024)


# checked against when the username is unknown, so that a miss costs as long as a wrong password
_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'0' * _SALT_BYTES)}${_b64(b'0' * _KEY_BYTES)}"


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")


def session_hash(secret: str) -> str:
    """Hex SHA-256 of a session cookie's secret: what web_sessions stores and looks up."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_token(secret: str) -> str:
    """The session's form token: an HMAC of its secret, so only the cookie's holder can make it."""
    return hmac.new(secret.encode("utf-8"), b"plategate csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class User:
    """An account as the ledger keeps it (never the password)."""

    id: int
    username: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @classmethod
    def from_row(cls, row: Row[Any]) -> "User":
        return cls(row.id, row.username, Role(row.role), row.created_at, row.disabled_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role.value,
            "created_at": iso(self.created_at),
            "disabled_at": iso(self.disabled_at),
            "active": self.active,
        }


@dataclass(frozen=True)
class WebSession:
    """A live login: who, until when, and the token every form of the session must carry."""

    user: User
    expires_at: datetime
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    """A session just started: the secret goes into the cookie and nowhere else."""

    secret: str
    session: WebSession


class Users:
    """The users, web_sessions and login_failures tables of one ledger; ``clock`` is injectable for tests."""

    def __init__(self, ledger: Ledger, clock: Callable[[], datetime] = now_utc) -> None:
        self.ledger = ledger
        self.clock = clock

    # ------------------------------------------------------------------ accounts

    def create(self, username: str, role: Role | str, password: str) -> User:
        """A new account; GateError when the name is taken (disabled names stay taken: they name past actions)."""
        username = _username(username)
        role = _user_role(role)
        password_hash = hash_password(password)
        created = self.clock()
        values = {"username": username, "role": role.value, "password_hash": password_hash, "created_at": created}

        def run(conn: Connection) -> User:
            if _user_row(conn, username) is not None:
                raise GateError(f"a user named {username!r} already exists: pick another name")
            tokens = models.api_tokens
            if conn.execute(select(tokens.c.id).where(func.lower(tokens.c.name) == username)).first():
                # the audit log records a token's name and a web user's name alike: one name, one actor
                raise GateError(f"an API token named {username!r} exists: a web user may not take its name")
            user_id = conn.execute(insert(models.users).values(values)).inserted_primary_key
            assert user_id is not None
            return User(int(user_id[0]), username, role, created, None)

        user = self.ledger._transaction(run)
        log.info("web user %r created with role %s", username, role)
        return user

    def list(self) -> list[User]:
        """Every account, disabled ones too, oldest first."""
        with self.ledger._reader() as conn:
            return [User.from_row(r) for r in conn.execute(select(models.users).order_by(models.users.c.id))]

    def disable(self, username: str) -> User:
        """Disable an account and end its sessions at once."""
        username = _username(username)
        now = self.clock()

        def run(conn: Connection) -> User:
            row = _user_row(conn, username)
            if row is None or row.disabled_at is not None:
                raise GateError(f"no active user named {username!r}")
            conn.execute(update(models.users).where(models.users.c.id == row.id).values(disabled_at=now))
            sessions = models.web_sessions
            conn.execute(
                update(sessions)
                .where(sessions.c.user_id == row.id, sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return User(row.id, row.username, Role(row.role), row.created_at, now)

        user = self.ledger._transaction(run)
        log.info("web user %r disabled; its sessions ended", username)
        return user

    # ------------------------------------------------------------------ logins

    def login(
        self, username: str, password: str, remote: str | None = None, hours: float = SESSION_HOURS
    ) -> NewSession:
        """Check the password and start a session; LoginThrottled after too many failures, else LoginFailed."""
        name = username.strip().lower()[:100] if isinstance(username, str) else ""
        if not name.isprintable():  # a NUL reached PostgreSQL, which refused it: a 503 and an error line a try
            raise LoginFailed("wrong username or password")
        now = self.clock()
        exact = None if remote is None else exact_address(remote[:64])
        network = None if remote is None else address_key(remote[:64])
        since = now - FAILURE_WINDOW

        def record_attempt(conn: Connection) -> tuple[int, Row[Any] | None] | LoginThrottled:
            # counted and recorded in one transaction (one at a time): a concurrent attempt sees this one
            if conn.dialect.name == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(LOGIN_LOCK_KEY)))
            conn.execute(delete(models.login_failures).where(models.login_failures.c.at < now - RECORDS_KEPT))
            failures = _recent_failures(conn, name, since)
            # the user's own terminal (a session started from this very address lately) counts only its own
            # failures: another host of the lot's IPv6 /64 must not lock the booth out; elsewhere the whole /64 counts
            known = exact is not None and _logged_in_from(conn, name, exact, now - RECORDS_KEPT)
            here = [at for at, where in failures
                    if exact is None or (where == exact if known else _in_network(where, network))]
            if len(here) >= FAILURE_LIMIT:
                log.warning("login refused for %r from %s: %d failures from there in %s", name, exact, len(here),
                            FAILURE_WINDOW)
                return _throttled("for this user", here[-FAILURE_LIMIT], now)
            if len(failures) >= FAILURE_LIMIT_PER_USER and not known:
                log.warning("login refused for %r from %s: %d failures in %s", name, exact, len(failures),
                            FAILURE_WINDOW)
                return _throttled("for this user", failures[-FAILURE_LIMIT_PER_USER][0], now)
            if exact is not None and network is not None:
                from_address = _recent_failures_from(conn, exact if known else network, since)
                if len(from_address) >= FAILURE_LIMIT_PER_ADDRESS:
                    log.warning("login refused for %r from %s: %d failures from that address in %s", name, exact,
                                len(from_address), FAILURE_WINDOW)
                    return _throttled("from this address", from_address[-FAILURE_LIMIT_PER_ADDRESS], now)
            values = {"username": name or "?", "remote": exact, "at": now}
            attempt = conn.execute(insert(models.login_failures).values(values)).inserted_primary_key
            assert attempt is not None
            return int(attempt[0]), _user_row(conn, name) if name else None

        recorded = self.ledger._transaction(record_attempt)
        if isinstance(recorded, LoginThrottled):
            raise recorded
        attempt_id, row = recorded
        if not _checks.acquire(timeout=CHECK_WAIT_S):  # the attempt stays recorded as a failure
            log.warning("login of %r from %s refused: %d password checks busy for %g s", name, exact,
                        CONCURRENT_CHECKS, CHECK_WAIT_S)
            raise LoginThrottled("the server is busy checking other logins: try again in a few seconds", 5)
        try:
            ok = verify_password(password if isinstance(password, str) else "",
                                 row.password_hash if row else _DUMMY_HASH)
        finally:
            _checks.release()
        if row is None or not ok or row.disabled_at is not None:
            log.warning("failed login for %r from %s", name, exact)  # never the password
            raise LoginFailed("wrong username or password")
        user = User.from_row(row)
        secret = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=hours)
        values = {"token_hash": session_hash(secret), "user_id": user.id, "created_at": now, "expires_at": expires,
                  "remote": exact}
        attempts = models.login_failures

        def start(conn: Connection) -> None:  # the attempt was no failure: off the record, with the session in
            conn.execute(delete(attempts).where(attempts.c.id == attempt_id))
            sessions = models.web_sessions
            conn.execute(delete(sessions).where(sessions.c.expires_at < now - RECORDS_KEPT))
            conn.execute(insert(sessions).values(values))

        self.ledger._transaction(start)
        log.info("login of %r (%s) from %s", user.username, user.role, exact)
        return NewSession(secret, WebSession(user, expires, csrf_token(secret)))

    def session(self, secret: str) -> WebSession | None:
        """The live session of a cookie's secret: None when unknown, expired, logged out or its user disabled."""
        if not secret or len(secret) > 200:
            return None
        s, u = models.web_sessions, models.users
        query = (
            select(s.c.expires_at, s.c.revoked_at, u)
            .join(u, u.c.id == s.c.user_id)
            .where(s.c.token_hash == session_hash(secret))
        )
        with self.ledger._reader() as conn:
            row = conn.execute(query).first()
        if row is None or row.revoked_at is not None or row.disabled_at is not None or row.expires_at <= self.clock():
            return None
        return WebSession(User.from_row(row), row.expires_at, csrf_token(secret))

    def logout(self, secret: str) -> None:
        """End the cookie's session (a copy of the cookie stops working too)."""
        s = models.web_sessions
        now = self.clock()
        self.ledger._transaction(
            lambda conn: conn.execute(
                update(s).where(s.c.token_hash == session_hash(secret), s.c.revoked_at.is_(None)).values(revoked_at=now)
            )
        )


def _user_row(conn: Connection, username: str) -> Row[Any] | None:
    return conn.execute(select(models.users).where(models.users.c.username == username)).first()


def address_key(remote: str) -> str:
    """Where a login came from, as the limits count it: an IPv6 address by its /64 (one host is handed a whole
    /64, so counted per address it would have unlimited fresh addresses), anything else as given."""
    ip = _ipv6_host(remote)
    return exact_address(remote) if ip is None else str(ipaddress.ip_network(f"{ip}/64", strict=False))


def exact_address(remote: str) -> str:
    """Where a login came from, as recorded: an IPv6 address written out in full (its /64 is then its first 20
    characters), another address in its usual form, anything else as given."""
    ip = _ipv6_host(remote)
    if ip is not None:
        return ip.exploded
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return remote


def _ipv6_host(remote: str) -> ipaddress.IPv6Address | None:
    """The address when it is IPv6 proper (not an IPv4 one mapped into it)."""
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return None
    return ip if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None else None


def _in_network(recorded: str | None, network: str | None) -> bool:
    """Whether a recorded address (`exact_address`) lies in ``network`` (an `address_key`)."""
    return recorded is not None and network is not None and address_key(recorded) == network


def _recent_failures(conn: Connection, username: str, since: datetime) -> list[tuple[datetime, str | None]]:
    """(time, address) of the username's failures since ``since``, oldest first."""
    f = models.login_failures
    query = select(f.c.at, f.c.remote).where(f.c.username == username, f.c.at > since).order_by(f.c.at)
    return [(at, remote) for at, remote in conn.execute(query)]


def _logged_in_from(conn: Connection, username: str, remote: str | None, since: datetime) -> bool:
    """Whether a session of this user was started from ``remote`` (an `exact_address`) after ``since``. Bounded in time
    because sessions are deleted only by a successful login: an address the user left months ago is no longer theirs."""
    if remote is None:
        return False
    s, u = models.web_sessions, models.users
    query = (
        select(s.c.id)
        .join(u, u.c.id == s.c.user_id)
        # or its /64: sessions started before exact addresses were recorded (2026-11-29) hold that
        .where(u.c.username == username, s.c.remote.in_({remote, address_key(remote)}), s.c.created_at > since)
    )
    return conn.execute(query.limit(1)).first() is not None


def _recent_failures_from(conn: Connection, place: str, since: datetime) -> list[datetime]:
    """Failures since ``since`` from ``place``: one address, or an IPv6 /64 (`address_key`), whose recorded
    addresses all begin with its first 20 characters written out (a few minutes' rows on ix_login_failures_at)."""
    f = models.login_failures
    try:
        network = ipaddress.ip_network(place) if place.endswith("/64") else None
    except ValueError:  # a remote that only looks like a network ("x/64", from a proxy's header)
        network = None
    if network is not None:
        where = func.substr(f.c.remote, 1, 20) == network.network_address.exploded[:20]
    else:
        where = f.c.remote == place
    query = select(f.c.at).where(where, f.c.at > since).order_by(f.c.at)
    return list(conn.execute(query).scalars())


def _throttled(whom: str, oldest_counted: datetime, now: datetime) -> LoginThrottled:
    retry = max(1, int((oldest_counted + FAILURE_WINDOW - now).total_seconds()) + 1)
    return LoginThrottled(f"too many failed logins {whom}: try again in {retry} s", retry)


def _username(username: str) -> str:
    """Usernames are compared lower-case and trimmed: 'Dana ' and 'dana' are one account."""
    if not isinstance(username, str) or not username.strip():
        raise InvalidInput("a username is required")
    name = username.strip().lower()
    if any(c.isspace() or not c.isprintable() for c in name):
        raise InvalidInput(f"username {name!r}: expected one word without spaces")
    return _text(models.users.c.username, name)


def _user_role(role: Role | str) -> Role:
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in USER_ROLES:
        raise InvalidInput(f"invalid role {role!r} for a web user: expected viewer or operator")
    assert parsed is not None
    return parsed

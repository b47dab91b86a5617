"""Web accounts in the ledger: scrypt hashes, logins, throttling, sessions (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select

from gate.rules.errors import GateError, InvalidInput
from gate.store import models
from gate.store import users as users_module
from gate.store.ledger import Ledger
from gate.store.users import (
    CONCURRENT_CHECKS,
    FAILURE_LIMIT,
    FAILURE_LIMIT_PER_ADDRESS,
    FAILURE_LIMIT_PER_USER,
    RECORDS_KEPT,
    LoginFailed,
    LoginThrottled,
    Users,
    csrf_token,
    hash_password,
    session_hash,
    verify_password,
)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(ledger: Ledger, clock: Clock) -> Users:
    u = Users(ledger, clock=clock)
    u.create("dana", "operator", "correct horse")
    return u


def test_a_password_hash_is_salted_scrypt_with_its_parameters():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first.startswith("scrypt$16384$8$1$") and first != second  # a random salt each time
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsf", first)
    assert not verify_password("correct horse", "md5$abc") and not verify_password("x", "garbage")


def test_a_password_of_fewer_than_8_characters_is_refused(ledger: Ledger):
    with pytest.raises(InvalidInput, match="8 to 1024"):
        Users(ledger).create("eve", "viewer", "short")


def test_only_viewer_and_operator_accounts_exist(ledger: Ledger):
    with pytest.raises(InvalidInput, match="viewer or operator"):
        Users(ledger).create("cam", "camera", "long enough")


def test_the_ledger_keeps_no_password_and_names_are_unique(users: Users, ledger: Ledger):
    with ledger.engine.connect() as conn:
        stored = conn.execute(select(models.users.c.password_hash)).scalar_one()
    assert "correct horse" not in stored
    with pytest.raises(GateError, match="already exists"):
        users.create("Dana", "viewer", "another one")  # names compare lower-case
    assert [u.username for u in users.list()] == ["dana"]


def test_a_login_starts_a_session_kept_only_as_a_hash(users: Users, ledger: Ledger, clock: Clock):
    new = users.login("dana", "correct horse", remote="10.0.0.7")
    assert new.session.user.username == "dana" and new.session.expires_at == T0 + timedelta(hours=12)
    assert new.session.csrf_token == csrf_token(new.secret)
    with ledger.engine.connect() as conn:
        row = conn.execute(select(models.web_sessions)).one()
    assert row.token_hash == session_hash(new.secret) and new.secret not in row.token_hash
    assert users.session(new.secret) == new.session


def test_a_session_expires(users: Users, clock: Clock):
    new = users.login("dana", "correct horse")
    clock.now += timedelta(hours=12)
    assert users.session(new.secret) is None


def test_logout_ends_the_session(users: Users):
    new = users.login("dana", "correct horse")
    users.logout(new.secret)
    assert users.session(new.secret) is None


def test_disabling_a_user_ends_its_sessions_and_refuses_its_logins(users: Users):
    new = users.login("dana", "correct horse")
    assert not users.disable("dana").active
    assert users.session(new.secret) is None
    with pytest.raises(LoginFailed):
        users.login("dana", "correct horse")


def test_a_username_with_a_nul_is_a_failed_login_not_a_database_error(users: Users):
    """PostgreSQL refuses NUL in text: the login page answered 503 and logged an error per try."""
    for name in ("dana\x00", "da\x00na", "da\tna"):
        with pytest.raises(LoginFailed, match="wrong username or password"):
            users.login(name, "correct horse")
    assert users.login("dana", "correct horse").secret


def test_failed_logins_are_recorded_without_the_password_and_throttled(users: Users, ledger: Ledger, clock: Clock):
    for _ in range(FAILURE_LIMIT):
        with pytest.raises(LoginFailed, match="wrong username or password"):
            users.login("dana", "guess", remote="10.0.0.9")
    with pytest.raises(LoginThrottled) as throttled:
        users.login("dana", "correct horse")  # even the right password, until the window passes
    assert 0 < throttled.value.retry_after_s <= 301
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(models.login_failures)).all()
    assert len(rows) == FAILURE_LIMIT and {(r.username, r.remote) for r in rows} == {("dana", "10.0.0.9")}
    clock.now += timedelta(minutes=5, seconds=1)
    assert users.login("dana", "correct horse").session.user.username == "dana"


def test_failures_from_one_address_do_not_lock_the_user_out_from_another(users: Users, clock: Clock):
    for _ in range(FAILURE_LIMIT):
        with pytest.raises(LoginFailed):
            users.login("dana", "guess", remote="198.51.100.4")  # anyone, anywhere, guessing
    with pytest.raises(LoginThrottled, match="for this user"):
        users.login("dana", "correct horse", remote="198.51.100.4")
    assert users.login("dana", "correct horse", remote="10.0.0.9").session.user.username == "dana"  # the booth


def test_an_ipv6_host_counts_as_its_64(users: Users, ledger: Ledger):
    for i in range(FAILURE_LIMIT):
        with pytest.raises(LoginFailed):
            users.login("dana", "guess", remote=f"2001:db8:0:1::{i + 1:x}")  # a fresh address each time
    with pytest.raises(LoginThrottled, match="for this user"):
        users.login("dana", "correct horse", remote="2001:db8:0:1::ff")
    assert users.login("dana", "correct horse", remote="2001:db8:0:2::1").session.user.username == "dana"
    with ledger.engine.connect() as conn:  # each address as it was, written out in full (its /64 leads)
        recorded = set(conn.execute(select(models.login_failures.c.remote)).scalars())
    assert recorded == {f"2001:0db8:0000:0001:0000:0000:0000:{i + 1:04x}" for i in range(FAILURE_LIMIT)}


def test_a_neighbour_on_the_booths_64_does_not_lock_the_booth_out(users: Users, clock: Clock):
    """A lot's LAN is one IPv6 /64: another host on it (guest Wi-Fi, a camera) guessing dana's password, every
    five minutes, must not keep dana out at the booth, where she logged in before; the neighbour is throttled."""
    booth, neighbour = "2001:db8:10:1::10", "2001:db8:10:1::666"
    users.login("dana", "correct horse", remote=booth)
    for _ in range(3):
        for _ in range(FAILURE_LIMIT):
            with pytest.raises(LoginFailed):
                users.login("dana", "guess", remote=neighbour)
        with pytest.raises(LoginThrottled):
            users.login("dana", "guess", remote="2001:db8:10:1::667")  # the rest of the /64 is still throttled
        assert users.login("dana", "correct horse", remote=booth).session.user.username == "dana"
        clock.now += timedelta(minutes=5, seconds=1)


def test_the_booth_is_not_shut_by_its_64s_guesses_at_other_usernames(users: Users, clock: Clock):
    users.login("dana", "correct horse", remote="2001:db8:10:1::10")
    for i in range(FAILURE_LIMIT_PER_ADDRESS):
        with pytest.raises(LoginFailed):
            users.login(f"user{i}", "guess", remote="2001:db8:10:1::666")
    with pytest.raises(LoginThrottled, match="from this address"):
        users.login("dana", "correct horse", remote="2001:db8:10:1::667")
    assert users.login("dana", "correct horse", remote="2001:db8:10:1::10").session.user.username == "dana"


def guess_from_many_addresses(users: Users) -> None:
    """FAILURE_LIMIT_PER_USER wrong passwords for dana, one from each of as many addresses."""
    for i in range(FAILURE_LIMIT_PER_USER):
        with pytest.raises(LoginFailed):
            users.login("dana", "guess", remote=f"198.51.100.{i}")


def test_guesses_from_many_addresses_are_capped_per_user(users: Users):
    guess_from_many_addresses(users)  # one guess from each
    with pytest.raises(LoginThrottled, match="for this user"):
        users.login("dana", "correct horse", remote="10.0.0.9")


def test_guesses_from_many_addresses_do_not_lock_the_user_out_where_they_logged_in_before(users: Users, clock: Clock):
    users.login("dana", "correct horse", remote="10.0.0.9")  # the booth's terminal, a shift just under 30 days ago
    clock.now += RECORDS_KEPT - timedelta(minutes=1)
    guess_from_many_addresses(users)
    assert users.login("dana", "correct horse", remote="10.0.0.9").session.user.username == "dana"
    with pytest.raises(LoginThrottled, match="for this user"):  # any other address is still capped
        users.login("dana", "correct horse", remote="10.0.0.10")
    for _ in range(FAILURE_LIMIT):  # and the known address keeps its own limit
        with pytest.raises(LoginFailed):
            users.login("dana", "guess", remote="10.0.0.9")
    with pytest.raises(LoginThrottled, match="for this user"):
        users.login("dana", "correct horse", remote="10.0.0.9")


def test_an_address_the_user_last_logged_in_from_over_30_days_ago_is_capped_like_any_other(
    users: Users, clock: Clock
):
    """Sessions are deleted only by a successful login: without a bound, one login long ago exempted that address
    (and whoever has it now) for good."""
    users.login("dana", "correct horse", remote="10.0.0.9")
    clock.now += RECORDS_KEPT + timedelta(minutes=1)
    guess_from_many_addresses(users)
    with pytest.raises(LoginThrottled, match="for this user"):
        users.login("dana", "correct horse", remote="10.0.0.9")


def test_a_login_from_one_users_address_does_not_exempt_another_user(users: Users):
    users.create("eli", "viewer", "battery staple")
    users.login("eli", "battery staple", remote="10.0.0.9")
    guess_from_many_addresses(users)
    with pytest.raises(LoginThrottled, match="for this user"):
        users.login("dana", "correct horse", remote="10.0.0.9")


def test_a_user_may_not_take_an_api_tokens_name(ledger: Ledger):
    """The audit log names a token and a web user alike: the name of a token, even revoked, is not free."""
    from gate.store.tokens import Tokens

    Tokens(ledger).create("Pay-2", "pay-station")
    with pytest.raises(GateError, match="an API token named 'pay-2' exists"):
        Users(ledger).create("pay-2", "operator", "correct horse")
    Tokens(ledger).revoke("Pay-2")
    with pytest.raises(GateError, match="'pay-2'"):
        Users(ledger).create("PAY-2", "viewer", "correct horse")
    assert Users(ledger).list() == []


def test_concurrent_guesses_cannot_all_pass_the_failure_count(users: Users, monkeypatch):
    """40 guesses at once from 40 addresses: each is recorded before its password is checked, so only
    FAILURE_LIMIT_PER_USER are checked."""
    checked = []

    def slow_verify(password: str, stored: str) -> bool:
        checked.append(password)
        time.sleep(0.05)  # scrypt's ~50 ms: the window the old count-then-check-then-record left open
        return False

    monkeypatch.setattr(users_module, "verify_password", slow_verify)
    start = threading.Barrier(40)

    def guess(i: int) -> str:
        start.wait()
        try:
            users.login("dana", f"guess-{i:04d}", remote=f"10.0.1.{i}")
        except (LoginFailed, LoginThrottled) as exc:
            return type(exc).__name__
        return "logged in"

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(guess, range(40)))
    assert outcomes.count("LoginFailed") == FAILURE_LIMIT_PER_USER
    assert outcomes.count("LoginThrottled") == 40 - FAILURE_LIMIT_PER_USER
    assert len(checked) == FAILURE_LIMIT_PER_USER


def test_at_most_two_passwords_are_checked_at_once(ledger: Ledger, clock: Clock, monkeypatch):
    """Random usernames from many addresses pass every count, but the scrypt checks take turns."""
    running, most = 0, 0
    lock = threading.Lock()

    def slow_verify(password: str, stored: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.03)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(users_module, "verify_password", slow_verify)
    users = Users(ledger, clock=clock)

    def guess(i: int) -> None:
        with pytest.raises(LoginFailed):
            users.login(f"user-{i}", "some password", remote=f"10.0.2.{i}")

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(guess, range(12)))
    assert most == CONCURRENT_CHECKS == 2


def test_one_address_is_throttled_whatever_usernames_it_tries(users: Users, clock: Clock):
    for i in range(FAILURE_LIMIT_PER_ADDRESS):
        with pytest.raises(LoginFailed):
            users.login(f"random-{i}", "correct horse", remote="203.0.113.7")  # each name fails once only
    with pytest.raises(LoginThrottled, match="from this address") as throttled:
        users.login("dana", "correct horse", remote="203.0.113.7")  # even a right password, from there
    assert 0 < throttled.value.retry_after_s <= 301
    assert users.login("dana", "correct horse", remote="203.0.113.8").session.user.username == "dana"
    clock.now += timedelta(minutes=5, seconds=1)
    assert users.login("dana", "correct horse", remote="203.0.113.7").session.user.username == "dana"


def test_the_per_address_count_reads_an_index(ledger: Ledger):
    """Not a scan of every failure ever recorded (a table an attacker grows)."""
    from gate.store.users import _recent_failures_from

    with ledger.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT at FROM login_failures WHERE remote = ? AND at > ? ORDER BY at",
                ("10.0.0.9", "2026-01-01"),
            ).all()
            assert "ix_login_failures_remote_at" in str(plan), plan
        else:
            assert "ix_login_failures_remote_at" in {i["name"] for i in inspect(conn).get_indexes("login_failures")}
        assert _recent_failures_from(conn, "10.0.0.9", T0) == []


def test_a_successful_login_leaves_no_failure_on_record(users: Users, ledger: Ledger):
    users.login("dana", "correct horse", remote="10.0.0.7")
    with ledger.engine.connect() as conn:
        assert conn.execute(select(models.login_failures)).all() == []


def test_an_unknown_user_fails_like_a_wrong_password(users: Users):
    with pytest.raises(LoginFailed, match="wrong username or password"):
        users.login("nobody", "correct horse")


def test_gate_user_create_list_disable_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from gate.cli import app

    runner, db = CliRunner(), str(tmp_path / "ledger.db")
    created = runner.invoke(app, ["user", "create", "--username", "Dana", "--role", "operator", "--password-stdin",
                                  "--db", db], input="correct horse\n")
    assert created.exit_code == 0, created.output
    assert '"username": "dana"' in created.output and "correct horse" not in created.output
    short = runner.invoke(app, ["user", "create", "--username", "eve", "--role", "viewer", "--password-stdin",
                                "--db", db], input="short\n")
    assert short.exit_code == 2 and "8 to 1024" in short.output
    assert runner.invoke(app, ["user", "create", "--username", "cam", "--role", "camera", "--password-stdin",
                               "--db", db], input="long enough\n").exit_code == 2
    latin1 = runner.invoke(app, ["user", "create", "--username", "bob", "--role", "viewer", "--password-stdin",
                                 "--db", db], input=b"pass\xffword1\n")
    assert latin1.exit_code == 2 and "not UTF-8 text" in latin1.output and "Traceback" not in latin1.output
    listed = runner.invoke(app, ["user", "list", "--db", db])
    assert '"username": "dana"' in listed.output and "scrypt" not in listed.output
    disabled = runner.invoke(app, ["user", "disable", "--username", "dana", "--db", db])
    assert disabled.exit_code == 0 and '"active": false' in disabled.output
    assert runner.invoke(app, ["user", "disable", "--username", "dana", "--db", db]).exit_code == 1


def test_failures_and_ended_sessions_older_than_30_days_are_deleted_by_the_next_login(
        users: Users, ledger: Ledger, clock: Clock):
    """Both tables grow with every attempt; the record is kept a month, then the next attempt prunes it."""
    with pytest.raises(LoginFailed):
        users.login("dana", "guess", remote="10.0.0.9")
    old = users.login("dana", "correct horse")
    clock.now += RECORDS_KEPT - timedelta(hours=1)  # the failure is 29 days 23 h old: kept
    with pytest.raises(LoginFailed):
        users.login("eve", "guess")
    with ledger.engine.connect() as conn:
        assert len(conn.execute(select(models.login_failures)).all()) == 2
    clock.now += timedelta(hours=14)  # the first failure and the first session (it ended 12 h after T0) are past
    users.login("dana", "correct horse")
    with ledger.engine.connect() as conn:
        assert [r.username for r in conn.execute(select(models.login_failures))] == ["eve"]
        hashes = [r.token_hash for r in conn.execute(select(models.web_sessions))]
    assert session_hash(old.secret) not in hashes and len(hashes) == 1


def test_pruning_old_failures_reads_an_index(ledger: Ledger):
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN DELETE FROM login_failures WHERE at < ?",
                                        ("2026-01-01",)).all()
            assert "ix_login_failures_at" in str(plan), plan
        else:
            assert "ix_login_failures_at" in {i["name"] for i in inspect(conn).get_indexes("login_failures")}


def test_a_remote_that_only_looks_like_a_network_is_a_failed_login_not_an_error(users: Users):
    with pytest.raises(LoginFailed):
        users.login("dana", "guess", remote="x/64")  # a proxy's header: counted as it is


def test_a_booth_session_recorded_by_its_64_still_counts_as_the_booth(users: Users, ledger: Ledger):
    """Sessions started before exact addresses were recorded hold the /64: the booth is still known after the
    upgrade, so a neighbour's guesses do not lock it out until its next login."""
    users.login("dana", "correct horse", remote="2001:db8:10:1::10")
    with ledger.engine.begin() as conn:
        conn.execute(models.web_sessions.update().values(remote="2001:db8:10:1::/64"))
    for _ in range(FAILURE_LIMIT):
        with pytest.raises(LoginFailed):
            users.login("dana", "guess", remote="2001:db8:10:1::666")
    assert users.login("dana", "correct horse", remote="2001:db8:10:1::10").session.user.username == "dana"

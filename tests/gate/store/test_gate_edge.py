"""The ledger's edge: what it refuses before writing, how long a decision may wait, what a broken database says.

Every case on SQLite and PostgreSQL: nothing is written, the error is one line,
and the gate never opens because of an error.
"""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from gate_support import at
from sqlalchemy import create_engine, event, text

from gate.rules.errors import InvalidInput, LedgerBusy, LedgerUnavailable
from gate.rules.policy import Policy
from gate.store.ledger import MAX_ID, Ledger


def _rows(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in ("reads", "visits", "decisions")}


@contextmanager
def write_lock_held(db_url: str):
    """Another process in the middle of a write: SQLite BEGIN IMMEDIATE, PostgreSQL exclusive table locks."""
    if db_url.startswith("sqlite"):
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE reads, visits, payments IN EXCLUSIVE MODE"))  # plain SELECTs still run
        yield
        conn.rollback()
    engine.dispose()


def test_a_held_lock_fails_a_decision_closed_within_the_policy_wait(make_ledger, db_url, caplog):
    ledger = make_ledger(decision_wait_s=0.5)
    ledger.decide("entry", "1234567", at(0))
    before = _rows(ledger)
    with write_lock_held(db_url):
        start = time.monotonic()
        with pytest.raises(LedgerBusy, match="held the write lock for 0.5 s.*the gate stays closed"):
            ledger.decide("exit", "1234567", at(5))  # was: 8 x 30 s, then the raw driver error
        assert time.monotonic() - start < 3
        assert [v.plate for v in ledger.visits(inside=True)] == ["1234567"]  # reads work meanwhile
        assert ledger.review_queue(now=at(10)) == []
    assert _rows(ledger) == before
    assert "UNRECORDED exit read 1234567" in caplog.text  # the read's record when the ledger cannot take it
    assert ledger.decide("exit", "1234567", at(6)).opens  # and it decides again once the lock is gone


def test_the_wait_is_the_policys_default_five_seconds():
    assert Policy().decision_wait_s == 5.0


@pytest.mark.parametrize(
    "when",
    [
        datetime(1999, 12, 31, 23, 59, tzinfo=timezone.utc),
        datetime(9999, 1, 1, tzinfo=timezone.utc),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),  # before year 1 in UTC: OverflowError
    ],
)
def test_times_outside_the_window_are_refused_before_anything_is_written(ledger, when):
    before = _rows(ledger)
    with pytest.raises(InvalidInput, match="^at: time .* (outside the accepted window|out of range)"):
        ledger.decide("entry", "1234567", when)
    with pytest.raises(InvalidInput, match="^since: time "):
        ledger.visits(since=when)
    with pytest.raises(InvalidInput, match="^until: time "):
        ledger.visits(until=when)
    assert _rows(ledger) == before


def test_the_window_is_configurable(make_ledger):
    ledger = make_ledger(earliest_time="1990-01-01", future_days=0)
    assert ledger.decide("entry", "1234567", datetime(1995, 1, 1, tzinfo=timezone.utc)).opens
    with pytest.raises(InvalidInput, match="outside the accepted window 1990-01-01T00:00:00\\+00:00"):
        ledger.decide("entry", "7654321", datetime.now(timezone.utc) + timedelta(hours=1))


@pytest.mark.parametrize("visit_id", [0, -1, MAX_ID + 1, 99999999999999999999999])
def test_ids_out_of_range_are_refused(ledger, visit_id):
    with pytest.raises(InvalidInput, match=f"visit id {visit_id}: expected a whole number from 1 to {MAX_ID}"):
        ledger.waive("dana", "vip", visit_id=visit_id)
    with pytest.raises(InvalidInput, match="review item id"):
        ledger.resolve_review(visit_id, "dana", "ok")


def test_texts_longer_than_their_column_are_refused_on_both_backends(ledger):
    ledger.decide("entry", "1234567", at(0))
    before = _rows(ledger)
    with pytest.raises(InvalidInput, match="note is 600 characters long: expected at most 500"):
        ledger.add_plate("7654321", "allow", "n" * 600)
    with pytest.raises(InvalidInput, match="payment_id is 80 characters long: expected at most 64"):
        ledger.pay("1234567", at(30), payment_id="p" * 80)
    with pytest.raises(InvalidInput, match="operator is 101 characters long"):
        ledger.waive("o" * 101, "vip", plate="1234567")
    with pytest.raises(InvalidInput, match="NUL"):
        ledger.add_plate("7654321", "deny", "a\x00b")
    assert _rows(ledger) == before and ledger.plate_lists() == []


@pytest.mark.parametrize("confidence", [float("nan"), 1.5, -0.1])
def test_a_confidence_outside_0_to_1_is_refused(ledger, confidence):
    with pytest.raises(InvalidInput, match="confidence"):
        ledger.decide("entry", "1234567", at(0), confidence=confidence)


def test_unicode_digits_are_the_same_plate_everywhere(ledger):
    """One door (lpr.plate_format.normalize_plate): fullwidth and Arabic-Indic digits are ASCII inside."""
    entry = ledger.decide("entry", "1234567", at(0))
    assert ledger.decide("entry", "１２３４５６７", at(1)).visit_id == entry.visit_id  # repeat read, same visit
    ledger.add_plate("٧٦٥٤٣٢١", "allow", "subscriber typed in Arabic-Indic digits")
    assert ledger.plate_lists()[0]["plate"] == "7654321"
    assert ledger.decide("exit", "76-543-21", at(2)).reason == "allow-listed"
    assert [v.plate for v in ledger.visits(plate="１２-３４５-６７")] == ["1234567"]


def test_a_dropped_column_is_one_line_and_changes_nothing(tmp_path):
    path = tmp_path / "l.db"
    with Ledger.open(str(path)) as ledger:
        ledger.decide("entry", "1234567", at(0))
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE visits DROP COLUMN flag_reason")
    with Ledger.open(str(path)) as ledger:
        with pytest.raises(LedgerUnavailable, match="^database: no such column: .*flag_reason .*gate db upgrade"):
            ledger.decide("entry", "7654321", at(1))
        with ledger.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM reads")).scalar_one() == 1


def test_a_full_disk_is_one_line_and_loses_nothing_committed(tmp_path):
    path = tmp_path / "l.db"
    with Ledger.open(str(path)) as ledger:
        ledger.decide("entry", "1234567", at(0))

        @event.listens_for(ledger.engine, "connect")
        def _full(dbapi_conn, _record):  # the file may not grow: what a full disk looks like to SQLite
            dbapi_conn.execute("PRAGMA max_page_count = 1")

        ledger.engine.dispose()
        with pytest.raises(LedgerUnavailable, match="database or disk is full .free space"):
            for i in range(200):
                ledger.add_plate(f"{2000000 + i}", "allow", "x" * 400)
            ledger.decide("exit", "1234567", at(5))
    with Ledger.open(str(path)) as ledger:
        assert [v.state for v in ledger.visits()] == ["open"]

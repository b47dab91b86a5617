"""Listings at scale: every filter in SQL, pages with totals, revenue by the lot's local days."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from gate_support import at

from gate.rules.codes import Lane
from gate.rules.errors import InvalidInput


def enter(ledger, plate, minutes):
    return ledger.decide(Lane.ENTRY, plate, at=at(minutes)).visit_id


def leave(ledger, plate, minutes):
    return ledger.decide(Lane.EXIT, plate, at=at(minutes))


def plates(visits):
    return [v.plate for v in visits]


@pytest.fixture
def lot(ledger):
    """Four stays (minutes since T0): A 0-10 (free), B 20-200 (paid), C 30- (inside), D 500- (inside)."""
    enter(ledger, "1111111", 0)
    leave(ledger, "1111111", 10)
    enter(ledger, "2223455", 20)
    ledger.pay("2223455", at=at(190))
    leave(ledger, "2223455", 200)
    enter(ledger, "33345678", 30)
    enter(ledger, "4444444", 500)
    return ledger


def test_a_time_range_lists_the_visits_overlapping_it(lot):
    assert plates(lot.visits(since=at(100), until=at(300))) == ["2223455", "33345678"]
    assert plates(lot.visits(since=at(5), until=at(15))) == ["1111111"]
    assert plates(lot.visits(since=at(250))) == ["33345678", "4444444"]
    assert plates(lot.visits(until=at(20))) == ["1111111", "2223455"]
    assert plates(lot.visits(since=at(300), until=at(100))) == []


def test_a_partial_plate_of_three_or_more_digits_finds_every_plate_containing_it(lot):
    assert plates(lot.visits(plate_contains="345")) == ["2223455", "33345678"]
    assert plates(lot.visits(plate_contains="3-45-6")) == ["33345678"]  # dashes are ignored
    assert plates(lot.visits(plate_contains="999")) == []
    page = lot.visit_page(lot.visit_filter(plate_contains="345"), limit=1)
    assert (plates(page.visits), page.total, page.next_offset) == (["2223455"], 2, 1)
    both = lot.visit_page(lot.visit_filter(plate_contains="345", inside=True), limit=1)
    assert (plates(both.visits), both.total) == (["33345678"], 1)
    for bad in ("34", "abc", "123456789"):
        with pytest.raises(InvalidInput, match="plate_contains"):
            lot.visits(plate_contains=bad)


def test_inside_unpaid_and_flagged(lot):
    assert plates(lot.visits(inside=True)) == ["33345678", "4444444"]
    assert plates(lot.visits(unpaid=True)) == ["33345678", "4444444"]  # A was free, B paid
    lot.waive("dana", "vip", plate="4444444", at=at(510))
    assert plates(lot.visits(unpaid=True, inside=True)) == ["33345678"]
    lot.decide(Lane.EXIT, "3334567", at=at(600))  # a one-digit match flags C... and it owes: denied
    assert plates(lot.visits(flagged=True)) == []  # a denied exit changes nothing
    lot.override_close("dana", "left with the barrier up", plate="33345678", at=at(610))
    assert plates(lot.visits(unpaid=True)) == ["33345678"]  # closed, owing its fee


def test_pages_are_cut_in_sql_and_count_every_match(lot):
    found = lot.visit_filter()
    first = lot.visit_page(found, limit=3)
    assert (plates(first.visits), first.total, first.next_offset) == (["1111111", "2223455", "33345678"], 4, 3)
    last = lot.visit_page(found, limit=3, offset=3)
    assert (plates(last.visits), last.total, last.next_offset) == (["4444444"], 4, None)
    with pytest.raises(InvalidInput, match="limit 0"):
        lot.visit_page(found, limit=0)


def test_payments_list_in_a_range_with_their_count_and_sum(ledger):
    for i, plate in enumerate(["1111111", "2222222", "3333333"]):
        enter(ledger, plate, i)
        ledger.pay(plate, at=at(90 + i), payment_id=f"p{i}")
    page = ledger.payments(since=at(91), until=at(200), limit=1)
    assert [p.payment_id for p in page.payments] == ["p1"]
    assert (page.total, page.total_amount_agorot, page.next_offset) == (2, 4800, 1)
    assert ledger.payments(until=at(91)).total == 1  # until is exclusive


def test_revenue_counts_the_lots_local_days_not_utcs(ledger):
    # 23:30 UTC on 2 March is 01:30 on 3 March in Asia/Jerusalem (UTC+2)
    late = datetime(2025, 3, 2, 21, 0, tzinfo=timezone.utc)
    ledger.decide(Lane.ENTRY, "1234567", at=late)
    ledger.pay("1234567", at=datetime(2025, 3, 2, 23, 30, tzinfo=timezone.utc))
    ledger.decide(Lane.ENTRY, "7654321", at=late)
    ledger.pay("7654321", at=datetime(2025, 3, 2, 21, 30, tzinfo=timezone.utc))
    rows = ledger.revenue(date(2025, 3, 2), date(2025, 3, 3))
    assert [(r.period, r.payments, r.amount_agorot) for r in rows] == [
        (date(2025, 3, 2), 1, 1200),
        (date(2025, 3, 3), 1, 3600),
    ]
    assert [(r.period, r.payments) for r in ledger.revenue(date(2025, 3, 1), date(2025, 3, 31), by="month")] == [
        (date(2025, 3, 1), 2)
    ]


def test_a_monthly_report_counts_only_the_days_asked_for(ledger):
    for plate, day in [("1111111", 10), ("2222222", 20)]:  # November 10 and 20, noon in Jerusalem
        ledger.decide(Lane.ENTRY, plate, at=datetime(2025, 11, day, 9, 0))
        ledger.pay(plate, at=datetime(2025, 11, day, 12, 0))
    for plate, day in [("3333333", 5), ("4444444", 20)]:  # December 5 and 20
        ledger.decide(Lane.ENTRY, plate, at=datetime(2025, 12, day, 9, 0))
        ledger.pay(plate, at=datetime(2025, 12, day, 12, 0))
    rows = ledger.revenue(date(2025, 11, 15), date(2025, 12, 10), by="month")
    assert [(r.period, r.payments) for r in rows] == [(date(2025, 11, 1), 1), (date(2025, 12, 1), 1)]
    assert [r.payments for r in ledger.revenue(date(2025, 11, 1), date(2025, 12, 31), by="month")] == [2, 2]


def test_a_naive_time_is_the_lots_local_time(ledger):
    ledger.decide(Lane.ENTRY, "1234567", at=datetime(2025, 3, 2, 10, 0))  # 10:00 in Jerusalem
    assert ledger.visits()[0].entry_at == datetime(2025, 3, 2, 8, 0, tzinfo=timezone.utc)


def test_a_report_from_the_first_day_the_policy_allows_is_not_refused(ledger):
    """Local midnight of 2000-01-01 in Jerusalem is 22:00 UTC the day before the policy's earliest time."""
    rows = ledger.revenue(date(2000, 1, 1), date(2000, 1, 2))
    assert [(r.period, r.payments) for r in rows] == [(date(2000, 1, 1), 0), (date(2000, 1, 2), 0)]
    with pytest.raises(InvalidInput, match="from 1999-12-31"):
        ledger.revenue(date(1999, 12, 31), date(2000, 1, 2))


def test_a_bad_report_range_is_refused(ledger):
    with pytest.raises(InvalidInput, match="before from"):
        ledger.revenue(date(2025, 3, 2), date(2025, 3, 1))
    with pytest.raises(InvalidInput, match="expected day or month"):
        ledger.revenue(date(2025, 3, 2), date(2025, 3, 2), by="week")

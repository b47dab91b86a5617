"""The gate's rules, on SQLite and PostgreSQL (see conftest.db_url)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from gate_support import at
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from gate.rules.codes import DuplicateEntry
from gate.rules.errors import ClockError, GateError, InvalidInput, NoOpenVisit, PaymentConflict
from gate.store.models import visits
from lpr.plate_format import PlateFormatError

CAR, OTHER = "12-345-67", "765-43-218"


# ---------------------------------------------------------------- entry


def test_entry_opens_a_visit(ledger):
    d = ledger.decide("entry", CAR, at(0))
    assert (d.action, d.reason, d.amount_due, d.flagged) == ("open", "entered", Decimal("0.00"), False)
    [visit] = ledger.visits()
    assert (visit.id, visit.plate, visit.state, visit.entry_at) == (d.visit_id, "1234567", "open", at(0))


def test_plates_with_or_without_dashes_are_the_same_car(ledger):
    first = ledger.decide("entry", "12-345-67", at(0))
    again = ledger.decide("entry", "1234567", at(1))
    assert again.visit_id == first.visit_id


def test_a_plate_that_is_not_7_or_8_digits_is_rejected_before_anything_is_written(ledger):
    with pytest.raises(PlateFormatError):
        ledger.decide("entry", "12A4567", at(0))
    assert ledger.decisions() == []


def test_deny_listed_plate_is_denied_at_entry(ledger):
    ledger.add_plate(CAR, "deny", note="stolen")
    d = ledger.decide("entry", CAR, at(0))
    assert (d.action, d.reason, d.visit_id) == ("deny", "deny-listed", None)
    assert ledger.visits() == []


def test_entry_is_denied_when_the_lot_is_full(make_ledger):
    ledger = make_ledger(capacity=2)
    assert ledger.decide("entry", "1111111", at(0)).action == "open"
    assert ledger.decide("entry", "2222222", at(1)).action == "open"
    full = ledger.decide("entry", "3333333", at(2))
    assert (full.action, full.reason) == ("deny", "lot-full")
    ledger.pay("1111111", at(5))
    ledger.decide("exit", "1111111", at(6))
    assert ledger.decide("entry", "3333333", at(7)).action == "open"


def test_subscribers_enter_even_when_the_lot_is_full(make_ledger):
    ledger = make_ledger(capacity=1)
    ledger.add_plate(OTHER, "allow")
    ledger.decide("entry", CAR, at(0))
    d = ledger.decide("entry", OTHER, at(1))
    assert (d.action, d.reason) == ("open", "allow-listed")


def test_second_entry_closes_the_stale_visit_as_flagged_and_opens_a_new_one(ledger):
    stale = ledger.decide("entry", CAR, at(0))
    fresh = ledger.decide("entry", CAR, at(300))
    assert (fresh.action, fresh.reason) == ("open", "entered")
    assert fresh.visit_id != stale.visit_id
    old = ledger.visit(stale.visit_id)
    assert (old.state, old.flagged, old.close_reason, old.exit_at) == ("closed", True, "stale", at(300))
    assert [v.id for v in ledger.visits(inside=True)] == [fresh.visit_id]
    assert [i.kind for i in ledger.review_queue(now=at(300))] == ["stale-visit"]


def test_duplicate_entry_policy_deny_keeps_the_first_visit(make_ledger):
    ledger = make_ledger(duplicate_entry=DuplicateEntry.DENY)
    first = ledger.decide("entry", CAR, at(0))
    second = ledger.decide("entry", CAR, at(300))
    assert (second.action, second.reason, second.visit_id) == ("deny", "already-inside", first.visit_id)
    assert len(ledger.visits()) == 1


def test_reading_the_same_car_twice_at_the_barrier_is_one_visit(ledger):
    first = ledger.decide("entry", CAR, at(0))
    again = ledger.decide("entry", CAR, at(1))
    assert (again.action, again.reason, again.visit_id) == ("open", "repeat-read", first.visit_id)
    assert len(ledger.visits()) == 1
    assert ledger.review_queue(now=at(1)) == []


def test_the_database_itself_forbids_two_open_visits_for_one_plate(ledger):
    ledger.decide("entry", CAR, at(0))
    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(insert(visits).values(plate="1234567", entry_at=at(5), state="open", paid_agorot=0))


def test_a_low_confidence_read_still_lets_the_car_in_but_is_flagged_for_review(ledger):
    d = ledger.decide("entry", CAR, at(0), confidence=0.3, char_conf=[0.9, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9])
    assert (d.action, d.flagged) == ("open", True)
    assert [i.kind for i in ledger.review_queue(now=at(0))] == ["low-confidence"]


def test_a_confident_but_split_pass_lets_the_car_in_and_goes_to_review_saying_why(ledger):
    d = ledger.decide("entry", CAR, at(0), confidence=0.95, doubt="split pass: 3 of 8 reads agree on the plate")
    assert (d.action, d.flagged) == ("open", True)
    [item] = ledger.review_queue(now=at(0))
    assert (item.kind, item.reason) == ("low-confidence", "unsure entry: split pass: 3 of 8 reads agree on the plate")


def test_a_paid_car_leaves_from_a_split_exit_pass_flagged(ledger):
    ledger.decide("entry", CAR, at(0), confidence=0.95)
    d = ledger.decide("exit", CAR, at(10), confidence=0.95, doubt="1 of 2 reads agree on the plate")
    assert (d.action, d.flagged) == ("open", True)  # within the free minutes: nothing is due


def test_a_doubt_longer_than_the_review_reason_is_refused(ledger):
    with pytest.raises(InvalidInput, match="doubt .*: expected text of at most 150 characters"):
        ledger.decide("entry", CAR, at(0), doubt="x" * 151)
    assert ledger.visits() == []


def test_every_accepted_read_is_stored_with_its_evidence(ledger):
    ledger.decide("entry", CAR, at(0), confidence=0.93, char_conf=[0.9] * 7, evidence_path="/ev/1.jpg")
    from sqlalchemy import select

    from gate.store.models import reads

    with ledger.engine.connect() as conn:
        [row] = conn.execute(select(reads)).all()
    assert (row.lane, row.plate, row.confidence, row.char_conf, row.evidence_path) == (
        "entry",
        "1234567",
        0.93,
        [0.9] * 7,
        "/ev/1.jpg",
    )


# ---------------------------------------------------------------- pay and exit


def test_exit_is_denied_until_paid(ledger):
    entry = ledger.decide("entry", CAR, at(0))
    unpaid = ledger.decide("exit", CAR, at(90))
    assert (unpaid.action, unpaid.reason, unpaid.visit_id, unpaid.amount_due) == (
        "deny",
        "unpaid",
        entry.visit_id,
        Decimal("24.00"),
    )
    receipt = ledger.pay(CAR, at(91))
    assert (receipt.visit_id, receipt.fee_agorot, receipt.paid_agorot) == (entry.visit_id, 2400, 2400)
    paid = ledger.decide("exit", CAR, at(93))
    assert (paid.action, paid.reason, paid.amount_due) == ("open", "paid", Decimal("0.00"))
    visit = ledger.visit(entry.visit_id)
    assert (visit.state, visit.exit_at, visit.fee_agorot, visit.paid_agorot) == ("closed", at(93), 2400, 2400)


def test_exit_within_the_free_minutes_opens_without_paying(ledger):
    ledger.decide("entry", CAR, at(0))
    d = ledger.decide("exit", CAR, at(14))
    assert (d.action, d.reason, d.amount_due) == ("open", "no-fee", Decimal("0.00"))


def test_paid_driver_has_the_grace_period_to_leave(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.pay(CAR, at(55))  # 12.00 for the first hour
    d = ledger.decide("exit", CAR, at(70))  # into the second hour, but within 15 min of paying
    assert (d.action, d.amount_due) == ("open", Decimal("0.00"))


def test_staying_past_the_grace_period_owes_the_difference(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.pay(CAR, at(55))
    late = ledger.decide("exit", CAR, at(71))
    assert (late.action, late.reason, late.amount_due) == ("deny", "unpaid", Decimal("12.00"))
    second = ledger.pay(CAR, at(72))
    assert (second.amount_agorot, second.paid_agorot) == (1200, 2400)
    assert ledger.decide("exit", CAR, at(73)).action == "open"


def test_paying_within_the_free_minutes_still_starts_a_grace_period(ledger):
    ledger.decide("entry", CAR, at(0))
    receipt = ledger.pay(CAR, at(10))
    assert receipt.amount_agorot == 0
    d = ledger.decide("exit", CAR, at(24))
    assert (d.action, d.amount_due) == ("open", Decimal("0.00"))
    assert ledger.visit(d.visit_id).fee_agorot == 0


def test_a_replayed_payment_id_changes_nothing(ledger):
    ledger.decide("entry", CAR, at(0))
    first = ledger.pay(CAR, at(90), payment_id="pos-1-0001")
    replay = ledger.pay(CAR, at(200), payment_id="pos-1-0001")
    assert replay.replayed and not first.replayed
    assert (replay.visit_id, replay.amount_agorot, replay.paid_agorot, replay.paid_at) == (
        first.visit_id,
        2400,
        2400,
        at(90),
    )
    assert ledger.visit(first.visit_id).paid_agorot == 2400


def test_a_payment_id_reused_for_another_car_is_rejected(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.decide("entry", OTHER, at(0))
    ledger.pay(CAR, at(90), payment_id="pos-1-0001")
    with pytest.raises(PaymentConflict):
        ledger.pay(OTHER, at(90), payment_id="pos-1-0001")
    assert ledger.visits(plate=OTHER)[0].paid_agorot == 0


def test_a_payment_id_reused_on_the_same_cars_next_visit_is_rejected_not_replayed(ledger):
    """A pay station whose ids repeat got the old receipt back: money taken, nothing recorded, exit refused."""
    ledger.decide("entry", CAR, at(0))
    ledger.pay(CAR, at(90), payment_id="pos-1-0001")
    ledger.decide("exit", CAR, at(95))
    again = ledger.decide("entry", CAR, at(600))
    with pytest.raises(PaymentConflict, match=f"open visit {again.visit_id} needs a new payment id"):
        ledger.pay(CAR, at(700), payment_id="pos-1-0001")
    assert ledger.pay(CAR, at(700), payment_id="pos-1-0002").amount_agorot == 2400
    assert ledger.decide("exit", CAR, at(705)).action == "open"


def test_a_payment_replayed_after_the_car_left_is_still_a_replay(ledger):
    ledger.decide("entry", CAR, at(0))
    first = ledger.pay(CAR, at(90), payment_id="pos-1-0001")
    ledger.decide("exit", CAR, at(95))
    replay = ledger.pay(CAR, at(96), payment_id="pos-1-0001")  # the pay station's retry of a lost answer
    assert replay.replayed and replay.visit_id == first.visit_id


def test_the_pay_station_can_ask_what_is_owed_without_paying(ledger):
    ledger.decide("entry", CAR, at(0))
    assert ledger.amount_due(CAR, at(61)) == 2400
    ledger.pay(CAR, at(61))
    assert ledger.amount_due(CAR, at(70)) == 0
    assert ledger.decisions()[-1]["lane"] == "entry"  # asking wrote nothing


def test_paying_without_an_open_visit_is_an_error(ledger):
    with pytest.raises(NoOpenVisit):
        ledger.pay(CAR, at(0))


def test_paying_before_the_entry_time_is_rejected(ledger):
    ledger.decide("entry", CAR, at(60))
    with pytest.raises(ClockError):
        ledger.pay(CAR, at(30))
    assert ledger.visits()[0].paid_agorot == 0


def test_a_payment_earlier_than_the_previous_one_is_rejected(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.pay(CAR, at(120))
    with pytest.raises(ClockError):
        ledger.pay(CAR, at(100))


def test_an_exit_before_the_entry_goes_to_review_and_never_a_negative_fee(ledger):
    entry = ledger.decide("entry", CAR, at(60))
    d = ledger.decide("exit", CAR, at(30))
    assert (d.action, d.reason, d.amount_due) == ("review", "clock-skew", Decimal("0.00"))
    assert ledger.visit(entry.visit_id).state == "open"
    assert [i.kind for i in ledger.review_queue(now=at(60))] == ["clock-skew"]


def test_one_digit_misread_at_exit_still_matches(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.decide("entry", OTHER, at(0))
    ledger.pay(CAR, at(30))
    d = ledger.decide("exit", "12-345-61", at(35))
    assert (d.action, d.flagged, d.matched_plate) == ("open", True, "1234567")
    visit = ledger.visit(d.visit_id)
    assert (visit.plate, visit.state, visit.flagged) == ("1234567", "closed", True)
    assert [i.kind for i in ledger.review_queue(now=at(35))] == ["fuzzy-match"]


def test_a_dropped_digit_at_exit_still_matches(ledger):
    ledger.decide("entry", OTHER, at(0))  # 765-43-218
    d = ledger.decide("exit", "7654321", at(12))  # last digit not read: a valid 7-digit plate
    assert (d.action, d.matched_plate, d.flagged) == ("open", "76543218", True)


def test_a_misread_matching_an_unpaid_visit_is_still_denied(ledger):
    ledger.decide("entry", CAR, at(0))
    d = ledger.decide("exit", "1234561", at(90))
    assert (d.action, d.reason, d.amount_due, d.flagged) == ("deny", "unpaid", Decimal("24.00"), True)
    assert ledger.visits(inside=True)[0].plate == "1234567"


def test_an_ambiguous_misread_is_not_guessed(ledger):
    ledger.decide("entry", "1234567", at(0))
    ledger.decide("entry", "1234569", at(0))
    d = ledger.decide("exit", "1234568", at(5))
    assert (d.action, d.reason) == ("review", "no-open-visit")
    assert len(ledger.visits(inside=True)) == 2


def test_per_character_confidences_pick_the_car_among_near_plates(ledger):
    ledger.decide("entry", "1234567", at(0))
    ledger.decide("entry", "1934560", at(0))
    unsure_last = [0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.2]
    d = ledger.decide("exit", "1234560", at(5), confidence=0.8, char_conf=unsure_last)
    assert (d.action, d.matched_plate, d.flagged) == ("open", "1234567", True)


def test_unknown_plate_at_exit_stays_closed_and_goes_to_the_review_queue(ledger):
    ledger.decide("entry", CAR, at(0))
    d = ledger.decide("exit", "5555555", at(5))
    assert (d.action, d.reason, d.visit_id) == ("review", "no-open-visit", None)
    [item] = ledger.review_queue(now=at(5))
    assert (item.kind, item.plate, item.decision_id) == ("no-open-visit", "5555555", d.decision_id)


def test_a_repeat_read_after_the_car_left_is_denied_without_review_noise(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.decide("exit", CAR, at(5))
    again = ledger.decide("exit", CAR, at(6))
    assert (again.action, again.reason) == ("deny", "already-exited")
    assert ledger.review_queue(now=at(6)) == []


def test_a_split_exit_pass_never_matches_a_near_plates_visit_after_the_car_left(ledger):
    """Matched fuzzily before the repeat check, the second half of a split pass closed the neighbour's visit
    at fee 0 and pulsed the barrier again."""
    ledger.decide("entry", "1234567", at(0))
    neighbour = ledger.decide("entry", "1234568", at(0))
    assert ledger.decide("exit", "1234567", at(5)).action == "open"
    again = ledger.decide("exit", "1234567", at(5.2))
    assert (again.action, again.reason) == ("deny", "already-exited")
    assert ledger.visit(neighbour.visit_id).state == "open"


def test_an_unsure_read_of_a_plate_that_just_left_beside_a_near_visit_goes_to_review(ledger):
    """It may be the neighbour misread: not denied silently, not opened."""
    ledger.decide("entry", "1234567", at(0))
    neighbour = ledger.decide("entry", "1234568", at(0))
    ledger.decide("exit", "1234567", at(5))
    d = ledger.decide("exit", "1234567", at(5.5), char_conf=[0.99] * 6 + [0.3], confidence=0.3)
    assert (d.action, d.flagged) == ("review", True)
    assert ledger.visit(neighbour.visit_id).state == "open"
    assert [(i.kind, i.visit_id) for i in ledger.review_queue(now=at(6))] == [("fuzzy-match", neighbour.visit_id)]


def test_subscribers_exit_without_paying_and_are_logged(ledger):
    ledger.add_plate(CAR, "allow", note="monthly")
    entry = ledger.decide("entry", CAR, at(0))
    d = ledger.decide("exit", CAR, at(600))
    assert (d.action, d.reason, d.visit_id) == ("open", "allow-listed", entry.visit_id)
    visit = ledger.visit(entry.visit_id)
    assert (visit.state, visit.fee_agorot) == ("closed", 0)
    assert [x["reason"] for x in ledger.decisions(visit_id=entry.visit_id)] == ["allow-listed", "allow-listed"]


def test_a_subscriber_leaving_never_closes_a_near_plates_unpaid_visit(ledger):
    ledger.add_plate("1234567", "allow", note="monthly")
    other = ledger.decide("entry", "1234568", at(0))  # not a subscriber, never paid
    d = ledger.decide("exit", "1234567", at(90))  # the subscriber, whose own entry was never read
    assert (d.action, d.reason, d.visit_id, d.flagged) == ("open", "allow-listed", None, True)
    visit = ledger.visit(other.visit_id)
    assert visit.state == "open"
    assert [(i.kind, i.visit_id) for i in ledger.review_queue(now=at(90))] == [("fuzzy-match", other.visit_id)]
    later = ledger.decide("exit", "1234568", at(95))
    assert (later.action, later.reason) == ("deny", "unpaid")


def test_an_unsure_subscriber_read_beside_a_near_unpaid_visit_keeps_the_gate_shut(ledger):
    """Read unsure, the subscriber's plate is as likely the unpaid neighbour misread."""
    ledger.add_plate("1234567", "allow", note="monthly")
    other = ledger.decide("entry", "1234568", at(0))
    d = ledger.decide("exit", "1234567", at(90), confidence=0.2, doubt="1 of 6 reads agree")
    assert (d.action, d.reason, d.flagged) == ("review", "allow-listed", True)
    assert ledger.visit(other.visit_id).state == "open"
    assert [(i.kind, i.visit_id) for i in ledger.review_queue(now=at(90))] == [("fuzzy-match", other.visit_id)]
    sure = ledger.decide("exit", "1234567", at(91), confidence=0.99)  # read sure: the subscriber leaves
    assert (sure.action, sure.reason) == ("open", "allow-listed")


def test_a_subscriber_leaving_daily_beside_the_same_near_visit_asks_for_review_once(ledger):
    from gate.store.review import Operations

    ledger.add_plate("1234567", "allow", note="monthly")
    other = ledger.decide("entry", "1234568", at(0))
    for minutes in (90, 90 + 24 * 60, 90 + 48 * 60):  # three days, its own entries never read
        assert ledger.decide("exit", "1234567", at(minutes)).flagged
    items = [i for i in ledger.review_queue(now=at(90)) if i.item_id is not None]
    assert [(i.kind, i.visit_id) for i in items] == [("fuzzy-match", other.visit_id)]
    Operations(ledger).resolve(items[0].item_id, "dana", "confirm", "a neighbour's car, not the subscriber's")
    ledger.decide("exit", "1234567", at(90 + 72 * 60))  # once handled, the next such exit asks again
    assert len([i for i in ledger.review_queue(now=at(90)) if i.item_id is not None]) == 1


def test_every_decision_is_logged_with_its_reason(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.decide("exit", CAR, at(90))
    ledger.pay(CAR, at(91))
    ledger.decide("exit", CAR, at(92))
    log = [(x["lane"], x["action"], x["reason"], x["amount_due_agorot"]) for x in ledger.decisions()]
    assert log == [("entry", "open", "entered", 0), ("exit", "deny", "unpaid", 2400), ("exit", "open", "paid", 0)]


def test_decision_to_dict_is_the_cli_json(ledger):
    d = ledger.decide("entry", CAR, at(0)).to_dict()
    assert {k: d[k] for k in ("action", "reason", "visit_id", "amount_due")} == {
        "action": "open",
        "reason": "entered",
        "visit_id": 1,
        "amount_due": 0.0,
    }


# ---------------------------------------------------------------- operators


def test_operator_can_waive_a_fee_and_it_is_recorded_with_who_and_why(ledger):
    entry = ledger.decide("entry", CAR, at(0))
    ledger.waive("dana", "broken ticket machine", plate=CAR, at=at(100))
    d = ledger.decide("exit", CAR, at(101))
    assert (d.action, d.amount_due) == ("open", Decimal("0.00"))
    [action] = ledger.overrides()
    assert (action["operator"], action["reason"], action["action"], action["visit_id"], action["amount_agorot"]) == (
        "dana",
        "broken ticket machine",
        "waive",
        entry.visit_id,
        2400,
    )


def test_operator_can_close_a_visit_by_hand(ledger):
    entry = ledger.decide("entry", CAR, at(0))
    visit = ledger.override_close("dana", "car towed", visit_id=entry.visit_id, at=at(200))
    assert (visit.state, visit.close_reason, visit.exit_at, visit.fee_agorot) == ("closed", "override", at(200), 4800)
    assert ledger.overrides()[0]["action"] == "close-visit"
    with pytest.raises(GateError):
        ledger.override_close("dana", "again", visit_id=entry.visit_id, at=at(201))


def test_operator_can_open_a_visit_for_a_car_the_camera_missed(ledger):
    visit = ledger.override_open(CAR, "avi", "camera was down", at=at(0))
    assert visit.state == "open"
    assert ledger.decide("exit", CAR, at(10)).visit_id == visit.id
    ledger.override_open(OTHER, "avi", "camera was down", at=at(0))
    with pytest.raises(GateError):  # never two open visits for one plate
        ledger.override_open(OTHER, "avi", "camera was down", at=at(1))
    assert [o["action"] for o in ledger.overrides()] == ["open-visit", "open-visit"]


def test_an_override_needs_an_operator_and_a_reason(ledger):
    ledger.decide("entry", CAR, at(0))
    with pytest.raises(GateError):
        ledger.waive("", "why", plate=CAR)
    with pytest.raises(GateError):
        ledger.waive("dana", "  ", plate=CAR)
    assert ledger.overrides() == []


# ---------------------------------------------------------------- admin queries


def test_visits_can_be_queried_by_plate_inside_and_time(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.decide("exit", CAR, at(10))  # free
    ledger.decide("entry", OTHER, at(60))
    ledger.decide("entry", CAR, at(120))
    assert [v.plate for v in ledger.visits()] == ["1234567", "76543218", "1234567"]
    assert [v.entry_at for v in ledger.visits(plate=CAR)] == [at(0), at(120)]
    assert [v.plate for v in ledger.visits(inside=True)] == ["76543218", "1234567"]
    assert [v.entry_at for v in ledger.visits(since=at(30))] == [at(60), at(120)]
    assert [v.entry_at for v in ledger.visits(until=at(90))] == [at(0), at(60)]
    assert [v.entry_at for v in ledger.visits(since=at(5), until=at(59))] == [at(0)]


def test_visits_open_longer_than_the_maximum_stay_are_listed_for_review(make_ledger):
    ledger = make_ledger(max_stay_hours=72)
    old = ledger.decide("entry", CAR, at(0))
    ledger.decide("entry", OTHER, at(60 * 24))
    queue = ledger.review_queue(now=at(72 * 60 + 1))
    assert [(i.kind, i.visit_id) for i in queue] == [("overstay", old.visit_id)]
    assert [v.id for v in ledger.overstays(now=at(72 * 60 - 1))] == []


def test_a_review_item_can_be_resolved_once(ledger):
    ledger.decide("exit", CAR, at(0))
    [item] = ledger.review_queue(now=at(0))
    ledger.resolve_review(item.item_id, "dana", "car reversed out")
    assert ledger.review_queue(now=at(0)) == []
    [done] = ledger.review_queue(now=at(0), include_resolved=True)
    assert (done.resolved_by, done.resolution) == ("dana", "car reversed out")
    with pytest.raises(GateError):
        ledger.resolve_review(item.item_id, "dana", "again")


def test_the_car_read_again_after_leaving_on_its_paid_as_visit_is_already_exited_and_its_neighbour_stays_inside(
    ledger,
):
    misread = ledger.decide("entry", "1234568", at(0)).visit_id  # car 12-345-67, entry misread
    ledger.pay("1234567", at(60), visit_id=misread)  # the driver types the real plate and picks the visit
    neighbour = ledger.decide("entry", "1234560", at(58)).visit_id  # one digit from it, in its free minutes
    assert ledger.decide("exit", "1234567", at(65)).visit_id == misread
    again = ledger.decide("exit", "1234567", at(65.1))  # the same pass, split in two
    assert (again.action, again.reason) == ("deny", "already-exited")
    assert ledger.visit(neighbour).is_open and ledger.amount_due("1234560", at(358)) > 0


def test_a_read_one_digit_off_a_subscribers_visit_goes_to_an_attendant_with_the_barrier_shut(ledger):
    """The subscriber misread, or a car without a visit (in behind another) beside it: refused as unpaid, the car
    could never pay its way out (the pay station says 0); opened free, the other car would leave unpaid."""
    ledger.add_plate("1234567", "allow")
    visit = ledger.decide("entry", "1234567", at(0)).visit_id
    for confidence in (0.99, 0.3):
        d = ledger.decide("exit", "1234568", at(120), confidence=confidence)
        assert (d.action, d.flagged, d.visit_id) == ("review", True, None)
    assert ledger.visit(visit).is_open
    assert [item.kind for item in ledger.review_queue() if item.kind != "overstay"] == ["fuzzy-match"] * 2


def test_a_paid_visit_closed_by_hand_inside_its_grace_is_not_listed_unpaid(ledger):
    ledger.decide("entry", CAR, at(0))
    ledger.pay(CAR, at(55))  # 12.00, the first hour
    closed = ledger.override_close("dana", "left with the barrier up", plate=CAR, at=at(65))
    assert closed.fee_agorot == closed.paid_agorot == 1200  # as the exit would have charged then
    assert ledger.visits(unpaid=True) == []


def test_a_subscribers_visit_closed_by_hand_owes_nothing(ledger):
    ledger.add_plate(CAR, "allow")
    ledger.decide("entry", CAR, at(0))
    assert ledger.override_close("dana", "left with the barrier up", plate=CAR, at=at(300)).fee_agorot == 0
    assert ledger.visits(unpaid=True) == []

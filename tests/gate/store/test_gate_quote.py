"""Pay for the car you drove in: a quote finds the car the way the exit does, and pays the visit chosen."""
from __future__ import annotations

import pytest
from gate_support import at

from gate.rules.codes import EvidenceKind, Lane, ListKind, ReviewKind
from gate.rules.errors import GateError, NoOpenVisit, PaymentConflict, UnknownVisit
from gate.store import models

TYPED = "12-345-67"  # what the driver types at the pay station
MISREAD = "12-345-61"  # what the entry camera read


def enter(ledger, plate, minutes=0.0):
    return ledger.decide(Lane.ENTRY, plate, at=at(minutes))


def add_evidence(ledger, decision_id, kind):
    row = {"decision_id": decision_id, "kind": kind.value, "file": f"entry/x_{kind}.jpg",
           "content_type": "image/jpeg", "bytes": 10, "created_at": at(0)}
    with ledger.engine.begin() as conn:
        return conn.execute(models.evidence.insert().values(row)).inserted_primary_key[0]


def test_the_exact_visit_is_quoted_with_what_it_owes_and_no_candidates(ledger):
    visit = enter(ledger, TYPED).visit_id
    quote = ledger.quote("1234567", at=at(90))
    assert (quote.visit.id, quote.amount_due_agorot, quote.paid_until, quote.candidates) == (visit, 2400, None, [])


def test_paid_up_until_the_grace_ends_or_the_free_minutes(ledger):
    enter(ledger, TYPED)
    assert ledger.quote(TYPED, at=at(5)).paid_until == at(15)  # free minutes
    ledger.pay(TYPED, at=at(110))  # two hours' fee
    assert (ledger.quote(TYPED, at=at(112)).amount_due_agorot, ledger.quote(TYPED, at=at(112)).paid_until) == (0, at(125))


def test_paid_up_until_the_end_of_the_time_paid_for_when_that_is_after_the_grace(ledger):
    enter(ledger, TYPED)
    ledger.pay(TYPED, at=at(20))  # 12.00: the first hour
    quote = ledger.quote(TYPED, at=at(40))  # the grace ended at 35; the exit owes nothing until 60
    assert quote.amount_due_agorot == 0 and at(59) < quote.paid_until <= at(60)
    assert ledger.decide("exit", TYPED, quote.paid_until).action == "open"


def test_paying_again_inside_the_grace_takes_what_the_quote_says_and_keeps_the_grace_where_it_was(ledger):
    enter(ledger, TYPED)
    assert ledger.pay(TYPED, at(55)).amount_agorot == 1200
    quote = ledger.quote(TYPED, at(65))
    again = ledger.pay(TYPED, at(65), payment_id="ps2-0001")  # a second pay station
    assert (quote.amount_due_agorot, again.amount_agorot, again.leave_by) == (0, 0, at(70))
    assert ledger.pay(TYPED, at(66), payment_id="ps2-0001").leave_by == at(70)  # its replay says the same
    assert ledger.decide("exit", TYPED, at(71)).action == "deny"  # paying nothing did not start a new grace


def test_a_misread_entry_is_offered_as_a_candidate_with_its_entry_time_and_image(ledger):
    entry = enter(ledger, MISREAD, minutes=0)
    enter(ledger, "7654321", minutes=1)  # far from the typed plate: not offered
    frame = add_evidence(ledger, entry.decision_id, EvidenceKind.FRAME)
    add_evidence(ledger, entry.decision_id, EvidenceKind.PLATE)
    quote = ledger.quote(TYPED, at=at(90))
    assert quote.visit is None and quote.amount_due_agorot is None
    [candidate] = quote.candidates
    assert (candidate.visit_id, candidate.plate, candidate.entry_at) == (entry.visit_id, "1234561", at(0))
    assert (candidate.entry_evidence_id, candidate.amount_due_agorot) == (frame, 2400)


def test_candidates_are_every_plate_the_exit_could_match_nearest_first(ledger):
    two_off = enter(ledger, "12-345-11", 0).visit_id  # two digits: the exit's confidence rule reaches it
    one_off = enter(ledger, "12-345-68", 1).visit_id
    dropped = enter(ledger, "123-45-678", 2).visit_id  # one digit added
    enter(ledger, "12-311-11", 3)  # three digits off
    quote = ledger.quote(TYPED, at=at(30))
    assert [c.visit_id for c in quote.candidates] == [one_off, dropped, two_off]
    assert all(c.entry_evidence_id is None for c in quote.candidates)


def test_no_exact_visit_and_no_candidate_is_no_open_visit(ledger):
    enter(ledger, "7654321")
    with pytest.raises(NoOpenVisit, match="no open visit for plate 12-345-67"):
        ledger.quote(TYPED)


def test_paying_for_a_candidate_records_what_was_typed_flags_the_visit_and_asks_for_review(ledger):
    visit_id = enter(ledger, MISREAD).visit_id
    receipt = ledger.pay(TYPED, at=at(90), payment_id="ps1-1", visit_id=visit_id)
    assert (receipt.visit_id, receipt.plate, receipt.typed_plate, receipt.amount_agorot) == (
        visit_id, "1234561", "1234567", 2400)
    [payment] = ledger.payments().payments
    assert (payment.plate, payment.typed_plate, payment.visit_id) == ("1234561", "1234567", visit_id)
    visit = ledger.visit(visit_id)
    assert visit.flagged and "12-345-67" in (visit.flag_reason or "")
    [item] = [i for i in ledger.review_queue(now=at(91)) if i.kind is ReviewKind.PAY_CANDIDATE]
    assert (item.visit_id, item.plate) == (visit_id, "1234567")


def test_the_exit_then_reads_the_true_plate_and_opens(ledger):
    visit_id = enter(ledger, MISREAD).visit_id
    ledger.pay(TYPED, at=at(90), visit_id=visit_id)
    decision = ledger.decide(Lane.EXIT, TYPED, at=at(95))
    assert (decision.opens, decision.visit_id) == (True, visit_id)


def test_a_replayed_candidate_payment_returns_its_first_receipt(ledger):
    visit_id = enter(ledger, MISREAD).visit_id
    first = ledger.pay(TYPED, at=at(90), payment_id="ps1-1", visit_id=visit_id)
    again = ledger.pay(TYPED, at=at(99), payment_id="ps1-1", visit_id=visit_id)
    assert again.replayed and (again.visit_id, again.amount_agorot, again.typed_plate) == (
        first.visit_id, first.amount_agorot, "1234567")
    other = enter(ledger, "12-345-68", 1).visit_id
    with pytest.raises(PaymentConflict, match=f"already used for visit {visit_id}"):
        ledger.pay(TYPED, at=at(99), payment_id="ps1-1", visit_id=other)


def test_a_visit_that_is_not_a_candidate_is_refused_and_nothing_is_paid(ledger):
    far = enter(ledger, "7654321").visit_id
    with pytest.raises(GateError, match="is not a candidate for plate 12-345-67"):
        ledger.pay(TYPED, at=at(90), visit_id=far)
    with pytest.raises(UnknownVisit):
        ledger.pay(TYPED, at=at(90), visit_id=999)
    assert ledger.payments().total == 0 and not ledger.visit(far).flagged


def test_the_typed_plates_own_open_visit_is_paid_not_a_neighbour(ledger):
    own = enter(ledger, TYPED).visit_id
    near = enter(ledger, MISREAD, 1).visit_id
    with pytest.raises(GateError, match=f"has its own open visit {own}"):
        ledger.pay(TYPED, at=at(90), visit_id=near)
    receipt = ledger.pay(TYPED, at=at(90), visit_id=own)  # naming its own visit is a plain payment
    assert receipt.typed_plate is None and not ledger.visit(own).flagged


def test_an_allow_listed_candidate_owes_nothing(ledger):
    ledger.add_plate(MISREAD, ListKind.ALLOW)
    enter(ledger, MISREAD)
    assert ledger.quote(TYPED, at=at(300)).candidates[0].amount_due_agorot == 0


def test_the_exit_finds_the_paid_candidate_even_when_two_plates_are_near(ledger):
    chosen = enter(ledger, MISREAD).visit_id
    other = enter(ledger, "12-345-68", 1).visit_id  # also one digit from the true plate
    assert ledger.decide(Lane.EXIT, TYPED, at=at(80)).visit_id is None  # ambiguous: a human decides
    ledger.pay(TYPED, at=at(90), visit_id=chosen)
    decision = ledger.decide(Lane.EXIT, TYPED, at=at(95))
    assert (decision.opens, decision.visit_id, decision.matched_plate, decision.flagged) == (
        True, chosen, "1234561", True)
    assert ledger.visit(other).is_open

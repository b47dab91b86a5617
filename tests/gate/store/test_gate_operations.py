"""The decision log as a listing, the review queue's resolutions and the overrides, with who acted."""
from __future__ import annotations

import pytest
from gate_support import at

from gate.rules.errors import GateError, InvalidInput
from gate.store.commands import GateCommands
from gate.store.decision_log import DecisionFilter, list_decisions
from gate.store.review import Operations


def test_denials_and_unpaid_exits_are_listed_newest_first_with_filters_and_paging(ledger):
    ledger.decide("entry", "1111111", at(0), gate="north-entry")
    ledger.decide("entry", "2222222", at(1), gate="south-entry")
    ledger.decide("exit", "1111111", at(120), gate="north-exit")  # unpaid: denied, no visit changes
    page = list_decisions(ledger, DecisionFilter(), limit=2, count=True)
    assert [(d.plate, d.action, d.reason, d.gate) for d in page.decisions] == [
        ("1111111", "deny", "unpaid", "north-exit"), ("2222222", "open", "entered", "south-entry")]
    assert (page.total, page.next_offset) == (3, 2)
    assert page.decisions[0].to_dict()["amount_due"] > 0
    assert [d.plate for d in list_decisions(ledger, DecisionFilter(), limit=2, offset=2).decisions] == ["1111111"]
    unpaid = list_decisions(ledger, DecisionFilter(action="deny", reason="unpaid"))
    assert [d.gate for d in unpaid.decisions] == ["north-exit"]
    assert list_decisions(ledger, DecisionFilter(gate="south-entry"), count=True).total == 1
    assert list_decisions(ledger, DecisionFilter(lane="entry", since=at(1), until=at(1)), count=True).total == 1
    uncounted = list_decisions(ledger, DecisionFilter(), limit=3)
    assert (uncounted.total, uncounted.next_offset, len(uncounted.decisions)) == (None, None, 3)


@pytest.mark.parametrize("bad, field", [
    (DecisionFilter(action="opened"), "action"), (DecisionFilter(gate="a b"), "gate"),
    (DecisionFilter(since=at(5), until=at(1)), "until"), (DecisionFilter(lane="side"), "lane")])
def test_a_bad_filter_is_refused_naming_it(ledger, bad, field):
    with pytest.raises(InvalidInput, match=field):
        list_decisions(ledger, bad)


def fuzzy_exit(ledger):
    """1234567 and 7654321 are inside; the exit reads 1234561 and lets 1234567's visit out (free minutes)."""
    a = ledger.decide("entry", "1234567", at(0)).visit_id
    b = ledger.decide("entry", "7654321", at(1)).visit_id
    out = ledger.decide("exit", "1234561", at(10), gate="south-exit")
    assert (out.action, out.visit_id, out.flagged) == ("open", a, True)
    (item,) = [i for i in ledger.review_queue() if i.kind == "fuzzy-match"]
    return a, b, out, item


def test_confirm_resolves_the_item_recording_who_and_why(ledger):
    _a, _b, _out, item = fuzzy_exit(ledger)
    done = Operations(ledger).resolve(item.item_id, "ops-token", "confirm", "the plate is muddy")
    assert (done.item.resolved_by, done.item.resolution) == ("ops-token", "confirm: the plate is muddy")
    assert [i for i in ledger.review_queue() if i.item_id is not None] == []  # overstays are computed
    with pytest.raises(GateError, match="no unresolved review item"):
        Operations(ledger).resolve(item.item_id, "ops-token", "confirm", "again")


def test_reassign_opens_the_wrongly_closed_visit_again_and_closes_the_car_that_left(ledger):
    a, b, out, item = fuzzy_exit(ledger)
    done = Operations(ledger).resolve(item.item_id, "dana", "reassign", "it was the other car", visit_id=b)
    assert ledger.visit(a).is_open and ledger.visit(a).exit_at is None
    left = ledger.visit(b)
    assert (left.state, left.exit_at, left.exit_gate, left.close_reason) == ("closed", at(10), "south-exit", "exit")
    assert done.visit == left and done.item.visit_id == b
    assert ledger.decisions(visit_id=b)[-1]["id"] == out.decision_id
    assert [(o["action"], o["operator"], o["visit_id"]) for o in ledger.overrides()] == [("reassign", "dana", b)]


def test_an_exit_is_never_reassigned_to_a_car_that_entered_after_it(ledger):
    a, _b, _out, item = fuzzy_exit(ledger)
    later = ledger.decide("entry", "3333333", at(30)).visit_id  # entered 20 minutes after the exit
    with pytest.raises(GateError, match="entered .* after"):
        Operations(ledger).resolve(item.item_id, "dana", "reassign", "wrong car", visit_id=later)
    assert ledger.visit(later).is_open and not ledger.visit(a).is_open  # nothing moved, the item still waits
    assert [i.item_id for i in ledger.review_queue() if i.item_id is not None] == [item.item_id]


def test_reassign_needs_a_visit_and_only_reassign_takes_one(ledger):
    *_, item = fuzzy_exit(ledger)
    with pytest.raises(InvalidInput, match="visit_id"):
        Operations(ledger).resolve(item.item_id, "dana", "reassign", "why")
    with pytest.raises(InvalidInput, match="visit_id"):
        Operations(ledger).resolve(item.item_id, "dana", "confirm", "why", visit_id=1)
    with pytest.raises(InvalidInput, match="action"):
        Operations(ledger).resolve(item.item_id, "dana", "shrug", "why")


def test_open_by_hand_queues_a_pulse_for_the_decisions_gate(ledger):
    ledger.decide("exit", "5555555", at(3), gate="south-exit")  # no open visit: review, the gate stays shut
    (item,) = ledger.review_queue()
    done = Operations(ledger).resolve(item.item_id, "dana", "open", "monthly pass holder, card at home")
    assert done.command is not None and done.command.gate == "south-exit"
    (claimed,) = GateCommands(ledger).claim("south-exit")
    assert (claimed.requested_by, claimed.reason) == ("dana", f"review item {item.item_id}: monthly pass holder, "
                                                      "card at home")
    assert [o["action"] for o in ledger.overrides()] == ["open-gate"]


def test_waive_from_the_review_queue(ledger):
    low = ledger.decide("entry", "1234567", at(0), confidence=0.1)  # a low-confidence entry goes to review
    (item,) = [i for i in ledger.review_queue() if i.kind == "low-confidence"]
    done = Operations(ledger).resolve(item.item_id, "dana", "waive", "gate was stuck")
    assert done.visit is not None and done.visit.waived and done.visit.id == low.visit_id
    assert ledger.decide("exit", "1234567", at(300)).action == "open"


def test_an_override_open_with_a_plate_opens_a_visit_at_that_gate_and_pulses_it(ledger):
    visit, command = Operations(ledger).open_gate("north-entry", "dana", "camera down", plate="12-345-67")
    assert visit is not None and (visit.plate, visit.entry_gate) == ("1234567", "north-entry")
    assert (command.gate, command.visit_id) == ("north-entry", visit.id)
    assert [o["action"] for o in ledger.overrides()] == ["open-visit", "open-gate"]
    with pytest.raises(GateError, match="already has open visit"):
        Operations(ledger).open_gate("north-entry", "dana", "again", plate="1234567")
    assert len(ledger.overrides()) == 2  # nothing of the refused one was written

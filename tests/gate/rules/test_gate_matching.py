"""Exit matching: exact first, then a unique near plate, then per-character confidence."""
from __future__ import annotations

from gate.rules.matching import match_plate, one_edit_apart

OPEN = [(1, "1234567"), (2, "7654321"), (3, "12345678")]


def test_exact_plate_wins():
    m = match_plate("1234567", OPEN)
    assert (m.visit_id, m.kind, m.flagged) == (1, "exact", False)


def test_one_substituted_digit_matches_the_unique_near_plate_and_is_flagged():
    m = match_plate("7654371", OPEN)
    assert (m.visit_id, m.kind, m.flagged) == (2, "one-digit", True)


def test_a_dropped_or_extra_digit_is_one_edit():
    assert one_edit_apart("1234567", "123457")
    assert one_edit_apart("765431", "7654321")
    assert not one_edit_apart("1234567", "1234567")
    assert not one_edit_apart("1234567", "2134567")  # a swap is two edits


def test_two_near_plates_are_not_guessed():
    ambiguous = [(1, "1234567"), (2, "1234569")]
    assert match_plate("1234568", ambiguous) is None


def test_char_confidences_pick_the_car_when_two_are_one_digit_away():
    ambiguous = [(1, "1234567"), (2, "1934560")]
    assert match_plate("1234560", ambiguous) is None
    last_digit_unsure = [0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.2]
    m = match_plate("1234560", ambiguous, last_digit_unsure)
    assert (m.visit_id, m.kind, m.flagged) == (1, "confidence", True)


def test_two_uncertain_digits_may_match_when_confidences_say_so():
    visits = [(1, "1234567"), (2, "7654321")]
    conf = [0.99, 0.3, 0.99, 0.99, 0.99, 0.4, 0.99]
    m = match_plate("1834587", visits, conf)
    assert (m.visit_id, m.kind) == (1, "confidence")


def test_confident_digits_are_not_overruled():
    visits = [(1, "1234567")]
    conf = [0.99] * 7
    assert match_plate("1834587", visits, conf) is None


def test_no_open_visits_no_match():
    assert match_plate("1234567", []) is None

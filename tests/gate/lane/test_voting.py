"""Pass tracking and per-character voting (gate.lane.voting): one decision per vehicle pass."""
from __future__ import annotations

import pytest
from lane_fakes import plate_read

from gate.lane.voting import NoisePass, PassConfig, PassTracker, edit_distance, vote

FPS = 10.0


def feed_all(tracker: PassTracker, frames: list[list], t0: float = 0.0) -> list:
    out = []
    for i, reads in enumerate(frames):
        out += tracker.feed(t0 + i / FPS, reads)
    return out


def test_a_car_standing_for_60_frames_is_one_decision():
    tracker = PassTracker()
    decided = feed_all(tracker, [[plate_read("1234567")]] * 60) + tracker.flush()
    assert [p.vote.text for p in decided] == ["1234567"]


def test_one_plate_read_twice_in_a_frame_is_one_pass():
    """Two reads of one plate in each frame (far apart boxes: the zoomed-out look, a sticker) made two passes of
    the same car, and the entry opened twice."""
    frames = [[plate_read("1234567", 0.9, box=(100, 100, 200, 140)), plate_read("1234567", 0.7, box=(600, 400,
                                                                                                     700, 440))]] * 8
    decided = feed_all(PassTracker(), frames)
    assert [p.vote.text for p in decided] == ["1234567"]


def test_voting_fixes_a_single_frame_misread():
    reads = [plate_read("1234567")] * 2 + [plate_read("1234587")] + [plate_read("1234567")] * 3
    assert vote(reads).text == "1234567"
    tracker = PassTracker()
    decided = feed_all(tracker, [[r] for r in reads]) + tracker.flush()
    assert [p.vote.text for p in decided] == ["1234567"]


def test_a_misread_first_frame_does_not_win_the_pass():
    tracker = PassTracker()
    frames = [[plate_read("1234587", conf=0.99)]] + [[plate_read("1234567", conf=0.8)]] * 5
    decided = feed_all(tracker, frames) + tracker.flush()
    assert len(decided) == 1 and decided[0].vote.text == "1234567"


def test_confident_digits_outvote_more_frames_of_unsure_ones():
    # mud over a digit: four unsure misreads vs three confident reads -> the confident digit wins
    unsure = plate_read("7386126", char_conf=(0.97, 0.97, 0.97, 0.35, 0.97, 0.97, 0.97))
    sure = plate_read("7385126", conf=0.97)
    v = vote([sure, sure, unsure, unsure, unsure, unsure, sure])
    assert v.text == "7385126"
    assert v.char_conf[3] == pytest.approx(0.97)  # the mean of the winners, not of all frames


def test_a_dropped_digit_does_not_shift_the_vote():
    reads = [plate_read("12345678")] * 3 + [plate_read("1234578")]  # one frame lost the '6'
    assert vote(reads).text == "12345678"


def test_the_same_car_returning_after_the_gap_is_a_new_pass():
    tracker = PassTracker(PassConfig(pass_gap_s=2.0))
    first = feed_all(tracker, [[plate_read("1234567")]] * 10)
    second = feed_all(tracker, [[plate_read("1234567")]] * 10, t0=10.0)
    assert len(first) == 1 and len(second) == 1


def test_a_short_dropout_inside_the_gap_is_still_the_same_pass():
    tracker = PassTracker(PassConfig(pass_gap_s=2.0))
    frames = [[plate_read("1234567")]] * 5 + [[]] * 10 + [[plate_read("1234567")]] * 5  # 1 s without a read
    assert len(feed_all(tracker, frames) + tracker.flush()) == 1


def test_the_next_car_at_the_same_place_is_a_new_pass():
    tracker = PassTracker()
    frames = [[plate_read("1234567")]] * 5 + [[plate_read("7654321")]] * 5  # same box, other plate
    decided = feed_all(tracker, frames) + tracker.flush()
    assert [p.vote.text for p in decided] == ["1234567", "7654321"]


def test_two_cars_in_one_frame_are_two_passes():
    left, right = (100.0, 400.0, 300.0, 445.0), (900.0, 400.0, 1100.0, 445.0)
    tracker = PassTracker()
    frames = [[plate_read("1234567", box=left), plate_read("89012345", box=right)]] * 4
    assert sorted(p.vote.text for p in feed_all(tracker, frames)) == ["1234567", "89012345"]


def test_one_odd_frame_is_noise_not_a_car():
    tracker = PassTracker(PassConfig(min_reads=2))
    decided = feed_all(tracker, [[plate_read("1234567")]] + [[]] * 40) + tracker.flush()
    assert decided == []


def test_a_few_unsure_reads_are_noise_not_a_car():
    tracker = PassTracker(PassConfig(settle_votes=3, min_confidence=0.35))
    unsure = [[plate_read("8577777", conf=0.2)], [plate_read("8577777", conf=0.2)], [plate_read("8577771", conf=0.3)]]
    assert feed_all(tracker, unsure + [[]] * 40) + tracker.flush() == []


def test_a_car_read_unsure_but_alike_in_every_frame_is_still_decided():
    tracker = PassTracker(PassConfig(settle_votes=3, min_confidence=0.35))
    decided = feed_all(tracker, [[plate_read("8577777", conf=0.2)]] * 3)
    assert [p.vote.text for p in decided] == ["8577777"]


def test_a_stripe_read_as_a_new_string_each_frame_never_decides():
    # a static yellow stripe: garbage 7-digit reads at low confidence, one of them recurring 3 times in 7
    garbage = ["7777798", "7777944", "7177711", "7777944", "1717594", "7777731", "7777944"]
    frames = [[plate_read(text, conf=0.08, box=(104, 149, 195, 185))] for text in garbage * 3]
    tracker = PassTracker(PassConfig(settle_votes=3, min_confidence=0.35))
    assert feed_all(tracker, frames) + tracker.flush() == []


def test_a_short_pass_is_decided_when_it_ends():
    tracker = PassTracker(PassConfig(settle_votes=3, pass_gap_s=1.0))
    decided = feed_all(tracker, [[plate_read("1234567")]] * 2 + [[]] * 15)
    assert len(decided) == 1 and decided[0].why == "gap"


def test_invalid_reads_are_ignored():
    tracker = PassTracker()
    bad = plate_read("12345")  # 5 digits: valid=False
    assert not bad.valid
    assert feed_all(tracker, [[bad]] * 10) + tracker.flush() == []


def test_the_evidence_is_the_best_read_of_the_winning_text():
    tracker = PassTracker()
    best = plate_read("1234567", conf=0.99)
    frames = [[plate_read("1234567", conf=0.8)], [best], [plate_read("1234587", conf=1.0)],
              [plate_read("1234567", conf=0.7)]]
    (decided,) = feed_all(tracker, frames)
    assert decided.crop is best.crop


def test_edit_distance():
    assert edit_distance("1234567", "1234567") == 0
    assert edit_distance("1234567", "1234587") == 1
    assert edit_distance("12345678", "1234578") == 1
    assert edit_distance("1234567", "7654321") == 6


def test_a_pass_whose_reads_agree_in_sharp_frames_is_sure():
    tracker = PassTracker()
    decided = feed_all(tracker, [[plate_read("1234567")]] * 6) + tracker.flush()
    assert [(p.vote.text, p.doubt) for p in decided] == [("1234567", None)]


def test_a_split_pass_is_decided_but_goes_to_review():
    # 3 of 8 reads agree: the plate the car drove in with is not the one most frames saw
    texts = ["8118508", "6118508", "8118506", "8113508", "8118506", "8118500", "8110508", "8118506"]
    tracker = PassTracker()
    decided = feed_all(tracker, [[plate_read(t, conf=0.6)] for t in texts]) + tracker.flush()
    assert len(decided) == 1
    assert decided[0].doubt is not None and "reads agree" in decided[0].doubt


def test_a_pass_only_one_read_of_which_has_its_plate_is_in_doubt():
    tracker = PassTracker()
    decided = feed_all(tracker, [[plate_read("1811111", conf=0.7)], [plate_read("1811171", conf=0.6)]]) + tracker.flush()
    assert len(decided) == 1 and decided[0].doubt == "1 of 2 reads agree on the plate"


def test_a_pass_seen_only_in_small_blurred_frames_is_in_doubt():
    from dataclasses import replace

    blurred = replace(plate_read("1234567"), quality=0.1)
    tracker = PassTracker()
    decided = feed_all(tracker, [[blurred]] * 3) + tracker.flush()
    assert len(decided) == 1 and decided[0].doubt is not None and "blurred" in decided[0].doubt


def test_a_pass_voted_at_a_coin_flip_confidence_is_in_doubt():
    # sure passes voted at 0.50-0.55 were half of them wrong on the calibration clips, and with the width-48 OCR
    # those at 0.55-0.60 held a fifth of its unflagged wrong visits (PassConfig.sure_confidence; 0.65 since the
    # approach-frame OCR)
    for conf in (0.52, 0.57, 0.62):
        tracker = PassTracker()
        decided = feed_all(tracker, [[plate_read("1234567", conf=conf)]] * 4) + tracker.flush()
        assert len(decided) == 1 and decided[0].doubt is not None and f"vote confidence {conf}" in decided[0].doubt
    tracker = PassTracker()
    decided = feed_all(tracker, [[plate_read("1234567", conf=0.7)]] * 4) + tracker.flush()
    assert [(p.vote.text, p.doubt) for p in decided] == [("1234567", None)]


SIGN = (900.0, 300.0, 1000.0, 330.0)
SCATTER = ["98888215", "98868215", "96888215", "98888275", "90888215"]  # letters read as digits, never twice alike


def test_a_sign_read_otherwise_in_every_frame_beside_a_car_is_not_a_car():
    frames = [[plate_read("1234567"), plate_read(t, conf=0.6, box=SIGN)] for t in SCATTER]
    tracker = PassTracker()
    decided = feed_all(tracker, frames) + tracker.flush()
    assert [p.vote.text for p in decided] == ["1234567"] and tracker.dropped == {NoisePass.OUTVOTED: 1}
    tracker = PassTracker(PassConfig(drop_outvoted=False))
    assert len(feed_all(tracker, frames) + tracker.flush()) == 2  # without the rule: a visit for the sign


def test_a_pass_whose_frames_never_agree_is_still_decided_when_no_car_outvotes_it():
    # a dark plate read a little otherwise in every frame: the only pass of its moment goes to review
    tracker = PassTracker()
    decided = feed_all(tracker, [[plate_read(t, conf=0.6, box=SIGN)] for t in SCATTER]) + tracker.flush()
    assert len(decided) == 1 and decided[0].doubt is not None


def test_two_cars_read_alike_in_their_frames_are_both_decided_at_the_same_moment():
    frames = [[plate_read("1234567"), plate_read("89012345", box=SIGN)]] * 2 + [[plate_read("1234567")]] * 3
    tracker = PassTracker()
    assert sorted(p.vote.text for p in feed_all(tracker, frames) + tracker.flush()) == ["1234567", "89012345"]


def test_a_sign_read_a_frame_longer_than_the_plate_is_still_not_a_car():
    # the car's pass ends (and leaves the tracker) a frame before the sign's: it is remembered for the comparison
    frames = [[plate_read("1234567"), plate_read(t, conf=0.6, box=SIGN)] for t in SCATTER]
    frames += [[plate_read("91888215", conf=0.6, box=SIGN)]]
    tracker = PassTracker()
    assert [p.vote.text for p in feed_all(tracker, frames + [[]] * 40) + tracker.flush()] == ["1234567"]


def test_noise_that_is_no_car_itself_does_not_outvote_a_car():
    # two unsure reads of a stripe agree with each other, but they are noise (below min_confidence), not a car
    car = [plate_read("7654321"), plate_read("7654331")]
    frames = [[car[i], plate_read("1111111", conf=0.2, box=SIGN)] for i in range(2)]
    tracker = PassTracker()
    decided = feed_all(tracker, frames + [[]] * 40) + tracker.flush()
    assert len(decided) == 1 and decided[0].vote.text[:5] == "76543" and decided[0].doubt is not None


def test_a_car_queued_behind_a_standing_car_still_gets_its_decision():
    # car A is decided in its first frames and then stands at the barrier; car B, read badly, arrives behind it
    frames = [[plate_read("1234567")]] * 10 + [[plate_read("1234567"), plate_read(t, conf=0.6, box=SIGN)]
                                                  for t in SCATTER] + [[plate_read("1234567")]] * 30
    tracker = PassTracker()
    decided = feed_all(tracker, frames) + tracker.flush()
    assert len(decided) == 2 and decided[0].vote.text == "1234567" and decided[1].doubt is not None

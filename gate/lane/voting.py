"""Follow each plate across frames and vote per character over one vehicle's pass.

Pure (no capture, no OpenCV, no clock): the camera loop feeds
``PassTracker.feed(t, reads)`` once per frame and gets back the passes that
are ready for their ONE decision. Why voting: a single frame misreads a
digit now and then (mud, glare, motion blur); the same digit read right in
most frames of the pass outvotes it.

A pass starts at the first valid read, absorbs later reads that match it
(edit distance <= ``max_text_diff`` from its voted text, or, before it is
decided, an overlapping box), and is decided once: when ``settle_votes``
reads agree with the voted text (and are sure, or most of the pass), or
when the pass ends (``pass_gap_s`` without a matching read, or the end of
the stream) with at least
``min_reads`` reads. After the decision it keeps absorbing reads of the same
plate, so a car standing at the barrier for a minute is still one pass.
"""
from __future__ import annotations

import itertools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, Sequence

import numpy as np

from gate.rules.votes import PlateVote, tally
from lpr.ctc import decode_pass
from lpr.metrics import box_iou, edit_distance

log = logging.getLogger(__name__)


class ReadLike(Protocol):
    """What the tracker needs of lpr.types.PlateRead (fakes in tests provide the same); read-only, as
    PlateRead is frozen."""

    @property
    def text(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def char_conf(self) -> tuple[float, ...]: ...
    @property
    def box(self) -> tuple[float, float, float, float]: ...
    @property
    def valid(self) -> bool: ...
    @property
    def crop(self) -> Any: ...


class NoisePass(StrEnum):
    """Why a pass ended without a decision (`gate run`'s summary counts them)."""

    THIN = "too few reads"
    UNSURE = "unsure"
    OUTVOTED = "outvoted"  # see PassConfig.drop_outvoted


@dataclass(frozen=True)
class PassConfig:
    pass_gap_s: float = 2.0  # no matching read for this long ends the pass (a car is gone)
    settle_votes: int = 3  # this many reads equal to the voted text decide the pass early
    # ... and only when their frame qualities (lpr: plate size x sharpness, 0-1; sharp gate frames score
    # 0.5-0.8) add up to this: three small blurred frames at the start of a pass agreeing on a misread
    # must not decide before the car comes close and sharp. Reads without a quality count 1 each.
    settle_quality: float = 1.5
    min_reads: int = 2  # a pass that ends with fewer reads is noise (one odd frame), never decided
    max_text_diff: int = 2  # edit distance to the pass's voted text that still counts as the same plate
    min_iou: float = 0.3  # box overlap that joins an undecided pass even when the text is far off
    # A pass that ends without `settle_votes` agreeing reads needs at least this voted confidence; below
    # it, a few unsure reads of a sign or a receding car are noise, not a car (the demo clip once opened
    # a phantom visit from 2 of 3 reads at confidence 0.20; real passes there vote 0.8 and up).
    min_confidence: float = 0.35
    # A decided pass is *sure* only when at least `sure_agree` reads equal the voted plate, they are most of
    # the pass's reads, and their frame qualities add up to `sure_quality`; otherwise the decision is
    # flagged for review (``PassResult.doubt``). On the six test clips (dev and synthetic; daylight, dusk,
    # IR: 220 passes) confident passes opened 21 visits under a wrong plate; with this rule 1 (and 24 of
    # 169 right visits went to review instead of 2). Split passes were the wrong ones: "8118506" from 3 of
    # 9 reads, "83575001" from 3 of 8 at quality 0.35, "1811111" from 1 of 2.
    sure_agree: int = 2
    sure_quality: float = 0.5
    # ... and only when the vote's confidence reaches `sure_confidence`. On 900 cars of clips never used before
    # (`plategen evalset --seed 2027`, daylight, dusk and IR), sure passes voted at 0.50-0.55 were 4 right and 4
    # wrong, the biggest share of the 11 unflagged wrong visits there; the six test clips had no pass in that band.
    # 0.60 since the width-48 OCR (2026-11-28): on 5,400 cars of clips its unflagged wrong visits were 30 at 0.55,
    # 24 at 0.60, 6 at 0.75, and the right visits sent to review 454, 470, 586; 0.60 is the highest that keeps
    # review within 5 % of the reader before it (rule 5 in the model card; on new clips: 3 unflagged vs its 8).
    # 0.65 with the approach-frame OCR (2026-11-29): chosen on the 900 calibration cars (cost 332.0 at 0.65 and
    # 0.70, 334.25 at 0.60; unflagged wrong visits 2 against 5) before rule 12 judged the pair on fresh11.
    sure_confidence: float = 0.65
    # A pass in which no two reads agree on its plate is dropped when it ends if another pass at the same time
    # has 2 or more reads that agree (and more than it): one car at a time comes to a barrier, and such a
    # scatter beside a car's own pass is a sign or a sticker on that car. Seen on the six test clips (16 of 33
    # wrong visits had this shape, 1 of 175 right passes); on the 900 calibration cars it took the wrong visits
    # from 190 to 137 with the same 549 cars right and the same 7 unflagged (and on the test clips 33 -> 18, 170).
    drop_outvoted: bool = True


@dataclass(frozen=True)
class Vote:
    """The outcome of a pass's vote."""

    text: str
    char_conf: tuple[float, ...]  # per position: mean confidence of the reads that voted for the winner
    agree: int  # reads whose whole text equals ``text``
    reads: int  # reads in the pass

    @property
    def confidence(self) -> float:
        return min(self.char_conf) if self.char_conf else 0.0


@dataclass(frozen=True)
class PassResult:
    """A pass ready for its decision: the voted plate and the best evidence crop."""

    pass_id: int
    vote: Vote
    first_t: float
    last_t: float
    decided_t: float  # stream time of the frame that settled it
    crop: Any  # BGR ndarray of the best read of the winning text (or None)
    box: tuple[float, float, float, float]
    why: str  # "settled" | "gap" | "end"
    frame: Any = None  # the full frame of that read (BGR ndarray), when the caller fed frames
    votes: tuple[PlateVote, ...] = ()  # every text the pass read: frames and share of confidence
    doubt: str | None = None  # why the vote is not sure (a split or thin pass): the decision goes to review


@dataclass
class _Track:
    pass_id: int
    first_t: float
    last_t: float
    reads: list[ReadLike] = field(default_factory=list)
    decided: bool = False
    voted_t: float = 0.0  # time of the last read that joined the vote (a decided pass stops voting)
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    _vote: Vote | None = None
    # per text, the frame of its most confident read: the evidence frame is one of these (a frame a text,
    # at most MAX_FRAMES_KEPT texts, so a long pass holds a few frames, not all of them)
    frames: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def add(self, read: ReadLike, t: float, image: Any = None) -> None:
        self.last_t = t
        self.box = tuple(float(v) for v in read.box)  # type: ignore[assignment]
        if not self.decided:  # after the decision the vote is frozen: a standing car adds no memory
            self.voted_t = t
            self.reads.append(read)
            self._vote = None
            if image is not None:
                self._keep_frame(read, image)

    def _keep_frame(self, read: ReadLike, image: Any) -> None:
        conf = float(read.confidence)
        kept = self.frames.get(read.text)
        if kept is None or conf > kept[0]:
            self.frames[read.text] = (conf, image)
        if len(self.frames) > MAX_FRAMES_KEPT:  # drop the least likely text's frame (never the voted one)
            voted = self.vote().text
            drop = min((t for t in self.frames if t != voted), key=lambda t: self.frames[t][0])
            del self.frames[drop]

    def vote(self) -> Vote:
        if self._vote is None:
            self._vote = vote(self.reads)
        return self._vote


MAX_FRAMES_KEPT = 4


@dataclass(frozen=True)
class _Voted:
    """What `drop_outvoted` needs of a pass, kept a while after it ends: a sign can outlast the plate's reads."""

    pass_id: int
    first_t: float
    voted_t: float
    agree: int
    car: bool  # decided, or would be when it ends (enough reads, confident enough)


RECENT_S = 60.0  # how long ended passes are kept for that comparison


def vote(reads: Sequence[ReadLike]) -> Vote:
    """The pass's plate: decoded over every frame's OCR posterior when the reads carry one, else voted
    per character (weighted by character confidence) within the winning length.

    The length (7 or 8 digits) is chosen first by total confidence, so a read that dropped a digit cannot
    shift the others' positions. With posteriors (`lpr.ctc.decode_pass`), each candidate plate (every
    read's text and the per-character vote) is scored by its CTC likelihood in every frame, weighted by
    the frame's quality, so one sharp frame outvotes five blurred ones; the winner's share of that
    evidence caps the vote's confidence, so two plates the frames cannot tell apart go to review.
    """
    if not reads:
        return Vote("", (), 0, 0)
    by_len: dict[int, list[ReadLike]] = defaultdict(list)
    for r in reads:
        by_len[len(r.text)].append(r)
    length = max(by_len, key=lambda n: (sum(_weight(r) for r in by_len[n]), len(by_len[n]), n))
    same = by_len[length]
    chars = []
    for i in range(length):
        score: dict[str, float] = defaultdict(float)
        for r in same:
            score[r.text[i]] += _char_conf(r, i)
        chars.append(max(score, key=lambda ch: (score[ch], ch)))
    text, share = "".join(chars), 1.0
    posteriors = [p for r in reads if (p := getattr(r, "posterior", None)) is not None]
    if len(posteriors) == len(reads):  # every read carries its OCR posterior
        decoded, share = decode_pass(posteriors, [float(getattr(r, "quality", 1.0)) for r in reads],
                                     [text, *(r.text for r in reads)])
        text = decoded or text
    return Vote(text, _position_conf(text, reads, share), sum(r.text == text for r in reads), len(reads))


def _position_conf(text: str, reads: Sequence[ReadLike], cap: float) -> tuple[float, ...]:
    """Per position, the mean confidence of the reads of this length that agree there, capped."""
    same = [r for r in reads if len(r.text) == len(text)]
    confs = []
    for i, ch in enumerate(text):
        agree = [_char_conf(r, i) for r in same if r.text[i] == ch]
        confs.append(min(cap, float(np.mean(agree))) if agree else 0.0)
    return tuple(confs)


def _char_conf(r: ReadLike, i: int) -> float:
    cc = r.char_conf
    return float(cc[i]) if cc is not None and i < len(cc) else float(r.confidence)


def _weight(r: ReadLike) -> float:
    return float(sum(r.char_conf)) if r.char_conf else float(r.confidence) * len(r.text)


class PassTracker:
    """Turns per-frame reads into one decision per vehicle pass (see the module doc)."""

    def __init__(self, config: PassConfig | None = None) -> None:
        self.config = config or PassConfig()
        self._tracks: list[_Track] = []
        self._recent: list[_Voted] = []  # passes that ended in the last RECENT_S
        self.dropped: Counter[NoisePass] = Counter()  # passes that ended without a decision, by reason
        self._ids = itertools.count(1)

    @property
    def gap_s(self) -> float:
        return self.config.pass_gap_s

    def feed(self, t: float, reads: Sequence[ReadLike], image: Any = None) -> list[PassResult]:
        """One frame's reads at stream time ``t`` (seconds); returns passes to decide now.

        ``image`` (the frame) is kept for the evidence of the reads it holds (see _Track.frames).
        """
        ready = self._expire(t)
        taken: set[int] = set()
        # one read per plate text: two reads of one plate in a frame (the zoomed-out look, a sticker with the
        # number) opened a second pass of the same car, which at the entry opened the barrier twice
        surest: dict[str, ReadLike] = {}
        for r in reads:
            if r.valid and (r.text not in surest or r.confidence > surest[r.text].confidence):
                surest[r.text] = r
        for read in (r for r in reads if r.valid and surest[r.text] is r):
            track = self._match(read, taken)
            if track is None:
                track = _Track(next(self._ids), t, t)
                self._tracks.append(track)
                log.debug("pass %d starts with %s", track.pass_id, read.text)
            taken.add(track.pass_id)
            track.add(read, t, image)
        for track in self._tracks:
            if track.pass_id in taken and not track.decided:
                v = track.vote()
                if self._settled(track, v):
                    ready.append(self._settle(track, t, "settled", v))
        return ready

    def flush(self, t: float | None = None) -> list[PassResult]:
        """The stream ended: decide every undecided pass that has enough reads."""
        ready = []
        for track in self._tracks:
            if not track.decided and self._enough(track):
                ready.append(self._settle(track, track.last_t if t is None else t, "end"))
        self._tracks, self._recent = [], []
        return ready

    def _expire(self, t: float) -> list[PassResult]:
        ready, keep = [], []
        self._recent = [v for v in self._recent if t - v.voted_t <= RECENT_S]
        for track in self._tracks:
            if t - track.last_t <= self.config.pass_gap_s:
                keep.append(track)
                continue
            if not track.decided:
                if self._enough(track):
                    ready.append(self._settle(track, t, "gap"))
            self._recent.append(self._voted(track, ended=True))
            log.debug("pass %d ends after %d reads", track.pass_id, len(track.reads))
        self._tracks = keep
        return ready

    def _settled(self, track: _Track, v: Vote) -> bool:
        """Enough agreeing reads to decide now: sure ones, or unsure ones that are most of the pass.

        A yellow stripe in the background read as a different 7-digit string each frame repeats one of
        them now and then; at low confidence such a minority never decides (the demo once opened a visit
        for 3 of 7 reads at confidence 0.09).
        """
        if v.agree < self.config.settle_votes:
            return False
        seen = sum(float(getattr(r, "quality", 1.0)) for r in track.reads if r.text == v.text)
        if seen < self.config.settle_quality:
            return False
        return v.confidence >= self.config.min_confidence or 2 * v.agree > len(track.reads)

    def _enough(self, track: _Track) -> bool:
        """Whether a pass that ends undecided is a car; otherwise it is dropped (and logged)."""
        v = track.vote()
        if len(track.reads) < self.config.min_reads:
            log.debug("pass %d dropped: %d read(s) of %s", track.pass_id, len(track.reads), v.text)
            self.dropped[NoisePass.THIN] += 1
            return False
        if v.confidence < self.config.min_confidence:
            log.info("pass %d dropped: %d unsure reads of %s (confidence %.2f < %.2f)", track.pass_id,
                     len(track.reads), v.text, v.confidence, self.config.min_confidence)
            self.dropped[NoisePass.UNSURE] += 1
            return False
        rival = self._outvoted_by(track, v) if self.config.drop_outvoted else None
        if rival is not None:
            log.info("pass %d dropped: %d of %d reads agree on %s while pass %d of the same moment has %d",
                     track.pass_id, v.agree, len(track.reads), v.text, rival.pass_id, rival.agree)
            self.dropped[NoisePass.OUTVOTED] += 1
            return False
        return True

    def _voted(self, track: _Track, ended: bool = False) -> _Voted:
        v = track.vote()
        car = track.decided or (not ended and len(track.reads) >= self.config.min_reads
                                and v.confidence >= self.config.min_confidence)
        return _Voted(track.pass_id, track.first_t, track.voted_t, v.agree, car)

    def _outvoted_by(self, track: _Track, v: Vote) -> _Voted | None:
        """A car's pass that 2 or more reads agree on, more than on this one, and that was voting while this one
        was read, when no two reads of this one agree (see PassConfig.drop_outvoted).

        Only the rival's voting span counts, not the reads a decided pass absorbs while its car stands at the
        barrier: a car queued behind it, read badly, still gets its decision (in review)."""
        if v.agree >= 2:
            return None
        others = [self._voted(o) for o in self._tracks if o is not track] + self._recent
        for other in others:
            if other.car and other.agree >= 2 and other.agree > v.agree \
                    and other.first_t <= track.last_t and track.first_t <= other.voted_t:
                return other
        return None

    def _match(self, read: ReadLike, taken: set[int]) -> _Track | None:
        """The nearest pass this read belongs to (one read per pass per frame)."""
        best, best_key = None, None
        for track in self._tracks:
            if track.pass_id in taken:
                continue
            dist = edit_distance(read.text, track.vote().text)
            overlap = box_iou(read.box, track.box)
            text_ok = dist <= self.config.max_text_diff
            # before its decision a pass takes any read at its place (a bad frame joins the vote and loses);
            # after it, only the same plate: a different plate at the barrier is the next car
            box_ok = not track.decided and overlap >= self.config.min_iou
            if not (text_ok or box_ok):
                continue
            key = (dist, -overlap)
            if best_key is None or key < best_key:
                best, best_key = track, key
        return best

    def _settle(self, track: _Track, t: float, why: str, v: Vote | None = None) -> PassResult:
        track.decided = True
        v = v or track.vote()
        winners = [r for r in track.reads if r.text == v.text] or track.reads
        best = max(winners, key=lambda r: (r.crop is not None, r.confidence))
        kept = track.frames.get(v.text) or max(track.frames.values(), key=lambda f: f[0], default=None)
        votes = tuple(tally([(r.text, float(r.confidence)) for r in track.reads]))
        track.frames = {}  # decided: the frames are no longer needed
        return PassResult(track.pass_id, v, track.first_t, track.last_t, t, best.crop,
                          tuple(float(x) for x in best.box), why,  # type: ignore[arg-type]
                          None if kept is None else kept[1], votes, doubt=self._doubt(track, v))

    def _doubt(self, track: _Track, v: Vote) -> str | None:
        """Why this pass's plate is not sure (see PassConfig.sure_agree), or None."""
        agree = [r for r in track.reads if r.text == v.text]
        if len(agree) < self.config.sure_agree:
            return f"{len(agree)} of {len(track.reads)} reads agree on the plate"
        if 2 * len(agree) <= len(track.reads):
            return f"split pass: {len(agree)} of {len(track.reads)} reads agree on the plate"
        quality = sum(float(getattr(r, "quality", 1.0)) for r in agree)
        if quality < self.config.sure_quality:
            return f"only small or blurred frames agree (quality {quality:.2f} < {self.config.sure_quality})"
        if v.confidence < self.config.sure_confidence:
            return f"the frames barely agree (vote confidence {v.confidence:.2f} < {self.config.sure_confidence:.2f})"
        return None

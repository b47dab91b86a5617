"""``POST /api/reads``: a camera's read with its pass's votes and evidence images, decided and committed.

Images come base64-encoded in the JSON body (``evidence.frame``,
``evidence.plate``), not multipart: one request, one schema, no extra parser,
and a camera box that queues a read on disk keeps it as one JSON file. Limits:
the whole body at most ``MAX_BODY`` bytes (gate.serve.limits answers 413
before reading more), each image at most its ``MAX_IMAGE`` bytes once decoded
(413). Each image must be a JPEG or PNG by its header (422 naming the field);
both are checked before either is written, under the server's evidence
folder with a name the server makes (gate.store.evidence), and recorded
with the decision in its transaction. When the images cannot be written
(the evidence disk is full or read-only), one line says so and the read is
decided without them: a 500 for every read would stop every lane's queue
behind a read the server can never take. The answer is the committed
decision: the camera pulses its relay only when ``open``. A ``read_id`` (the
camera's own id of the read) makes a resend harmless: the ledger keeps it
(reads.read_key, unique) and answers the same id with the first decision,
deciding nothing again (its images are not kept twice either).

``POST /api/gates/{gate}/commands/claim`` hands a remote `gate run` its
gate's queued manual opens (gate.store.commands), as a local one polls them.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import AfterValidator, BaseModel, Field

from gate.rules.clock import now_utc
from gate.rules.codes import EvidenceKind, Lane
from gate.rules.errors import InvalidInput
from gate.rules.votes import GATE_ID_HELP, MAX_VOTES, gate_id
from gate.serve import auth
from gate.serve.params import in_window
from gate.serve.schemas import DecisionOut, Plate, TimeIn, _In
from gate.store import evidence as evidence_files
from gate.store.commands import GateCommands
from gate.store.evidence import EvidenceFile
from gate.store.ledger import Ledger
from gate.store.tokens import ApiToken

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api")
LedgerDep = Annotated[Ledger, Depends(auth.get_ledger)]

MAX_BODY = 4 * 1024 * 1024  # a base64 frame and plate with room to spare
MAX_IMAGE = {EvidenceKind.FRAME: 2 * 1024 * 1024, EvidenceKind.PLATE: 256 * 1024}  # decoded bytes


def _gate(value: str) -> str:
    try:
        return gate_id(value)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


GateId = Annotated[str, AfterValidator(_gate), Field(description=GATE_ID_HELP, examples=["north-exit"])]


class VoteIn(_In):
    plate: Plate
    frames: int = Field(ge=1, le=100_000, description="frames of the pass that read this plate")
    score: float = Field(ge=0.0, le=1.0, description="its share of the pass's read confidence")


class EvidenceIn(_In):
    frame: str | None = Field(default=None, description="the full frame: base64 JPEG or PNG, at most 2 MiB decoded")
    plate: str | None = Field(default=None, description="the rectified plate: base64 JPEG or PNG, at most 256 KiB")


class CameraReadIn(_In):
    lane: Lane
    gate_id: GateId
    plate: Plate
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    at: TimeIn | None = Field(default=None, description="when the car was read; default now")
    votes: list[VoteIn] | None = Field(default=None, max_length=MAX_VOTES, description="the pass's candidate plates")
    evidence: EvidenceIn | None = None
    doubt: str | None = Field(default=None, min_length=1, max_length=150,
                              description="why the camera's pass is unsure of the plate: the decision goes to review")
    read_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                examples=["3f2b9c0e4d5a4b6f8e7d6c5b4a392817"],
                                description="the camera's own id of this read (a uuid4 hex): a resend (its answer "
                                "was lost) gets the first decision back and is not decided again")


class CommandOut(BaseModel):
    command_id: int
    gate: str
    command: str
    visit_id: int | None
    requested_by: str
    reason: str
    requested_at: str | None
    done_at: str | None
    stale: bool = Field(description="claimed too late: do not pulse")


def evidence_dir(request: Request) -> Path | None:
    """The server's evidence folder (``gate serve --evidence-dir``), or None when it keeps no images."""
    folder = getattr(request.app.state, "evidence_dir", None)
    return None if folder is None else Path(folder)


@router.post("/reads", summary="A camera's read (votes, evidence images): the decision is committed; "
             "open the relay only when `open`")
def post_read(
    body: CameraReadIn,
    request: Request,
    ledger: LedgerDep,
    token: Annotated[ApiToken, Depends(auth.require_role(*auth.READS))],
) -> DecisionOut:
    _bound_to(token, body.gate_id, body.lane)
    at = in_window(ledger, "at", body.at) or now_utc()
    images = _decode(body.evidence)
    folder = evidence_dir(request)
    saved: list[EvidenceFile] = []
    if images and folder is None:
        log.warning("read at %s: images not kept: this server has no --evidence-dir", body.gate_id)
    elif images:
        assert folder is not None
        saved = _write_images(folder, body, at, images)
    doubt: dict[str, Any] = {} if body.doubt is None else {"doubt": body.doubt}  # only a pass in doubt says so
    key: dict[str, Any] = {} if body.read_id is None else {"read_key": body.read_id}
    try:
        decision = ledger.decide(
            body.lane, body.plate, at=at, confidence=body.confidence, gate=body.gate_id,
            votes=None if body.votes is None else [v.model_dump() for v in body.votes], evidence=saved,
            **doubt, **key,
        )
    except Exception:
        for written in saved:  # nothing recorded them: no file without its row
            (folder or Path(".")).joinpath(written.file).unlink(missing_ok=True)
        raise
    if decision.replayed:
        for written in saved:  # the first send's images are the read's
            (folder or Path(".")).joinpath(written.file).unlink(missing_ok=True)
        log.info("read at %s/%s by token %r: resent read %s, answered with decision %s", body.lane,
                 body.gate_id, token.name, body.read_id, decision.decision_id)
        return DecisionOut.of(decision, decision.gate or body.gate_id)
    log.info("read at %s/%s by token %r: %s", body.lane, body.gate_id, token.name, decision.action)
    return DecisionOut.of(decision, decision.gate or body.gate_id)


@router.post("/gates/{gate}/commands/claim", summary="A gate's queued manual opens, each handed out once "
             "(a remote `gate run` polls this every second)")
def claim_commands(
    gate: Annotated[GateId, PathParam()],
    ledger: LedgerDep,
    token: Annotated[ApiToken, Depends(auth.require_role(*auth.READS))],
) -> list[CommandOut]:
    _bound_to(token, gate)
    return [CommandOut.model_validate(c.to_dict()) for c in GateCommands(ledger).claim(gate)]


def _bound_to(token: ApiToken, gate: str, lane: Lane | None = None) -> None:
    """403 unless the token may act for ``gate`` (and ``lane``): a camera token made with ``--gate --lane`` acts
    for its own barrier only."""
    if not token.may_act_for(gate, lane):
        asked = f"the {lane} at gate {gate!r}" if lane else f"gate {gate!r}"
        log.warning("token %r, bound to the %s at gate %s, was refused for %s", token.name, token.lane, token.gate,
                    asked)
        raise HTTPException(403, f"token {token.name!r} is bound to the {token.lane} at gate {token.gate!r}: "
                                 f"not {asked}")


def _write_images(folder: Path, body: CameraReadIn, at: datetime,
                  images: list[tuple[EvidenceKind, bytes]]) -> list[EvidenceFile]:
    """The read's images, written under ``folder``; none (and one error line) when the disk refuses them."""
    saved: list[EvidenceFile] = []
    try:
        for kind, data in images:
            saved.append(evidence_files.write(folder, body.lane, body.plate, at, kind, data))
    except OSError as exc:
        for written in saved:  # all of the read's images or none
            with contextlib.suppress(OSError):
                folder.joinpath(written.file).unlink(missing_ok=True)
        log.error("read at %s/%s: evidence images not kept (%s), deciding without them: %s", body.lane,
                  body.gate_id, exc.strerror or type(exc).__name__, folder)
        return []
    return saved


def _decode(evidence: EvidenceIn | None) -> list[tuple[EvidenceKind, bytes]]:
    """The images of a read, decoded and checked (413 too large, 422 not base64 / not a JPEG or PNG)."""
    if evidence is None:
        return []
    found = []
    for kind, text in ((EvidenceKind.FRAME, evidence.frame), (EvidenceKind.PLATE, evidence.plate)):
        if text is None:
            continue
        if text.startswith("data:") and "," in text:  # a data URL is the same image
            text = text.split(",", 1)[1]
        limit = MAX_IMAGE[kind]
        if len(text) > (limit + 2) // 3 * 4 + 4:
            raise HTTPException(413, f"evidence.{kind}: larger than {limit} bytes")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"evidence.{kind}: not base64") from None
        if len(data) > limit:
            raise HTTPException(413, f"evidence.{kind} is {len(data)} bytes: at most {limit}")
        try:
            evidence_files.sniff(data)
        except InvalidInput as exc:
            raise InvalidInput(f"evidence.{kind}: {exc}") from None
        found.append((kind, data))
    return found

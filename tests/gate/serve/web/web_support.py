"""Helpers of the web page tests: a seeded lot (with evidence images), users, and logging in."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from gate.rules.codes import EvidenceKind, Lane
from gate.store import evidence
from gate.store.ledger import Ledger
from gate.store.users import Users

OPERATOR = ("dana", "dana-password-1")
VIEWER = ("vic", "vic-password-1")
CSRF_INPUT = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Lot:
    """Ids of the seeded story, for the tests to look for."""

    inside_visit: int  # 12-345-67, inside with entry evidence
    paid_visit: int  # 98-765-43, paid and gone
    fuzzy_visit: int  # 55-512-34, its exit read as 55-512-39: a fuzzy match to review
    fuzzy_item: int
    no_visit_item: int  # an exit of 11-111-11 that matches nothing
    entry_frame: int  # evidence id of the inside car's entry frame


def jpeg(width: int, height: int, text: str, plate_box: bool) -> bytes:
    img = Image.new("RGB", (width, height), (70, 80, 90))
    draw = ImageDraw.Draw(img)
    if plate_box:  # a car with a plate, boxed as the detector would
        draw.rectangle((width * 0.25, height * 0.35, width * 0.75, height * 0.85), fill=(30, 30, 35))
        box = (width * 0.38, height * 0.62, width * 0.62, height * 0.74)
        draw.rectangle(box, fill=(245, 200, 0), outline=(0, 255, 0), width=3)
        draw.text((box[0] + 6, box[1] + 4), text, fill=(0, 0, 0))
    else:
        draw.rectangle((0, 0, width - 1, height - 1), fill=(245, 200, 0))
        draw.text((8, height // 3), text, fill=(0, 0, 0))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def images(root: Path, lane: Lane, plate: str, at: datetime) -> list[evidence.EvidenceFile]:
    """The full frame and the rectified plate, written into the evidence folder as the gate does."""
    return [
        evidence.write(root, lane, plate, at, EvidenceKind.FRAME, jpeg(640, 360, plate, True)),
        evidence.write(root, lane, plate, at, EvidenceKind.PLATE, jpeg(128, 32, plate, False)),
    ]


def seed(ledger: Ledger, root: Path, now: datetime | None = None) -> Lot:
    """A morning at the lot: cars in and out, payments, an unpaid exit denied, a misread exit, an unknown exit."""
    now = now or datetime.now(timezone.utc)
    t = now - timedelta(hours=3)
    paid = ledger.decide(Lane.ENTRY, "98-765-43", at=t, confidence=0.97, gate="entry-1",
                         votes=[{"plate": "9876543", "frames": 9, "score": 0.97}],
                         evidence=images(root, Lane.ENTRY, "9876543", t))
    ledger.pay("9876543", at=t + timedelta(hours=2), payment_id="PS1-0001")
    ledger.decide(Lane.EXIT, "98-765-43", at=t + timedelta(hours=2, minutes=5), confidence=0.95, gate="exit-1",
                  evidence=images(root, Lane.EXIT, "9876543", t + timedelta(hours=2, minutes=5)))
    fuzzy = ledger.decide(Lane.ENTRY, "55-512-34", at=t + timedelta(minutes=20), confidence=0.93, gate="entry-1",
                          evidence=images(root, Lane.ENTRY, "5551234", t + timedelta(minutes=20)))
    entered = t + timedelta(hours=1)
    inside = ledger.decide(Lane.ENTRY, "12-345-67", at=entered, confidence=0.96, gate="entry-2",
                           votes=[{"plate": "1234567", "frames": 11, "score": 0.9},
                                  {"plate": "1234561", "frames": 2, "score": 0.1}],
                           evidence=images(root, Lane.ENTRY, "1234567", entered))
    ledger.pay("5551234", at=now - timedelta(minutes=15), payment_id="PS1-0002")
    ledger.decide(Lane.ENTRY, "77-700-77", at=now - timedelta(minutes=50), confidence=0.91, gate="entry-1")
    ledger.decide(Lane.EXIT, "77-700-77", at=now - timedelta(minutes=12), confidence=0.9, gate="exit-1")  # unpaid
    ledger.decide(Lane.EXIT, "55-512-39", at=now - timedelta(minutes=10), confidence=0.62, gate="exit-1",
                  evidence=images(root, Lane.EXIT, "5551239", now - timedelta(minutes=10)))
    ledger.decide(Lane.EXIT, "11-111-11", at=now - timedelta(minutes=5), confidence=0.88, gate="exit-1",
                  evidence=images(root, Lane.EXIT, "1111111", now - timedelta(minutes=5)))
    items = {i.kind.value: i for i in ledger.review_queue() if i.item_id is not None}
    frame = next(e for e in ledger_evidence(ledger, inside.decision_id) if e.kind is EvidenceKind.FRAME)
    assert paid.visit_id and fuzzy.visit_id and inside.visit_id
    return Lot(
        inside_visit=inside.visit_id, paid_visit=paid.visit_id, fuzzy_visit=fuzzy.visit_id,
        fuzzy_item=int(items["fuzzy-match"].item_id or 0), no_visit_item=int(items["no-open-visit"].item_id or 0),
        entry_frame=frame.id,
    )


def ledger_evidence(ledger: Ledger, decision_id: int | None) -> list[evidence.EvidenceRecord]:
    assert decision_id is not None
    with ledger._reader() as conn:
        return evidence.of_decisions(conn, [decision_id]).get(decision_id, [])


def make_users(ledger: Ledger) -> None:
    users = Users(ledger)
    users.create(OPERATOR[0], "operator", OPERATOR[1])
    users.create(VIEWER[0], "viewer", VIEWER[1])


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def login(client: TestClient, user: tuple[str, str]) -> str:
    """Log in through the form; returns the session's CSRF token (from the next page)."""
    page = client.get("/login")
    answer = client.post("/login", data={"username": user[0], "password": user[1], "csrf": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/live").text)

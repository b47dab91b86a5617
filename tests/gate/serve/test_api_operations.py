"""Camera reads with votes and images, evidence by id, the decision log, the review queue and overrides."""
from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from gate_support import at
from serve_support import make_tokens

from gate.rules.codes import Role
from gate.serve import reads
from gate.serve.app import create_app
from gate.store.ledger import Ledger


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\x80" * width * 3 for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def z(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "evidence"


@pytest.fixture
def api(db_url: str, folder: Path) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: Ledger.open(db_url, migrate=False), folder)) as client:
        yield client


@pytest.fixture
def as_role(api: TestClient) -> dict[Role, dict[str, str]]:
    return make_tokens(api.app.state.ledger)  # type: ignore[attr-defined]


def read(api, headers, lane="entry", plate="12-345-67", minutes=0, gate="north-entry", **extra):
    body = {"lane": lane, "gate_id": gate, "plate": plate, "confidence": 0.95, "at": z(minutes), **extra}
    return api.post("/api/reads", json=body, headers=headers)


def test_a_read_with_votes_and_images_keeps_them_and_serves_the_images_by_id(api, as_role, folder):
    votes = [{"plate": "1234567", "frames": 9, "score": 0.9}, {"plate": "1234561", "frames": 1, "score": 0.1}]
    evidence = {"frame": b64(png(96, 54)), "plate": "data:image/png;base64," + b64(png(128, 32))}
    decision = read(api, as_role[Role.CAMERA], votes=votes, evidence=evidence).json()
    assert (decision["open"], decision["gate_id"]) == (True, "north-entry")
    listed = api.get("/api/decisions", headers=as_role[Role.VIEWER]).json()
    (row,) = listed["decisions"]
    assert (row["gate"], row["votes"]) == ("north-entry", votes)
    assert [(e["kind"], e["width"], e["height"]) for e in row["evidence"]] == [("frame", 96, 54), ("plate", 128, 32)]
    image = api.get(f"/api/evidence/{row['evidence'][0]['evidence_id']}", headers=as_role[Role.VIEWER])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == png(96, 54)
    assert "file" not in row["evidence"][0] and all(p.suffix == ".png" for p in folder.rglob("*.*"))


def test_an_oversized_read_is_a_413_in_one_line(api, as_role, monkeypatch):
    huge = read(api, as_role[Role.CAMERA], evidence={"frame": "A" * (reads.MAX_BODY + 10)})
    assert huge.status_code == 413 and huge.json()["detail"].startswith("request body is ")
    monkeypatch.setitem(reads.MAX_IMAGE, "plate", 100)
    big_plate = read(api, as_role[Role.CAMERA], evidence={"plate": b64(png(64, 64))})
    assert big_plate.status_code == 413 and big_plate.json()["detail"].startswith("evidence.plate")
    assert api.get("/api/decisions", headers=as_role[Role.VIEWER]).json()["decisions"] == []


def test_a_chunked_body_is_cut_off_at_the_limit(api, as_role):
    """No Content-Length to refuse up front: the body is counted as it arrives and the read never decided."""
    chunk = b"A" * 65536
    chunks = [b'{"lane": "entry", "gate_id": "g1", "plate": "1234567", "evidence": {"frame": "'] + [chunk] * (
        reads.MAX_BODY // len(chunk) + 2)

    response = api.post("/api/reads", content=iter(chunks), headers={**as_role[Role.CAMERA],
                                                                     "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["detail"].startswith("request body is larger than")
    assert api.get("/api/decisions", headers=as_role[Role.VIEWER]).json()["decisions"] == []


@pytest.mark.parametrize("evidence, message", [
    ({"frame": "not base64!"}, "evidence.frame: not base64"),
    ({"frame": b64(b"GIF89a" + b"\x00" * 20)}, "evidence.frame: image: expected a JPEG or PNG"),
    ({"plate": b64(b"\xff\xd8\xff\xe0 truncated")}, "evidence.plate: image: "),
    # a 1-bit PNG header of 20000x20000 (48 KB in all) would have gone to every browser that opened the visit
    ({"frame": b64(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (20000).to_bytes(4, "big") * 2 + b"\x01\x00\x00\x00\x00")},
     "evidence.frame: image: 20000x20000 pixels: expected at most 120 megapixels"),
])
def test_an_image_that_is_not_a_jpeg_or_png_is_a_422_naming_it(api, as_role, folder, evidence, message):
    response = read(api, as_role[Role.CAMERA], evidence={"frame": b64(png()), **evidence})
    assert response.status_code == 422 and response.json()["detail"].startswith(message)
    assert not list(folder.rglob("*.png"))  # nothing written for a refused read


@pytest.mark.parametrize("extra, field", [
    ({"gate": "north gate"}, "gate_id"),
    ({"votes": [{"plate": "1234567", "frames": 0, "score": 0.5}]}, "votes.0.frames"),
    ({"votes": [{"plate": "1234567", "frames": 1, "score": 0.5, "extra": 1}]}, "votes.0.extra"),
])
def test_bad_read_fields_are_422s_naming_the_field(api, as_role, extra, field):
    response = read(api, as_role[Role.CAMERA], **extra)
    assert response.status_code == 422 and response.json()["detail"].startswith(f"{field}: "), response.json()


def test_who_may_see_an_image(api, as_role):
    """Viewers and operators: any; a pay station: the entry image of a candidate of the plate it quotes."""
    read(api, as_role[Role.CAMERA], plate="1234561", evidence={"frame": b64(png())})  # the entry misread
    read(api, as_role[Role.CAMERA], plate="7777777", evidence={"frame": b64(png())})
    read(api, as_role[Role.CAMERA], lane="exit", plate="7777777", minutes=240, gate="south-exit",
         evidence={"frame": b64(png())})  # denied unpaid: an exit image
    pay = as_role[Role.PAY_STATION]

    def status(evidence_id, headers, **params):
        return api.get(f"/api/evidence/{evidence_id}", headers=headers, params=params).status_code

    assert [status(1, as_role[r]) for r in (Role.VIEWER, Role.OPERATOR, Role.CAMERA)] == [200, 200, 403]
    assert status(1, pay) == 403  # no plate quoted
    assert status(1, pay, plate="12-345-67") == 200  # 1234561 is a candidate of 1234567
    assert status(2, pay, plate="12-345-67") == 403  # 7777777 is not
    assert status(2, pay, plate="7777777") == 403  # its own visit is no candidate: the pay station knows it
    assert status(3, pay, plate="7777777") == 403  # an exit image never
    assert status(99, as_role[Role.VIEWER]) == 404


def test_an_expired_image_is_a_404_that_says_so(api, as_role, folder):
    read(api, as_role[Role.CAMERA], evidence={"frame": b64(png())})
    ledger = api.app.state.ledger  # type: ignore[attr-defined]
    ledger.expire_evidence([ledger.evidence(1).file], at(60))
    response = api.get("/api/evidence/1", headers=as_role[Role.VIEWER])
    assert response.status_code == 404 and "expired on 2025-03-02T09:00:00" in response.json()["detail"]


def test_the_decision_log_shows_denials_filtered_paged_and_as_csv(api, as_role):
    camera, viewer = as_role[Role.CAMERA], as_role[Role.VIEWER]
    read(api, camera, plate="1111111", minutes=0)
    read(api, camera, plate="2222222", minutes=1, gate="south-entry")
    read(api, camera, lane="exit", plate="1111111", minutes=120, gate="north-exit")
    denied = api.get("/api/decisions", params={"action": "deny", "reason": "unpaid"}, headers=viewer).json()
    assert [(d["plate"], d["gate"], d["amount_due"] > 0) for d in denied["decisions"]] == [
        ("1111111", "north-exit", True)]
    page = api.get("/api/decisions", params={"lane": "entry", "limit": 1, "count": "true"}, headers=viewer).json()
    assert (page["total"], page["next_offset"], page["decisions"][0]["plate"]) == (2, 1, "2222222")
    by_gate = api.get("/api/decisions", params={"gate": "south-entry", "since": z(0), "until": z(5)},
                      headers=viewer).json()
    assert [d["plate"] for d in by_gate["decisions"]] == ["2222222"]
    csv = api.get("/api/decisions", params={"format": "csv"}, headers=viewer)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "decision_id,at,lane,gate,plate,action,reason,visit_id,amount_due,flagged"
    assert csv.text.splitlines()[1].startswith("3,2025-03-02T10:00:00Z,exit,north-exit,1111111,deny,unpaid,1,")
    bad = api.get("/api/decisions", params={"action": "opened"}, headers=viewer)
    assert bad.status_code == 422 and bad.json()["detail"].startswith("action: ")
    assert api.get("/api/decisions", headers=as_role[Role.PAY_STATION]).status_code == 403


def test_review_resolve_records_the_operator_token_and_queues_a_manual_open(api, as_role):
    camera, operator = as_role[Role.CAMERA], as_role[Role.OPERATOR]
    read(api, camera, lane="exit", plate="5555555", minutes=3, gate="south-exit")  # no visit: review
    (item,) = [i for i in api.get("/api/review", headers=as_role[Role.VIEWER]).json() if i["id"]]
    assert item["kind"] == "no-open-visit"
    body = {"action": "open", "reason": "season ticket holder"}
    assert api.post(f"/api/review/{item['id']}/resolve", json=body,
                    headers=as_role[Role.VIEWER]).status_code == 403
    done = api.post(f"/api/review/{item['id']}/resolve", json=body, headers=operator).json()
    assert (done["item"]["resolved_by"], done["item"]["resolution"]) == ("operator-1", "open: season ticket holder")
    assert done["command"]["gate"] == "south-exit"
    claimed = api.post("/api/gates/south-exit/commands/claim", headers=camera).json()
    assert [(c["gate"], c["requested_by"], c["stale"]) for c in claimed] == [("south-exit", "operator-1", False)]
    assert api.post("/api/gates/south-exit/commands/claim", headers=camera).json() == []
    again = api.post(f"/api/review/{item['id']}/resolve", json=body, headers=operator)
    assert again.status_code == 409 and "no unresolved review item" in again.json()["detail"]


def test_a_reassign_without_a_visit_is_a_422_naming_visit_id(api, as_role):
    read(api, as_role[Role.CAMERA], lane="exit", plate="5555555", minutes=3)
    response = api.post("/api/review/1/resolve", json={"action": "reassign", "reason": "x"},
                        headers=as_role[Role.OPERATOR])
    assert response.status_code == 422 and "visit_id" in response.json()["detail"]
    blank = api.post("/api/review/1/resolve", json={"action": "confirm", "reason": ""},
                     headers=as_role[Role.OPERATOR])
    assert blank.status_code == 422 and blank.json()["detail"].startswith("reason: ")


def test_overrides_open_close_and_waive_record_who_acted(api, as_role):
    operator = as_role[Role.OPERATOR]
    opened = api.post("/api/overrides/open", json={"gate": "north-entry", "reason": "camera down",
                                                   "plate": "1234567"}, headers=operator).json()
    assert (opened["visit"]["plate"], opened["command"]["gate"]) == ("1234567", "north-entry")
    waived = api.post("/api/overrides/waive", json={"plate": "12-345-67", "reason": "broken ticket machine"},
                      headers=operator).json()
    assert waived["waived"] is True
    closed = api.post("/api/overrides/close", json={"visit_id": opened["visit"]["visit_id"], "reason": "left"},
                      headers=operator).json()
    assert closed["state"] == "closed"
    ledger = api.app.state.ledger  # type: ignore[attr-defined]
    assert [(o["action"], o["operator"]) for o in ledger.overrides()] == [
        ("open-visit", "operator-1"), ("open-gate", "operator-1"), ("waive", "operator-1"),
        ("close-visit", "operator-1")]
    both = api.post("/api/overrides/close", json={"visit_id": 1, "plate": "1234567", "reason": "x"},
                    headers=operator)
    assert both.status_code == 422 and "visit_id" in both.json()["detail"]
    assert api.post("/api/overrides/waive", json={"plate": "1234567", "reason": "x"},
                    headers=as_role[Role.VIEWER]).status_code == 403


def test_a_pass_in_doubt_is_flagged_and_goes_to_review(api, as_role):
    decision = read(api, as_role[Role.CAMERA], doubt="split pass: 2 of 5 reads agree").json()
    assert decision["open"] is True and decision["flagged"] is True
    items = [i for i in api.get("/api/review", headers=as_role[Role.VIEWER]).json() if i["id"]]
    assert [(i["kind"], i["reason"]) for i in items] == [("low-confidence", "unsure entry: split pass: 2 of 5 reads "
                                                                            "agree")]


def test_a_full_evidence_disk_decides_and_records_the_read_without_its_images(api, as_role, folder, monkeypatch,
                                                                               caplog):
    """A 500 for every read would stop every lane's queue behind a read the server can never take."""
    import errno
    import logging

    from gate.store import evidence as evidence_files

    real_write, calls = evidence_files.write, []

    def write(root, *args):
        calls.append(args)
        if len(calls) == 2:  # the frame is written, the plate finds the disk full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(root, *args)

    monkeypatch.setattr(evidence_files, "write", write)
    with caplog.at_level(logging.ERROR, logger="gate.serve.reads"):
        response = read(api, as_role[Role.CAMERA], evidence={"frame": b64(png(96, 54)), "plate": b64(png())})
    assert response.status_code == 200 and response.json()["open"] is True
    (row,) = api.get("/api/decisions", headers=as_role[Role.VIEWER]).json()["decisions"]
    assert (row["decision_id"], row["evidence"]) == (response.json()["decision_id"], [])
    assert not [p for p in folder.rglob("*") if p.is_file()]  # the frame written before is gone too
    (line,) = [r.getMessage() for r in caplog.records if r.name == "gate.serve.reads"]
    assert "evidence images not kept (No space left on device)" in line


def test_a_resent_read_gets_the_first_decision_and_is_not_decided_again(api, as_role, folder):
    """The answer to a paid car's exit was lost; the resend must not find its visit closed and deny it."""
    camera, ledger = as_role[Role.CAMERA], api.app.state.ledger
    read(api, camera, read_id="entry-1")
    ledger.pay("1234567", at=at(85))
    first = read(api, camera, "exit", minutes=90, gate="south-exit", read_id="exit-1",
                 evidence={"frame": b64(png())}).json()
    again = read(api, camera, "exit", minutes=90, gate="south-exit", read_id="exit-1",
                 evidence={"frame": b64(png())})
    assert (first["open"], first["reason"]) == (True, "paid")
    assert again.status_code == 200
    same = ("open", "action", "reason", "visit_id", "amount_due", "decision_id", "lane", "plate", "gate_id", "at")
    assert {k: again.json()[k] for k in same} == {k: first[k] for k in same}
    decisions = api.get("/api/decisions", headers=as_role[Role.VIEWER]).json()["decisions"]
    assert sorted(d["lane"] for d in decisions) == ["entry", "exit"]
    assert [len(d["evidence"]) for d in decisions if d["lane"] == "exit"] == [1]
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 1  # the resend's image is not kept twice


def test_a_read_id_is_checked_and_not_reused_for_another_read(api, as_role):
    camera = as_role[Role.CAMERA]
    for bad in ("", "a b", "x" * 65, "../x"):
        response = read(api, camera, read_id=bad)
        assert response.status_code == 422 and "read_id" in response.json()["detail"]
    assert read(api, camera, read_id="r-1").status_code == 200
    other = read(api, camera, plate="7654321", read_id="r-1")
    assert other.status_code == 409 and "read_id 'r-1' was already used" in other.json()["detail"]


def test_a_concurrent_resend_is_decided_once(api, as_role):
    """Two sends of one read at the same moment: one decides, the other loses on the key and gets that answer."""
    import threading

    ledger = api.app.state.ledger
    barrier, answers, errors = threading.Barrier(6), [], []

    def send() -> None:
        barrier.wait()
        try:
            answers.append(ledger.decide("entry", "1234567", at=at(0), gate="north-entry", read_key="same-read"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(answers) == 6
    assert {(a.action, a.reason, a.visit_id, a.decision_id) for a in answers} == {
        ("open", "entered", answers[0].visit_id, answers[0].decision_id)}
    assert sorted(a.replayed for a in answers) == [False] + [True] * 5
    assert len(ledger.decisions()) == 1 and len(ledger.visits()) == 1

"""Bad requests are refused at the edge: 422, one detail line naming each field, nothing written."""
from __future__ import annotations

import pytest

from gate.rules.codes import Role
from gate.rules.errors import LedgerBusy

GOOD_READ = {"lane": "entry", "gate_id": "g1", "plate": "12-345-67", "confidence": 0.9, "at": "2025-03-02T08:00:00Z"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"plate": "12-34"}, "plate", "invalid plate '12-34': expected 7 or 8 digits"),
        ({"plate": 1234567}, "plate", "Input should be a valid string"),
        ({"lane": "side"}, "lane", "Input should be 'entry' or 'exit'"),
        ({"confidence": 1.5}, "confidence", "less than or equal to 1"),
        ({"at": "2025-03-02T08:00:00"}, "at", "Input should have timezone info"),
        ({"at": "yesterday"}, "at", "Input should be a valid datetime"),
        ({"at": "1999-12-31T23:00:00Z"}, "at", "is outside the accepted window"),
        ({"gate_id": ""}, "gate_id", "expected 1 to 32 letters"),
        ({"speed": 30}, "speed", "Extra inputs are not permitted"),
    ],
)
def test_a_bad_read_is_a_422_naming_the_field(api, as_role, change, field, message):
    response = api.post("/api/reads", json={**GOOD_READ, **change}, headers=as_role[Role.CAMERA])
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: ") and message in detail, detail
    assert api.app.state.ledger.decisions() == []


def test_a_missing_field_is_named(api, as_role):
    body = {k: v for k, v in GOOD_READ.items() if k != "plate"}
    response = api.post("/api/reads", json=body, headers=as_role[Role.CAMERA])
    assert response.status_code == 422 and response.json()["detail"] == "plate: Field required"


def test_malformed_json_is_a_422_about_the_body(api, as_role):
    response = api.post(
        "/api/payments",
        content=b'{"plate": "1234567", "payment_id": ',
        headers={**as_role[Role.PAY_STATION], "Content-Type": "application/json"},
    )
    assert response.status_code == 422 and response.json()["detail"].startswith("body: malformed JSON")


def test_a_body_that_is_not_utf8_is_a_422_naming_the_byte(api, as_role):
    response = api.post(
        "/api/payments",
        content=b'{"plate": "12\xff34567", "payment_id": "p1"}',
        headers={**as_role[Role.PAY_STATION], "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "body: malformed JSON: not UTF-8 (byte 0xff at position 13)"
    assert api.app.state.ledger.payments().payments == []


def test_an_unknown_path_is_still_a_404(api, as_role):
    response = api.get("/api/nowhere", headers=as_role[Role.PAY_STATION])
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}


def test_a_bad_plate_in_a_query_is_a_422_naming_it(api, as_role):
    response = api.get("/api/quote", params={"plate": "abc"}, headers=as_role[Role.PAY_STATION])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("plate: invalid plate 'abc'")


def test_plates_in_any_digits_and_dashes_are_one_car(api, as_role):
    api.post("/api/reads", json=GOOD_READ, headers=as_role[Role.CAMERA])
    response = api.get("/api/quote", params={"plate": "１２–３４５–６７", "at": "2025-03-02T08:30:00Z"},
                       headers=as_role[Role.PAY_STATION])
    assert response.status_code == 200 and response.json()["plate"] == "1234567"


def test_a_busy_ledger_is_a_503_to_retry_never_a_traceback(api, as_role, monkeypatch):
    def busy(*_args, **_kwargs):
        raise LedgerBusy("database busy: another process held the write lock for 5 s")

    monkeypatch.setattr(api.app.state.ledger, "decide", busy)
    response = api.post("/api/reads", json=GOOD_READ, headers=as_role[Role.CAMERA])
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json() == {"detail": "database busy: another process held the write lock for 5 s"}


def test_a_bug_is_a_500_that_says_only_internal_error(db_url, monkeypatch):
    from fastapi.testclient import TestClient
    from serve_support import make_tokens

    from gate.serve.app import create_app
    from gate.store.ledger import Ledger

    with TestClient(create_app(lambda: Ledger.open(db_url)), raise_server_exceptions=False) as api:
        headers = make_tokens(api.app.state.ledger)[Role.CAMERA]

        def broken(*_args, **_kwargs):
            raise KeyError("secret internals")

        monkeypatch.setattr(api.app.state.ledger, "decide", broken)
        response = api.post("/api/reads", json=GOOD_READ, headers=headers)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error: see the server log"}


@pytest.mark.parametrize("path", ["/api/decisions", "/api/visits", "/api/payments"])
@pytest.mark.parametrize(("param", "value"), [("since", "0001-01-01T00:00:00+05:00"), ("until", "1990-01-01T00:00:00Z")])
def test_a_listing_time_out_of_range_names_its_parameter(api, as_role, path, param, value):
    response = api.get(path, params={param: value}, headers=as_role[Role.VIEWER])
    assert response.status_code == 422 and response.json()["detail"].startswith(f"{param}: "), response.text

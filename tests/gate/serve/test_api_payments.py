"""Quote and pay: what is owed, a payment recorded once however often the pay station retries it."""
from __future__ import annotations

from gate_support import at

from gate.rules.codes import Lane, Role

PLATE = "12-345-67"


def enter(api, minutes=0.0, plate=PLATE):
    api.app.state.ledger.decide(Lane.ENTRY, plate, at=at(minutes))


def z(minutes):
    return at(minutes).isoformat().replace("+00:00", "Z")


def test_a_quote_is_the_amount_due_at_an_exit_then_and_the_visit(api, as_role):
    enter(api)
    response = api.get("/api/quote", params={"plate": "1234567", "at": z(90)}, headers=as_role[Role.PAY_STATION])
    assert response.status_code == 200
    quote = response.json()
    assert (quote["plate"], quote["at"], quote["amount_due"], quote["paid_until"]) == ("1234567", z(90), 24.0, None)
    assert quote["visit"]["entry_at"] == z(0) and quote["visit"]["state"] == "open"


def test_after_paying_the_quote_is_zero_until_the_grace_period_ends(api, as_role):
    enter(api)
    pay = {"plate": PLATE, "payment_id": "ps1-0001", "at": z(90)}
    assert api.post("/api/payments", json=pay, headers=as_role[Role.PAY_STATION]).status_code == 200
    quote = api.get("/api/quote", params={"plate": PLATE, "at": z(100)}, headers=as_role[Role.PAY_STATION]).json()
    assert (quote["amount_due"], quote["paid_until"], quote["visit"]["paid"]) == (0.0, z(105), 24.0)


def test_a_replayed_payment_returns_the_first_receipt_and_pays_nothing_more(api, as_role):
    enter(api)
    headers = as_role[Role.PAY_STATION]
    first = api.post("/api/payments", json={"plate": PLATE, "payment_id": "ps1-0001", "at": z(90)}, headers=headers)
    replay = api.post("/api/payments", json={"plate": "1234567", "payment_id": "ps1-0001", "at": z(200)}, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert first.json()["replayed"] is False and replay.json()["replayed"] is True
    assert {**replay.json(), "replayed": False} == first.json()
    assert first.json()["paid_at"] == z(90) and first.json()["leave_by"] == z(105)


def test_a_payment_id_replayed_for_another_plate_is_a_409(api, as_role):
    enter(api)
    enter(api, plate="7654321")
    headers = as_role[Role.PAY_STATION]
    api.post("/api/payments", json={"plate": PLATE, "payment_id": "ps1-0001", "at": z(90)}, headers=headers)
    conflict = api.post("/api/payments", json={"plate": "7654321", "payment_id": "ps1-0001", "at": z(91)}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json() == {"detail": "payment id 'ps1-0001' was already used for plate 1234567"}


def test_no_open_visit_is_a_404(api, as_role):
    headers = as_role[Role.PAY_STATION]
    assert api.get("/api/quote", params={"plate": PLATE}, headers=headers).json() == {
        "detail": "no open visit for plate 12-345-67"
    }
    assert api.post("/api/payments", json={"plate": PLATE, "payment_id": "x"}, headers=headers).status_code == 404


def test_a_payment_before_the_entry_is_a_409(api, as_role):
    enter(api, minutes=60)
    response = api.post("/api/payments", json={"plate": PLATE, "payment_id": "x", "at": z(0)}, headers=as_role[Role.PAY_STATION])
    assert response.status_code == 409 and "before the entry" in response.json()["detail"]

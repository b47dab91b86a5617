"""Camera reads get the committed decision; the visit log pages and exports to CSV."""
from __future__ import annotations

from gate_support import at

from gate.rules.codes import Role


def z(minutes):
    return at(minutes).isoformat().replace("+00:00", "Z")


def read(api, headers, lane, plate, minutes):
    body = {"lane": lane, "gate_id": f"{lane}-1", "plate": plate, "confidence": 0.95, "at": z(minutes)}
    return api.post("/api/reads", json=body, headers=headers)


def test_an_entry_opens_and_an_unpaid_exit_stays_shut(api, as_role):
    camera = as_role[Role.CAMERA]
    entry = read(api, camera, "entry", "12-345-67", 0).json()
    assert (entry["open"], entry["action"], entry["reason"], entry["gate_id"], entry["at"]) == (
        True, "open", "entered", "entry-1", z(0))
    exit_ = read(api, camera, "exit", "1234567", 90).json()
    assert (exit_["open"], exit_["reason"], exit_["amount_due"], exit_["visit_id"]) == (
        False, "unpaid", 24.0, entry["visit_id"])


def test_visits_filter_and_page(api, as_role):
    camera, viewer = as_role[Role.CAMERA], as_role[Role.VIEWER]
    for i, plate in enumerate(["1111111", "2222222", "3333333"]):
        read(api, camera, "entry", plate, i * 10)
    read(api, camera, "exit", "1111111", 12)  # within the free minutes
    page = api.get("/api/visits", params={"limit": 2}, headers=viewer).json()
    assert [v["plate"] for v in page["visits"]] == ["1111111", "2222222"]
    assert (page["total"], page["next_offset"]) == (3, 2)
    last = api.get("/api/visits", params={"limit": 2, "offset": 2}, headers=viewer).json()
    assert [v["plate"] for v in last["visits"]] == ["3333333"] and last["next_offset"] is None
    inside = api.get("/api/visits", params={"inside": "true"}, headers=viewer).json()
    assert [v["plate"] for v in inside["visits"]] == ["2222222", "3333333"]
    one = api.get("/api/visits", params={"plate": "22-222-22"}, headers=viewer).json()
    assert [v["plate"] for v in one["visits"]] == ["2222222"]
    until = api.get("/api/visits", params={"until": z(5)}, headers=viewer).json()
    assert [v["plate"] for v in until["visits"]] == ["1111111"]


def test_visits_export_as_csv_in_the_lots_local_time(api, as_role):
    read(api, as_role[Role.CAMERA], "entry", "1234567", 0)
    read(api, as_role[Role.CAMERA], "exit", "1234567", 5)
    response = api.get("/api/visits", params={"format": "csv"}, headers=as_role[Role.VIEWER])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == [  # 08:00 UTC is 10:00 in Asia/Jerusalem (the default timezone)
        "visit_id,plate,entry_at,exit_at,state,fee,paid,waived,flagged,close_reason,entry_gate,exit_gate",
        "1,1234567,2025-03-02 10:00:00+02:00,2025-03-02 10:05:00+02:00,closed,0.00,0.00,False,False,exit,"
        "entry-1,exit-1",
    ]


def test_a_bad_paging_value_is_a_422_naming_it(api, as_role):
    response = api.get("/api/visits", params={"limit": 0}, headers=as_role[Role.VIEWER])
    assert response.status_code == 422 and response.json()["detail"].startswith("limit: ")

"""Plate lists from the page (holder, note, expiry, CSV import) and the review actions beyond confirm."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from conftest import Site
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from web_support import OPERATOR, csrf_of

from gate.rules.clock import day_start
from gate.rules.codes import Action, Lane, ListKind, Reason
from gate.rules.errors import InvalidInput
from gate.serve.web.lists import import_csv, last_day, save_entry
from gate.serve.web.session import SESSION_COOKIE
from gate.store import models
from gate.store.ledger import Ledger


def test_an_expired_subscriber_pays_like_anyone(ledger: Ledger):
    yesterday = ledger.today() - timedelta(days=1)
    save_entry(ledger, "12-345-67", ListKind.ALLOW, "Noa Levi", "monthly", yesterday, ledger.timezone)
    save_entry(ledger, "76-543-21", ListKind.ALLOW, "Dan Cohen", "", ledger.today() + timedelta(days=30),
               ledger.timezone)
    entered = datetime.now(timezone.utc) - timedelta(hours=3)
    for plate in ("1234567", "7654321"):
        ledger.decide(Lane.ENTRY, plate, at=entered)
    assert ledger.decide(Lane.EXIT, "1234567").reason is Reason.UNPAID
    assert ledger.decide(Lane.EXIT, "7654321").reason is Reason.ALLOW_LISTED


def test_an_entry_expiring_today_applies_through_the_whole_local_day(ledger: Ledger):
    """expires=2026-11-27 means through 2026-11-27: it ends as the lot's next local day begins."""
    today = ledger.today()
    save_entry(ledger, "12-345-67", ListKind.ALLOW, "Noa Levi", "monthly", today, ledger.timezone)
    with ledger.engine.connect() as conn:
        expires_at = conn.execute(select(models.plate_lists.c.expires_at)).scalar_one()
    assert expires_at == day_start(today + timedelta(days=1), ledger.timezone)
    assert last_day(expires_at, ledger.timezone) == today  # what the page shows and its edit form keeps
    ledger.decide(Lane.ENTRY, "1234567", at=datetime.now(timezone.utc) - timedelta(hours=3))
    assert ledger.decide(Lane.EXIT, "1234567").reason is Reason.ALLOW_LISTED


def test_the_lists_page_shows_the_day_typed_as_the_expiry(site: Site, operator):
    client, csrf = operator
    add = {"plate": "12-121-21", "kind": "allow", "holder": "Noa", "note": "", "expires": "2030-01-31", "csrf": csrf}
    assert client.post("/lists/save", data=add).status_code == 303
    assert "2030-01-31" in client.get("/lists").text and "2030-02-01" not in client.get("/lists").text
    edit = client.get("/lists", params={"edit": "1212121", "kind": "allow"}).text
    assert 'name="expires" value="2030-01-31"' in edit  # saving the form again keeps the same last day


def test_an_expired_ban_no_longer_refuses_the_entry(ledger: Ledger):
    save_entry(ledger, "11-222-33", ListKind.DENY, "", "fled without paying", ledger.today() - timedelta(days=1),
               ledger.timezone)
    assert ledger.decide(Lane.ENTRY, "1122233").action is Action.OPEN
    ledger.add_plate("11-222-33", ListKind.DENY)  # the row is still there: adding it again changes nothing
    assert len(ledger.plate_lists()) == 1


def test_a_csv_import_is_all_or_nothing_and_names_the_bad_line(ledger: Ledger):
    good = "plate,list,holder,note,expires\n12-345-67,allow,Noa Levi,monthly,2030-01-31\n7654321,deny,,,\n"
    assert import_csv(ledger, good, ledger.timezone) == 2
    with pytest.raises(InvalidInput, match="line 3: .*list"):
        import_csv(ledger, "plate,list\n1111111,allow\n2222222,maybe\n", ledger.timezone)
    with ledger.engine.connect() as conn:
        rows = {(r.plate, r.kind): r for r in conn.execute(select(models.plate_lists))}
    assert set(rows) == {("1234567", "allow"), ("7654321", "deny")}  # 1111111 was not added either
    assert rows[("1234567", "allow")].holder == "Noa Levi"
    local_end = rows[("1234567", "allow")].expires_at.astimezone(ledger.timezone)
    assert local_end.date() == date(2030, 2, 1) and local_end.hour == 0  # the whole of 2030-01-31 included


def test_an_operator_adds_edits_imports_and_removes_list_entries(site: Site, operator):
    client, csrf = operator
    add = {"plate": "12-121-21", "kind": "allow", "holder": "Noa", "note": "", "expires": "", "csrf": csrf}
    assert client.post("/lists/save", data=add).status_code == 303
    assert client.post("/lists/save", data={**add, "holder": "Noa Levi", "note": "monthly"}).status_code == 303
    page = client.get("/lists").text
    assert "Noa Levi" in page and "monthly" in page
    upload = {"file": ("lists.csv", b"plate,list,holder\n3333333,deny,Ban Ned\n", "text/csv")}
    assert client.post("/lists/import", data={"csrf": csrf}, files=upload).status_code == 303
    assert "Ban Ned" in client.get("/lists").text
    bad = {"file": ("lists.csv", b"plate,list\n12,allow\n", "text/csv")}
    assert client.post("/lists/import", data={"csrf": csrf}, files=bad).status_code == 422
    assert client.post("/lists/remove", data={"plate": "3333333", "kind": "deny", "csrf": csrf}).status_code == 303
    assert "Ban Ned" not in client.get("/lists").text
    assert {e["plate"] for e in site.ledger.plate_lists()} == {"1212121"}


def test_a_csv_of_up_to_1_mb_reaches_the_import_and_a_larger_body_is_a_413(site: Site, operator):
    """/lists/import has a larger body limit than the 64 KiB of every other path (gate.serve.limits)."""
    client, csrf = operator
    big = b"plate,list\n" + b"12,allow\n" * 110_000  # 990 kB: read, and refused for its bad plate
    answer = client.post("/lists/import", data={"csrf": csrf}, files={"file": ("lists.csv", big, "text/csv")})
    assert answer.status_code == 422 and "line 2" in answer.text
    huge = big * 2
    answer = client.post("/lists/import", data={"csrf": csrf}, files={"file": ("lists.csv", huge, "text/csv")})
    assert answer.status_code == 413 and answer.json()["detail"].startswith("request body is ")
    assert site.ledger.plate_lists() == []


def test_open_by_hand_from_the_review_queue_queues_a_pulse_under_the_username(site: Site, operator):
    client, csrf = operator
    item = site.lot.no_visit_item
    done = client.post(f"/review/{item}/resolve", data={"action": "open", "reason": "driver showed a ticket",
                                                        "csrf": csrf})
    assert done.status_code == 303 and "pulse queued for gate exit-1" in done.headers["location"].replace("+", " ")
    with site.ledger.engine.connect() as conn:
        command = conn.execute(select(models.gate_commands)).one()
    assert (command.gate, command.requested_by) == ("exit-1", "dana")
    assert "driver showed a ticket" in client.get("/review").text


def test_reassign_needs_a_visit_number(site: Site, operator):
    client, csrf = operator
    for typed in ("", "²", "١٢", "9" * 5000):  # str.isdigit() takes "²", and int() then raised: a 500
        answer = client.post(f"/review/{site.lot.fuzzy_item}/resolve",
                             data={"action": "reassign", "reason": "other car", "visit_id": typed, "csrf": csrf})
        assert answer.status_code == 422 and "visit" in answer.text, typed


def test_removing_from_an_unknown_list_names_the_list(site: Site, operator):
    client, csrf = operator
    answer = client.post("/lists/remove", data={"plate": "1234567", "kind": "maybe", "csrf": csrf})
    assert answer.status_code == 422 and "expected allow or deny" in answer.text and "maybe" in answer.text


def test_the_cookie_is_secure_over_https(site: Site):
    client = TestClient(site.client.app, base_url="https://testserver", follow_redirects=False)
    page = client.get("/login")
    answer = client.post("/login", data={"username": OPERATOR[0], "password": OPERATOR[1], "csrf": csrf_of(page.text)})
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_an_api_token_is_shown_once_and_revoked_from_settings(site: Site, operator):
    client, csrf = operator
    created = client.post("/settings/tokens", data={"name": "pay-station-2", "role": "pay-station", "csrf": csrf})
    secret = re.search(r'id="new-token">([^<]+)<', created.text).group(1)
    assert created.headers["Cache-Control"] == "no-store"  # the page with the secret is never cached
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/whoami", headers=headers).json()["name"] == "pay-station-2"
    settings = client.get("/settings").text
    assert secret not in settings  # never shown again
    assert "vic" in settings and "dana" in settings  # the web users, to operators
    assert client.post("/settings/tokens/revoke", data={"name": "pay-station-2", "csrf": csrf}).status_code == 303
    assert TestClient(client.app).get("/api/whoami", headers=headers).status_code == 401


def test_a_bad_value_in_an_action_form_is_422_and_a_refused_action_409(site: Site, operator):
    client, csrf = operator
    blank = client.post("/settings/tokens/revoke", data={"name": "", "csrf": csrf})
    assert blank.status_code == 422 and "a token name is required" in blank.text
    huge = client.post("/visits/99999999999999999999/waive", data={"reason": "goodwill", "csrf": csrf})
    assert huge.status_code == 422
    unknown = client.post("/settings/tokens/revoke", data={"name": "no-such-token", "csrf": csrf})
    assert unknown.status_code == 409


def test_a_camera_token_made_on_the_page_is_bound_to_its_gate(site: Site, operator):
    client, csrf = operator
    created = client.post("/settings/tokens", data={"name": "cam-n", "role": "camera", "gate": "north-exit",
                                                    "lane": "exit", "csrf": csrf})
    secret = re.search(r'id="new-token">([^<]+)<', created.text).group(1)
    refused = client.post("/api/reads", json={"lane": "exit", "gate_id": "south-exit", "plate": "1234567"},
                          headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 403
    row = re.search(r"<td>cam-n</td><td>camera</td><td>([^<]*)</td>", client.get("/settings").text)
    assert row is not None and row.group(1) == "exit at north-exit"
    bad = client.post("/settings/tokens", data={"name": "ps-n", "role": "pay-station", "gate": "north-exit",
                                                "lane": "exit", "csrf": csrf})
    assert bad.status_code == 422 and "expected a gate only for a camera token" in bad.text


def test_the_pages_list_edits_are_audited_and_its_import_reads_the_apis_export(site: Site, operator):
    client, csrf = operator
    add = {"plate": "12-121-21", "kind": "allow", "holder": "Noa", "note": "", "expires": "2030-01-31", "csrf": csrf}
    assert client.post("/lists/save", data=add).status_code == 303
    exported = client.get("/api/lists/export")  # the page's link: a logged-in browser may read the API
    assert exported.status_code == 200 and "1212121,allow,Noa,,2030-02-01 00:00:00+02:00" in exported.text
    assert client.post("/lists/remove", data={"plate": "1212121", "kind": "allow", "csrf": csrf}).status_code == 303
    upload = {"file": ("lists.csv", exported.content, "text/csv")}
    assert client.post("/lists/import", data={"csrf": csrf}, files=upload).status_code == 303
    assert "2030-01-31" in client.get("/lists").text  # the day typed, read back from the export
    audit = [(o["operator"], o["action"], o["plate"]) for o in site.ledger.overrides() if o["plate"] == "1212121"]
    assert audit == [("dana", "list-add", "1212121"), ("dana", "list-remove", "1212121"), ("dana", "list-add", "1212121")]


def test_an_expiry_stored_before_the_range_check_still_shows_and_exports(site: Site, operator):
    """9999-12-31T23:59Z is past the calendar's end in local time: it once made /lists and the export 500s."""
    client, _ = operator
    with site.ledger.engine.begin() as conn:
        conn.execute(insert(models.plate_lists).values(
            plate="1234567", kind="allow", holder="Far Future", added_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
            expires_at=datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)))
    page = client.get("/lists")
    assert page.status_code == 200 and "Far Future" in page.text and "9999-12-31" in page.text
    exported = client.get("/api/lists/export")
    assert exported.status_code == 200 and "1234567,allow,Far Future,,9999-12-31 23:59:00+00:00" in exported.text


def test_a_ban_is_shown_first_and_found_however_many_subscribers_there_are(site, operator, monkeypatch):
    client, _ = operator
    from gate.serve.web import data

    monkeypatch.setattr(data, "LIST_PAGE", 3)
    for n in range(5):
        site.ledger.add_plate(f"100000{n}", "allow")
    site.ledger.add_plate("9999999", "deny")
    page = client.get("/lists").text
    assert page.index("99-999-99") < page.index("10-000-00") and "Showing 3 of 6 entries" in page
    found = client.get("/lists", params={"plate": "000-04"}).text
    assert "10-000-04" in found and "10-000-01" not in found and "Showing" not in found
    edit = client.get("/lists", params={"edit": "1000004", "kind": "allow"}).text  # not on the first page
    assert "Edit 10-000-04" in edit

"""The admin pages over HTTP (TestClient): login, sessions, CSRF, roles, rate limiting, evidence, CSV."""
from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta

from conftest import Site
from fastapi.testclient import TestClient
from web_support import OPERATOR, VIEWER, csrf_of, login

from gate.rules.codes import Lane
from gate.rules.errors import LedgerBusy
from gate.serve.web import data, pages
from gate.serve.web.session import SESSION_COOKIE
from gate.store.users import FAILURE_LIMIT

PAGES = ["/live", "/live/lanes", "/visits", "/visits?plate=345", "/review", "/payments", "/lists", "/settings"]


def test_every_page_but_login_health_and_static_needs_a_login(site: Site):
    c = site.client
    for page in PAGES + [f"/visits/{site.lot.inside_visit}", "/visits.csv", f"/evidence/{site.lot.entry_frame}"]:
        answer = c.get(page)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), page
    assert c.get("/docs").status_code == 401
    assert c.get("/health").status_code == 200
    assert c.get("/login").status_code == 200
    assert c.get("/static/app.css").status_code == 200


def test_the_session_cookie_is_httponly_strict_and_only_its_hash_is_stored(site: Site):
    c = site.client
    page = c.get("/login")
    answer = c.post("/login", data={"username": "dana", "password": OPERATOR[1], "csrf": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["location"] == "/live"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback; https sets it
    for page in PAGES:
        assert c.get(page).status_code == 200, page


def test_a_logged_in_user_reads_the_docs_and_the_api(operator):
    client, _csrf = operator
    assert client.get("/docs").status_code == 200
    assert client.get("/api/visits").status_code == 200


def test_the_api_refuses_a_browser_write_without_the_csrf_header(operator):
    client, csrf = operator
    body = {"plate": "12-345-67", "payment_id": "web-1"}
    assert client.post("/api/payments", json=body).status_code == 403


def test_a_form_posted_without_the_csrf_token_is_refused(site: Site, operator):
    client, csrf = operator
    visit = site.lot.inside_visit
    assert client.post(f"/visits/{visit}/waive", data={"reason": "ticket machine broken"}).status_code == 403
    assert client.post(f"/visits/{visit}/waive", data={"reason": "x", "csrf": "forged"}).status_code == 403
    assert not site.ledger.visit(visit).waived
    done = client.post(f"/visits/{visit}/waive", data={"reason": "ticket machine broken", "csrf": csrf})
    assert done.status_code == 303 and site.ledger.visit(visit).waived


def test_the_login_form_needs_its_own_csrf_token(site: Site):
    answer = site.client.post("/login", data={"username": "dana", "password": OPERATOR[1]})
    assert answer.status_code == 403


def test_a_viewer_sees_no_action_buttons(site: Site, viewer):
    client, _csrf = viewer
    review = client.get("/review").text
    assert "Confirm match" not in review and "/resolve" not in review
    assert "/waive" not in client.get(f"/visits/{site.lot.inside_visit}").text
    assert "/lists/save" not in client.get("/lists").text
    settings = client.get("/settings").text
    assert "/settings/tokens" not in settings and 'id="users"' not in settings


def test_a_viewer_posting_a_form_gets_403(site: Site, viewer):
    client, csrf = viewer
    lot = site.lot
    posts = {
        f"/review/{lot.fuzzy_item}/resolve": {"action": "confirm", "reason": "looks right"},
        f"/visits/{lot.inside_visit}/waive": {"reason": "friend"},
        "/lists/save": {"plate": "1234567", "kind": "allow"},
        "/settings/tokens": {"name": "mine", "role": "operator"},
    }
    for url, form in posts.items():
        assert client.post(url, data={**form, "csrf": csrf}).status_code == 403, url
    assert not site.ledger.visit(lot.inside_visit).waived
    assert any(i.item_id == lot.fuzzy_item for i in site.ledger.review_queue())


def test_failed_logins_are_rate_limited_per_username(site: Site):
    c = site.client
    token = csrf_of(c.get("/login").text)
    for _ in range(FAILURE_LIMIT):
        wrong = c.post("/login", data={"username": "dana", "password": "guess-guess", "csrf": token})
        assert wrong.status_code == 401 and "wrong username or password" in wrong.text
    throttled = c.post("/login", data={"username": "dana", "password": OPERATOR[1], "csrf": token})
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    other = site.app_client()  # another username is not throttled
    login(other, VIEWER)
    site.clock.advance(minutes=5, seconds=1)
    login(site.app_client(), OPERATOR)


def test_an_expired_session_goes_back_to_the_login(site: Site, operator):
    client, _csrf = operator
    assert client.get("/live").status_code == 200
    site.clock.advance(hours=12)
    assert client.get("/live").headers["location"].startswith("/login")


def test_logout_ends_the_session_even_for_a_copied_cookie(site: Site, operator):
    client, csrf = operator
    copy = TestClient(client.app, follow_redirects=False, cookies={SESSION_COOKIE: client.cookies[SESSION_COOKIE]})
    assert copy.get("/live").status_code == 200
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    assert copy.get("/live").status_code == 303


def test_evidence_is_served_by_id_to_logged_in_users_and_expired_says_so(site: Site, operator):
    client, _csrf = operator
    image = client.get(f"/evidence/{site.lot.entry_frame}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content.startswith(b"\xff\xd8")
    assert client.get("/evidence/99999").status_code == 404
    record = site.ledger.evidence(site.lot.entry_frame)
    (site.evidence_dir / record.file).unlink()
    site.ledger.expire_evidence([record.file])
    assert client.get(f"/evidence/{site.lot.entry_frame}").status_code == 410
    assert "image expired" in client.get(f"/visits/{site.lot.inside_visit}").text


def test_the_visits_csv_is_the_apis_csv_for_the_same_filter(site: Site, operator):
    client, _csrf = operator
    from serve_support import make_tokens

    from gate.rules.codes import Role

    token = make_tokens(site.ledger)[Role.VIEWER]
    for page_filter, api_filter in [("plate=1234567", "plate=1234567"), ("", ""), ("inside=1", "inside=true")]:
        ours = client.get(f"/visits.csv?{page_filter}")
        api = client.get(f"/api/visits?format=csv&limit=1000&{api_filter}", headers=token)
        assert ours.status_code == 200 and ours.headers["content-type"].startswith("text/csv")
        assert list(csv.reader(io.StringIO(ours.text))) == list(csv.reader(io.StringIO(api.text))), page_filter


def test_a_partial_plate_finds_the_visit(site: Site, operator):
    client, _csrf = operator
    page = client.get("/visits?plate=345").text
    assert "12-345-67" in page and "98-765-43" not in page
    assert client.get("/visits?plate=34").status_code == 422


def test_a_day_at_the_calendars_end_is_a_422_not_a_crash(site: Site, operator):
    client, _csrf = operator
    for page in ("/visits?until=9999-12-31", "/visits.csv?until=9999-12-31", "/payments?until=9999-12-31",
                 "/visits?since=0001-01-01", "/payments?until=0001-01-05"):
        answer = client.get(page)
        month = page.rsplit("=", 1)[1][:7]  # the payments page may name its range's first day, 13 days before
        assert answer.status_code == 422 and month in answer.text, page


def test_resolving_a_review_item_needs_a_reason_and_is_audited_with_the_username(site: Site, operator):
    client, csrf = operator
    item = site.lot.fuzzy_item
    refused = client.post(f"/review/{item}/resolve", data={"action": "confirm", "reason": " ", "csrf": csrf})
    assert refused.status_code == 422
    done = client.post(f"/review/{item}/resolve", data={"action": "confirm", "reason": "same car, dirty plate",
                                                        "csrf": csrf})
    assert done.status_code == 303
    audit = client.get("/review").text
    assert "dana" in audit and "same car, dirty plate" in audit


def test_a_date_range_is_in_the_lots_local_days(site: Site, operator):
    client, _csrf = operator
    ledger = site.ledger
    day = ledger.today() - timedelta(days=2)
    midnight = datetime(day.year, day.month, day.day, tzinfo=ledger.timezone)  # local, not UTC
    ledger.decide(Lane.ENTRY, "44-400-44", at=midnight - timedelta(minutes=40))  # the evening before: 10 min, free
    ledger.decide(Lane.EXIT, "44-400-44", at=midnight - timedelta(minutes=30))
    ledger.decide(Lane.ENTRY, "55-500-55", at=midnight + timedelta(minutes=30))  # 00:30 local: the day itself
    page = client.get(f"/visits?since={day}&until={day}").text
    assert "55-500-55" in page and "44-400-44" not in page


def test_failed_logins_are_logged_without_the_password(site: Site, caplog):
    token = csrf_of(site.client.get("/login").text)
    with caplog.at_level(logging.WARNING):
        site.client.post("/login", data={"username": "dana", "password": "hunter2-secret", "csrf": token})
    assert "failed login for 'dana'" in caplog.text and "hunter2-secret" not in caplog.text


def test_the_payments_page_totals_are_the_revenue_reports(site: Site, operator):
    client, _csrf = operator
    last = site.ledger.today()
    first = last - timedelta(days=13)
    page = client.get("/payments").text
    report = client.get(f"/api/reports/revenue?from={first}&to={last}").json()  # the logged-in browser may read it
    assert report["total_payments"] == 2
    assert f'<b id="total">{report["total_amount"]:.2f} ILS</b>' in page and "from 2 payments" in page
    assert "PS1-0001" in page and "PS1-0002" in page and page.count('class="bar"') == 14


def test_pages_allow_only_their_own_assets_and_no_framing(operator):
    client, _csrf = operator
    headers = client.get("/live").headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"


def test_the_review_page_lists_cars_over_the_maximum_stay(site: Site, operator):
    client, _csrf = operator
    entered = datetime.now(site.ledger.timezone) - timedelta(hours=site.ledger.policy.max_stay_hours + 8)
    site.ledger.decide(Lane.ENTRY, "66-600-66", at=entered)
    page = client.get("/review").text
    assert 'id="overstays"' in page and "66-600-66" in page
    assert page.count('class="review card"') == 2  # the stored items, each with its read beside the matched entry


def test_a_form_field_past_its_length_gets_the_error_page_naming_it(site: Site, operator):
    client, csrf = operator
    add = {"plate": "12-121-21", "kind": "allow", "holder": "N" * 101, "note": "", "expires": "", "csrf": csrf}
    answer = client.post("/lists/save", data=add, headers={"referer": "http://testserver/lists"})
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert "holder" in answer.text and 'href="/lists"' in answer.text
    assert client.get("/api/lists").json() == []  # nothing saved


def test_a_busy_database_on_a_page_is_an_error_page_that_asks_to_retry(site: Site, operator, monkeypatch):
    client, _csrf = operator

    def busy(_ledger):
        raise LedgerBusy("the ledger is busy: another gate holds the write lock")

    monkeypatch.setattr(data, "live_lanes", busy)
    page = client.get("/live")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "another gate holds the write lock" in page.text and page.headers["retry-after"] == "1"


def test_a_form_that_meets_a_busy_database_is_told_to_retry_not_that_it_conflicts(site: Site, operator, monkeypatch):
    client, csrf = operator

    def busy(*_args, **_kwargs):
        raise LedgerBusy("the ledger is busy: another gate holds the write lock")

    monkeypatch.setattr(pages, "save_entry", busy)
    add = {"plate": "12-121-21", "kind": "allow", "holder": "Noa", "note": "", "expires": "", "csrf": csrf}
    answer = client.post("/lists/save", data=add)
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert "another gate holds the write lock" in answer.text


def test_evidence_is_a_page_sent_with_nosniff_and_a_missing_file_is_not_called_expired(site: Site, operator):
    client, _ = operator
    image = client.get(f"/evidence/{site.lot.entry_frame}")
    assert image.headers["x-content-type-options"] == "nosniff" and image.headers["cache-control"] == "no-store"
    unknown = client.get("/evidence/999999")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    site.client.app.state.evidence_dir = None  # a server started without --evidence-dir
    elsewhere = client.get(f"/evidence/{site.lot.entry_frame}")
    assert elsewhere.status_code == 404 and "not on this server" in elsewhere.text and "retention" not in elsewhere.text


def test_logged_in_pages_and_the_csv_are_never_kept_by_the_browser(site: Site, operator):
    client, _ = operator
    for url in ("/live", f"/visits/{site.lot.inside_visit}", "/lists", "/visits.csv"):
        assert client.get(url).headers.get("cache-control") == "no-store", url


def test_only_the_api_docs_own_assets_are_served_not_the_bundles_demo_page(site: Site):
    anon = site.app_client()
    assert anon.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    for name in ("index.html", "swagger-initializer.js", "oauth2-redirect.html"):
        assert anon.get(f"/docs-assets/{name}").status_code == 404, name


def test_the_status_banner_shows_a_forms_outcome_never_text_from_a_link(site: Site, operator):
    client, _ = operator
    planted = "Session expired. Call IT on 03-555-0100 and give your password"
    assert planted not in client.get("/live", params={"done": planted}).text  # a link from a mail or another site
    assert planted not in client.get("/live", params={"done": planted},
                                     headers={"referer": "https://evil.example/x"}).text
    own = client.get("/lists", params={"done": "removed 12-345-67"}, headers={"referer": "http://testserver/lists"})
    assert "removed 12-345-67" in own.text  # the redirect after this site's own form
    assert pages._safe_next("/live?done=" + planted.replace(" ", "+") + "&plate=12") == "/live?plate=12"


def test_a_database_that_went_down_is_a_503_without_its_address_or_user(db_url: str):
    from gate.serve.app import create_app
    from gate.store import db
    from gate.store.ledger import Ledger

    app = create_app(lambda: Ledger.open(db_url, migrate=False))
    with TestClient(app, follow_redirects=False) as anon:
        page = anon.get("/login")  # served while the database was up
        app.state.ledger.engine = db.make_engine("postgresql+psycopg://plategate:s3cret@127.0.0.1:1/ledger")  # down
        login_page = anon.post("/login", data={"username": "x", "password": "y" * 8, "csrf": csrf_of(page.text)})
        api = anon.get("/api/whoami", headers={"Authorization": "Bearer pgt_guess"})
    assert login_page.status_code == api.status_code == 503
    for answer in (login_page, api):
        assert "127.0.0.1" not in answer.text and "database unavailable" in answer.text


def test_a_list_import_waiting_for_the_ledger_leaves_the_server_answering(db_url: str):
    """Another process holds SQLite's write lock while an operator imports a CSV: /health (and every lane and pay
    station) still answers, because the import waits in a worker thread, not on the event loop. The lock is let
    go once /health has answered, or after 5 s: with the import on the loop, /health answers only after it."""
    import asyncio
    import sqlite3
    import threading

    import httpx
    import pytest
    from web_support import make_users

    from gate.serve.app import create_app
    from gate.store.ledger import Ledger

    if not db_url.startswith("sqlite"):
        pytest.skip("holds SQLite's write lock")
    with Ledger.open(db_url, migrate=False) as ledger:
        make_users(ledger)
    app = create_app(lambda: Ledger.open(db_url, migrate=False))
    app.state.ledger = Ledger.open(db_url, migrate=False)  # what the lifespan does
    locked, answered = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        con = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        locked.set()
        answered.wait(5.0)
        con.execute("ROLLBACK")
        con.close()

    async def scenario() -> tuple[bool, int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            page = await c.get("/login")
            await c.post("/login", data={"username": OPERATOR[0], "password": OPERATOR[1], "csrf": csrf_of(page.text)})
            token = csrf_of((await c.get("/live")).text)
            threading.Thread(target=hold_the_lock, daemon=True).start()
            await asyncio.to_thread(locked.wait)
            upload = asyncio.create_task(c.post("/lists/import", data={"csrf": token},
                                                files={"file": ("l.csv", "plate,kind\n1234567,allow\n", "text/csv")}))
            while not upload.done() and app.state.ledger._writer.acquire(timeout=0):  # until the import holds it
                app.state.ledger._writer.release()
                await asyncio.sleep(0.01)
            health = await c.get("/health")
            before = not upload.done()
            answered.set()
            return before and health.status_code == 200, (await upload).status_code

    try:
        health_first, imported = asyncio.run(scenario())
    finally:
        app.state.ledger.close()
    assert health_first and imported == 303

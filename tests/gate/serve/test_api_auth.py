"""Who may call what: /health is public; /api/* and the docs take a bearer token of the right role."""
from __future__ import annotations

import pytest
from serve_support import bearer

from gate.rules.codes import Role
from gate.store import schema
from gate.store.tokens import Tokens

QUOTE = "/api/quote?plate=1234567"
READ = {"lane": "entry", "gate_id": "g1", "plate": "1234567"}
PAY = {"plate": "1234567", "payment_id": "p-1"}

# (method, path, body) of every endpoint, and the roles that may call it besides the operator
ENDPOINTS = {
    "quote": (("GET", QUOTE, None), {Role.PAY_STATION, Role.VIEWER}),
    "pay": (("POST", "/api/payments", PAY), {Role.PAY_STATION}),
    "read": (("POST", "/api/reads", READ), {Role.CAMERA}),
    "visits": (("GET", "/api/visits", None), {Role.VIEWER}),
}


def call(api, request, headers=None):
    method, path, body = request
    return api.request(method, path, json=body, headers=headers or {})


def test_health_is_public_and_reports_the_schema(api):
    response = api.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "schema_version": schema.HEAD, "code_schema": schema.HEAD}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_without_a_token_every_api_endpoint_is_401_with_a_bearer_challenge(api, name):
    response = call(api, ENDPOINTS[name][0])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "an API token is required: Authorization: Bearer <token>"}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_each_role_reaches_its_own_endpoints_only(api, as_role, name):
    request, allowed = ENDPOINTS[name]
    for role in Role:
        status = call(api, request, as_role[role]).status_code
        if role in allowed or role is Role.OPERATOR:
            assert status not in (401, 403), (name, role)
        else:
            assert status == 403, (name, role)


def test_a_wrong_role_is_told_which_roles_may(api, as_role):
    response = call(api, ENDPOINTS["read"][0], as_role[Role.PAY_STATION])
    assert response.json() == {"detail": "token 'pay-station-1' has role pay-station: this needs camera, operator"}


def test_an_unknown_or_revoked_token_is_401(api):
    tokens = Tokens(api.app.state.ledger)
    secret = tokens.create("old pay station", Role.PAY_STATION).secret
    assert api.get(QUOTE, headers=bearer(secret)).status_code == 404  # known: no open visit
    tokens.revoke("old pay station")
    for headers in (bearer(secret), bearer("pgt_" + "x" * 43), {"Authorization": f"Basic {secret}"}):
        response = api.get(QUOTE, headers=headers)
        assert response.status_code == 401, headers
    assert api.get(QUOTE, headers=bearer(secret)).json() == {"detail": "unknown or revoked API token"}


def test_the_docs_and_the_openapi_schema_need_a_token(api, as_role):
    assert api.get("/docs").status_code == 401
    assert api.get("/openapi.json").status_code == 401
    assert api.get("/docs", headers=as_role[Role.VIEWER]).status_code == 200
    paths = api.get("/openapi.json", headers=as_role[Role.VIEWER]).json()["paths"]
    assert {"/api/quote", "/api/payments", "/api/reads", "/api/visits", "/health"} <= set(paths)


def test_the_docs_page_loads_swagger_from_the_server_not_a_cdn(api, as_role):
    page = api.get("/docs", headers=as_role[Role.VIEWER]).text
    assert "cdn" not in page.lower() and "/docs-assets/swagger-ui-bundle.js" in page
    script = api.get("/docs-assets/swagger-ui-bundle.js")  # a static asset, public like /static
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


def test_whoami_names_the_token(api, as_role):
    assert api.get("/api/whoami", headers=as_role[Role.CAMERA]).json() == {
        "name": "camera-1", "role": "camera", "gate": None, "lane": None}


def test_health_is_503_when_the_schema_is_not_this_codes(api):
    from sqlalchemy import text

    with api.app.state.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = api.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "schema-mismatch", "database": "ok", "schema_version": "0001", "code_schema": schema.HEAD}
    with api.app.state.ledger.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": schema.HEAD})


def test_health_is_503_when_the_database_is_unreachable(api, monkeypatch):
    from gate.store import schema

    def down(_engine):
        raise OSError("connection refused")

    monkeypatch.setattr(schema, "current_revision", down)
    response = api.get("/health")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


def test_a_camera_token_bound_to_a_gate_acts_for_that_gate_and_lane_only(api):
    """A camera box's token on its disk, stolen, must not open (or close visits at) every barrier of the lot."""
    secret = Tokens(api.app.state.ledger).create("cam-g1", Role.CAMERA, gate="g1", lane="entry").secret
    assert api.get("/api/whoami", headers=bearer(secret)).json()["gate"] == "g1"
    mine = api.post("/api/reads", json=READ, headers=bearer(secret))
    assert mine.status_code == 200 and mine.json()["gate_id"] == "g1"
    other = api.post("/api/reads", json={**READ, "gate_id": "g2", "plate": "7654321"}, headers=bearer(secret))
    assert other.status_code == 403 and other.json() == {
        "detail": "token 'cam-g1' is bound to the entry at gate 'g1': not the entry at gate 'g2'"}
    exit_read = api.post("/api/reads", json={**READ, "lane": "exit"}, headers=bearer(secret))
    assert exit_read.status_code == 403 and "not the exit at gate 'g1'" in exit_read.json()["detail"]
    assert api.post("/api/reads", json={**READ, "gate_id": "G1"}, headers=bearer(secret)).status_code == 403
    assert api.post("/api/gates/g1/commands/claim", headers=bearer(secret)).status_code == 200
    assert api.post("/api/gates/g2/commands/claim", headers=bearer(secret)).status_code == 403
    visits = api.get("/api/visits", headers=bearer(Tokens(api.app.state.ledger).create("v", Role.VIEWER).secret))
    assert [v["plate"] for v in visits.json()["visits"]] == ["1234567"]  # the refused read decided nothing

"""API tokens: created with a role and shown once, kept only as a SHA-256, revoked by name."""
from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gate.cli import app
from gate.rules.codes import Role
from gate.rules.errors import GateError, InvalidInput
from gate.store.tokens import Tokens

runner = CliRunner()


def gate(*args: str):
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_token_is_stored_as_the_sha256_of_its_secret_only(ledger):
    created = Tokens(ledger).create("pay station 1", Role.PAY_STATION)
    assert created.secret.startswith("pgt_") and len(created.secret) >= 40
    with ledger.engine.connect() as conn:
        stored = conn.execute(text("SELECT name, role, token_hash FROM api_tokens")).one()
    assert tuple(stored) == ("pay station 1", "pay-station", hashlib.sha256(created.secret.encode()).hexdigest())
    assert created.secret not in json.dumps([t.to_dict() for t in Tokens(ledger).list()])


def test_authenticate_knows_live_tokens_only(ledger):
    tokens = Tokens(ledger)
    secret = tokens.create("cam-entry", Role.CAMERA).secret
    assert tokens.authenticate(secret).name == "cam-entry"
    assert tokens.authenticate(secret + "x") is None
    assert tokens.authenticate("not-a-token") is None
    tokens.revoke("cam-entry")
    assert tokens.authenticate(secret) is None
    assert [(t.name, t.active) for t in tokens.list()] == [("cam-entry", False)]


def test_names_are_unique_even_after_a_revoke_and_roles_are_checked(ledger):
    tokens = Tokens(ledger)
    tokens.create("dana", Role.OPERATOR)
    tokens.revoke("dana")
    with pytest.raises(GateError, match="a token named 'dana' already exists"):
        tokens.create("dana", Role.VIEWER)
    with pytest.raises(InvalidInput, match="invalid role 'admin'"):
        tokens.create("eve", "admin")
    with pytest.raises(InvalidInput, match="a token name is required"):
        tokens.create("  ", Role.VIEWER)
    with pytest.raises(GateError, match="no live token named 'dana'"):
        tokens.revoke("dana")


def test_a_token_may_not_take_a_web_users_name(ledger):
    """The audit log names a token and a web user alike: a token named like a user could act as that user."""
    from gate.store.users import Users

    Users(ledger).create("dana", "operator", "correct horse")
    for name in ("dana", "Dana "):
        with pytest.raises(GateError, match="a web user named 'dana' exists"):
            Tokens(ledger).create(name, Role.OPERATOR)
    assert Tokens(ledger).list() == []
    Users(ledger).disable("dana")  # a disabled user's name still names its past actions
    with pytest.raises(GateError, match="'dana'"):
        Tokens(ledger).create("dana", Role.VIEWER)


def test_gate_token_create_list_revoke(tmp_path):
    db = str(tmp_path / "t.db")
    code, out, err = gate("token", "create", "--name", "ps1", "--role", "pay-station", "--db", db)
    created = json.loads(out)
    assert code == 0 and created["role"] == "pay-station" and created["token"].startswith("pgt_")
    assert "shown only now" in err
    code, out, _ = gate("token", "list", "--db", db)
    assert code == 0 and [(t["name"], t["active"]) for t in json.loads(out)] == [("ps1", True)]
    assert created["token"] not in out
    code, out, _ = gate("token", "revoke", "--name", "ps1", "--db", db)
    assert code == 0 and json.loads(out)["revoked_at"] is not None
    code, _, err = gate("token", "revoke", "--name", "ps1", "--db", db)
    assert code == 1 and err.strip() == "error: no live token named 'ps1'"
    code, _, err = gate("token", "create", "--name", "x", "--role", "admin", "--db", db)
    assert code == 2


def test_gate_serve_refuses_a_bad_database_before_listening(tmp_path):
    code, _, err = gate("serve", "--db", "sqlite:///:memory:", "--port", "1")
    assert code == 2 and err.startswith("error: database 'sqlite:///:memory:'") and len(err.splitlines()) == 1
    code, _, err = gate("serve", "--port", "0")
    assert code == 2


def test_only_a_camera_token_is_bound_to_a_gate_and_its_lane_and_both_are_checked(ledger):
    tokens = Tokens(ledger)
    bound = tokens.create("cam-north", Role.CAMERA, gate="north-exit", lane="exit").token
    assert (bound.gate, bound.lane) == ("north-exit", "exit")
    assert [(t.to_dict()["gate"], t.to_dict()["lane"]) for t in tokens.list()] == [("north-exit", "exit")]
    with pytest.raises(InvalidInput, match="gate 'north-exit' for a pay-station token: expected a gate only for a "
                                           "camera token"):
        tokens.create("ps", Role.PAY_STATION, gate="north-exit", lane="exit")
    with pytest.raises(InvalidInput, match="gate 'north exit!'"):
        tokens.create("cam-bad", Role.CAMERA, gate="north exit!", lane="exit")
    with pytest.raises(InvalidInput, match=r"gate 'north-exit\\n'"):  # '$' alone let a trailing newline through
        tokens.create("cam-nl", Role.CAMERA, gate="north-exit\n", lane="exit")
    with pytest.raises(InvalidInput, match="expected both or neither"):
        tokens.create("cam-half", Role.CAMERA, gate="north-exit")
    with pytest.raises(InvalidInput, match="lane 'out': expected entry or exit"):
        tokens.create("cam-lane", Role.CAMERA, gate="north-exit", lane="out")


def test_gate_token_create_binds_a_camera_to_its_gate(tmp_path):
    db = str(tmp_path / "t.db")
    code, out, _ = gate("token", "create", "--name", "cam1", "--role", "camera", "--gate", "south-entry",
                        "--lane", "entry", "--db", db)
    assert code == 0 and (json.loads(out)["gate"], json.loads(out)["lane"]) == ("south-entry", "entry")
    code, out, _ = gate("token", "list", "--db", db, "--format", "csv")
    assert code == 0 and "cam1,camera,south-entry,entry," in out

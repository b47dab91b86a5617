"""`gate` CLI: JSON on stdout, --db on every command, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gate.cli import app
from gate.store import schema
from gate.store.ledger import Ledger
from gate.store.plate_lists import PlateLists

runner = CliRunner()


def gate(*args: str) -> tuple[int, object, str]:
    result = runner.invoke(app, list(args))
    out = result.stdout
    try:
        parsed = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        parsed = out
    return result.exit_code, parsed, result.stderr


def test_read_pay_read_is_the_paid_exit_flow(db_url):
    code, entry, _ = gate("read", "--lane", "entry", "--plate", "12-345-67", "--at", "2025-03-02T08:00:00Z", "--db", db_url)
    assert code == 0 and (entry["action"], entry["reason"], entry["amount_due"]) == ("open", "entered", 0.0)
    code, denied, _ = gate("read", "--lane", "exit", "--plate", "1234567", "--at", "2025-03-02T09:30:00Z", "--db", db_url)
    assert (denied["action"], denied["visit_id"], denied["amount_due"]) == ("deny", entry["visit_id"], 24.0)
    code, paid, _ = gate("pay", "--plate", "1234567", "--at", "2025-03-02T09:31:00Z", "--payment-id", "p-1", "--db", db_url)
    assert code == 0 and {k: paid[k] for k in ("visit_id", "fee", "paid")} == {"visit_id": entry["visit_id"], "fee": 24.0, "paid": 24.0}
    code, opened, _ = gate("read", "--lane", "exit", "--plate", "12-345-67", "--at", "2025-03-02T09:35:00Z", "--db", db_url)
    assert (opened["action"], opened["amount_due"]) == ("open", 0.0)


def test_naive_times_are_local_and_offsets_are_honoured(db_url, monkeypatch):
    gate("read", "--lane", "entry", "--plate", "1234567", "--at", "2025-03-02T10:00:00+02:00", "--db", db_url)
    _, rows, _ = gate("visits", "--db", db_url)
    assert rows[0]["entry_at"] == "2025-03-02T08:00:00+00:00"


@pytest.mark.parametrize(
    "args",
    [
        ("read", "--lane", "entry", "--plate", "12-3A5-67"),
        ("read", "--lane", "entry", "--plate", "123456"),
        ("pay", "--plate", "not a plate"),
        ("visits", "--plate", "1"),
        ("read", "--lane", "entry", "--plate", "1234567", "--at", "tomorrow"),
    ],
)
def test_bad_input_is_a_one_line_error_and_exit_code_2(db_url, args):
    code, out, err = gate(*args, "--db", db_url)
    assert code == 2
    assert out is None and err.startswith("error: ") and err.count("\n") == 1


def test_a_refused_operation_is_a_one_line_error_and_exit_code_1(db_url):
    code, out, err = gate("pay", "--plate", "1234567", "--db", db_url)
    assert (code, out) == (1, None)
    assert err == "error: no open visit for plate 12-345-67\n"


def test_visits_lists_the_entry_exit_log_as_json_csv_or_table(db_url):
    gate("read", "--lane", "entry", "--plate", "1234567", "--at", "2025-03-02T08:00:00Z", "--db", db_url)
    gate("read", "--lane", "exit", "--plate", "1234567", "--at", "2025-03-02T08:10:00Z", "--db", db_url)
    gate("read", "--lane", "entry", "--plate", "76543218", "--at", "2025-03-02T09:00:00Z", "--db", db_url)
    _, rows, _ = gate("visits", "--db", db_url)
    assert [(r["plate"], r["state"], r["fee"], r["paid"]) for r in rows] == [
        ("1234567", "closed", 0.0, 0.0),
        ("76543218", "open", None, 0.0),
    ]
    assert {"plate", "entry_at", "exit_at", "fee", "paid", "state"} <= set(rows[0])
    _, inside, _ = gate("visits", "--inside", "--db", db_url)
    assert [r["plate"] for r in inside] == ["76543218"]
    _, since, _ = gate("visits", "--since", "2025-03-02T08:30:00Z", "--until", "2025-03-02T10:00:00Z", "--db", db_url)
    assert [r["plate"] for r in since] == ["76543218"]
    code, csv_text, _ = gate("visits", "--format", "csv", "--plate", "12-345-67", "--db", db_url)
    # CSV and tables are in the lot's local time (Asia/Jerusalem by default: UTC+2 in March)
    assert csv_text.splitlines()[1].startswith("1,1234567,2025-03-02 10:00:00+02:00,2025-03-02 10:10:00+02:00,closed,0.00,0.00")
    code, table, _ = gate("visits", "--format", "table", "--db", db_url)
    assert code == 0 and "765-43-218" in table


def test_override_review_and_plate_lists_from_the_cli(db_url):
    gate("plates", "add", "--plate", "5555555", "--list", "deny", "--db", db_url)
    _, denied, _ = gate("read", "--lane", "entry", "--plate", "5555555", "--db", db_url)
    assert denied["reason"] == "deny-listed"
    gate("read", "--lane", "entry", "--plate", "1234567", "--db", db_url)  # now: not an overstay
    code, waived, _ = gate("override", "waive", "--plate", "1234567", "--operator", "dana", "--reason", "vip", "--db", db_url)
    assert code == 0 and waived["waived"] is True
    code, _, err = gate("override", "close", "--plate", "1234567", "--operator", "dana", "--reason", "", "--db", db_url)
    assert (code, err) == (2, "error: a reason is required\n")  # bad input, as the README's table says
    gate("read", "--lane", "exit", "--plate", "9999999", "--db", db_url)
    _, queue, _ = gate("review", "--db", db_url)
    assert [i["kind"] for i in queue] == ["no-open-visit"]
    code, _, _ = gate("review", "--resolve", str(queue[0]["id"]), "--operator", "dana", "--reason", "ok", "--db", db_url)
    assert code == 0 and gate("review", "--db", db_url)[1] == []


def test_tariff_shows_the_active_tariff_and_policy(tmp_path):
    code, shown, _ = gate("tariff")
    assert code == 0
    assert {k: shown["tariff"][k] for k in ("free_minutes", "hourly_rate", "daily_max", "grace_minutes")} == {
        "free_minutes": 15,
        "hourly_rate": 12.0,
        "daily_max": 96.0,
        "grace_minutes": 15,
    }
    assert shown["policy"]["capacity"] == 500 and shown["policy"]["duplicate_entry"] == "close-stale"
    config = tmp_path / "lot.json"
    config.write_text(json.dumps({"tariff": {"hourly_rate": 8}}))
    assert gate("tariff", "--config", str(config))[1]["tariff"]["hourly_rate"] == 8.0


def test_the_ledger_is_plategate_db_in_the_working_directory_unless_told(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gate("read", "--lane", "entry", "--plate", "1234567")
    assert (tmp_path / "plategate.db").exists()
    monkeypatch.setenv("PLATEGATE_DB", str(tmp_path / "env.db"))
    gate("read", "--lane", "entry", "--plate", "1234567")
    assert (tmp_path / "env.db").exists()


@pytest.mark.slow
def test_the_installed_gate_command_runs(tmp_path):
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "gate.cli", "read", "--lane", "entry", "--plate", "1234567", "--db", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["action"] == "open"


def test_db_version_and_upgrade_report_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert gate("db", "upgrade", "--db", url)[:2] == (0, {"before": None, "after": schema.HEAD, "migrated": True})
    assert gate("db", "upgrade", "--db", url)[1] == {"before": schema.HEAD, "after": schema.HEAD, "migrated": False}
    assert gate("db", "version", "--db", url)[1] == {"database": schema.HEAD, "code": schema.HEAD, "up_to_date": True}


def _commands(group, prefix=()):
    for name, sub in getattr(group, "commands", {}).items():
        yield (*prefix, name), sub
        yield from _commands(sub, (*prefix, name))


def test_every_command_has_help_text():
    import typer

    for path, command in _commands(typer.main.get_command(app)):
        assert command.help or command.short_help, " ".join(path)


def test_quote_offers_the_misread_entry_and_pay_visit_pays_it(db_url):
    gate("read", "--lane", "entry", "--plate", "12-345-61", "--at", "2025-03-02T08:00:00Z", "--db", db_url)
    code, quote, _ = gate("quote", "--plate", "12-345-67", "--at", "2025-03-02T09:30:00Z", "--db", db_url)
    assert code == 0 and quote["visit"] is None
    assert [(c["visit_id"], c["plate"], c["amount_due"]) for c in quote["candidates"]] == [(1, "1234561", 24.0)]
    code, paid, _ = gate("pay", "--plate", "12-345-67", "--visit", "1", "--at", "2025-03-02T09:31:00Z",
                         "--payment-id", "ps-1", "--db", db_url)
    assert code == 0 and (paid["visit_id"], paid["typed_plate"], paid["amount"]) == (1, "1234567", 24.0)
    code, _, err = gate("quote", "--plate", "7654321", "--db", db_url)
    assert (code, err) == (1, "error: no open visit for plate 76-543-21\n")


def test_naive_times_on_the_command_line_are_the_lots_local_time(db_url):
    gate("read", "--lane", "entry", "--plate", "1234567", "--at", "2025-03-02T10:00:00", "--db", db_url)
    _, rows, _ = gate("visits", "--db", db_url)
    assert rows[0]["entry_at"] == "2025-03-02T08:00:00+00:00"  # Asia/Jerusalem is UTC+2 in March
    _, table, _ = gate("visits", "--format", "table", "--db", db_url)
    assert "2025-03-02 10:00:00+02:00" in table


def test_payments_and_the_revenue_report_in_table_csv_and_json(db_url):
    for i, plate in enumerate(["1111111", "2222222"]):
        gate("read", "--lane", "entry", "--plate", plate, "--at", "2025-03-02T08:00:00Z", "--db", db_url)
        gate("pay", "--plate", plate, "--at", f"2025-03-02T2{i + 1}:30:00Z", "--payment-id", f"p{i}", "--db", db_url)
    code, table, _ = gate("payments", "--db", db_url)
    assert code == 0 and "11-111-11" in table and table.splitlines()[-1] == "2 payments, 192.00 ILS"
    _, csv_text, _ = gate("payments", "--format", "csv", "--since", "2025-03-03T00:00", "--db", db_url)  # local
    assert csv_text.splitlines()[1:] == ["2,p1,2,2222222,,96.00,96.00,2025-03-03 00:30:00+02:00"]
    _, listed, _ = gate("payments", "--format", "json", "--db", db_url)
    assert (listed["total"], listed["total_amount"], listed["payments"][0]["paid_at"]) == (
        2, 192.0, "2025-03-02T21:30:00+00:00")
    code, report, _ = gate("report", "revenue", "--from", "2025-03-02", "--to", "2025-03-03", "--format", "csv",
                           "--db", db_url)
    # 21:30 UTC is 23:30 on 2 March in Jerusalem, 22:30 UTC is 00:30 on 3 March
    assert code == 0 and report.splitlines() == ["period,payments,amount", "2025-03-02,1,96.00", "2025-03-03,1,96.00"]
    _, month, _ = gate("report", "revenue", "--by", "month", "--from", "2025-03-01", "--format", "csv", "--db", db_url)
    assert month.splitlines()[1:] == ["2025-03-01,2,192.00"]  # no --to: the whole month
    _, month, _ = gate("report", "revenue", "--by", "month", "--from", "2025-03-02", "--format", "json", "--db", db_url)
    assert (month["from"], month["to"], month["rows"][0]["payments"]) == ("2025-03-02", "2025-03-31", 2)
    code, _, err = gate("report", "revenue", "--by", "month", "--from", "9999-12-01", "--db", db_url)
    assert code == 2 and err.startswith("error: from 9999-12-01") and "\n" not in err.strip()
    code, _, err = gate("report", "revenue", "--from", "March", "--db", db_url)
    assert code == 2 and err.startswith("error: invalid day 'March'")


def test_visits_filters_a_partial_plate_and_unpaid(db_url):
    gate("read", "--lane", "entry", "--plate", "2223455", "--at", "2025-03-02T08:00:00Z", "--db", db_url)
    gate("read", "--lane", "entry", "--plate", "1111111", "--at", "2025-03-02T08:00:00Z", "--db", db_url)
    _, rows, _ = gate("visits", "--plate-contains", "345", "--unpaid", "--db", db_url)
    assert [r["plate"] for r in rows] == ["2223455"]
    code, _, err = gate("visits", "--plate-contains", "34", "--db", db_url)
    assert code == 2 and "plate_contains" in err


def test_every_listing_command_takes_a_format(db_url):
    gate("read", "--lane", "exit", "--plate", "1234567", "--at", "2025-03-02T08:00:00Z", "--db", db_url)
    gate("plates", "add", "--plate", "7654321", "--list", "deny", "--note", "banned", "--db", db_url)
    code, table, _ = gate("review", "--format", "table", "--db", db_url)
    assert code == 0 and "no-open-visit  12-345-67" in table and "2025-03-02 10:00:00+02:00" in table
    code, csv_text, _ = gate("plates", "show", "--format", "csv", "--db", db_url)
    assert code == 0 and csv_text.splitlines()[0] == "plate,list,holder,note,added_at,expires_at"
    assert csv_text.splitlines()[1].startswith("7654321,deny,,banned,")
    code, tokens, _ = gate("token", "list", "--format", "table", "--db", db_url)
    assert code == 0 and tokens.splitlines()[0].split() == ["name", "role", "gate", "lane", "created_at", "revoked_at", "active"]
    code, users, _ = gate("user", "list", "--format", "csv", "--db", db_url)
    assert code == 0 and users.splitlines() == ["username,role,created_at,disabled_at,active"]


def test_visits_pages_with_limit_and_offset(db_url):
    for i, plate in enumerate(["1111111", "2222222", "3333333"]):
        gate("read", "--lane", "entry", "--plate", plate, "--at", f"2025-03-02T08:0{i}:00Z", "--db", db_url)
    _, rows, _ = gate("visits", "--limit", "2", "--offset", "1", "--db", db_url)
    assert [r["plate"] for r in rows] == ["2222222", "3333333"]


def test_plates_export_and_import_share_the_apis_csv(db_url, tmp_path):
    gate("plates", "add", "--plate", "12-345-67", "--list", "allow", "--note", "monthly", "--db", db_url)
    code, text, _ = gate("plates", "export", "--db", db_url)
    assert code == 0 and text.splitlines() == ["plate,kind,holder,note,expires_at", "1234567,allow,,monthly,"]
    good = tmp_path / "lists.csv"
    good.write_text("plate,kind,holder,note,expires_at\n1234567,allow,Noa Levi,monthly,2030-01-31\n"
                    "76-543-21,deny,,fled,\n", encoding="utf-8")
    code, out, _ = gate("plates", "import", str(good), "--operator", "dana", "--db", db_url)
    assert (code, out) == (0, {"imported": 2})
    _, text, _ = gate("plates", "export", "--format", "csv", "--db", db_url)
    assert text.splitlines()[1:] == ["1234567,allow,Noa Levi,monthly,2030-02-01 00:00:00+02:00", "7654321,deny,,fled,"]
    (tmp_path / "again.csv").write_text(text, encoding="utf-8")  # the export reads back unchanged
    assert gate("plates", "import", str(tmp_path / "again.csv"), "--db", db_url)[1] == {"imported": 2}
    assert gate("plates", "export", "--db", db_url)[1] == text
    _, rows, _ = gate("plates", "export", "--format", "json", "--list", "deny", "--db", db_url)
    assert [(r["plate"], r["kind"], r["note"]) for r in rows] == [("7654321", "deny", "fled")]

    bad = tmp_path / "bad.csv"
    bad.write_text("plate,kind\n1111111,allow\n2222222,maybe\n", encoding="utf-8")
    code, out, err = gate("plates", "import", str(bad), "--db", db_url)
    assert (code, out, err) == (2, None, "error: line 3: kind 'maybe': expected allow or deny\n")
    assert "1111111" not in gate("plates", "export", "--db", db_url)[1]
    code, _, err = gate("plates", "import", str(tmp_path / "missing.csv"), "--db", db_url)
    assert code == 2 and "missing.csv" in err


def test_plates_add_takes_a_holder_and_a_last_day(db_url):
    code, rows, _ = gate("plates", "add", "--plate", "12-345-67", "--list", "allow", "--holder", "Noa Levi",
                         "--expires", "2030-01-31", "--db", db_url)
    assert code == 0 and (rows[0]["holder"], rows[0]["expires_at"]) == ("Noa Levi", "2030-01-31T22:00:00+00:00")
    code, _, err = gate("plates", "add", "--plate", "7654321", "--list", "deny", "--expires", "soon", "--db", db_url)
    assert code == 2 and "soon" in err
    assert gate("plates", "remove", "--plate", "1234567", "--list", "allow", "--operator", "dana", "--db", db_url)[1] == {
        "removed": True}
    assert gate("plates", "remove", "--plate", "1234567", "--list", "allow", "--db", db_url)[1] == {"removed": False}
    with Ledger.open(db_url) as ledger:
        assert [o["action"] for o in ledger.overrides()] == ["list-add", "list-remove"]
        assert ledger.overrides()[-1]["operator"] == "dana"


def test_plates_add_again_renews_a_lapsed_subscriber(db_url):
    _, _, warned = gate("plates", "add", "--plate", "1234567", "--list", "allow", "--expires", "2020-01-31", "--db", db_url)
    assert warned.startswith("warning: allow entry 1234567 expired at 2020-01-31") and "--expires" in warned
    code, rows, _ = gate("plates", "add", "--plate", "12-345-67", "--list", "allow", "--holder", "Noa Levi",
                         "--expires", "2030-01-31", "--operator", "dana", "--db", db_url)
    assert code == 0 and [(r["plate"], r["holder"], r["expires_at"]) for r in rows] == [
        ("1234567", "Noa Levi", "2030-01-31T22:00:00+00:00")]
    with Ledger.open(db_url) as ledger:
        entry = PlateLists(ledger).get("1234567", "allow")
        assert entry is not None and entry.applies()
        assert [(o["operator"], o["action"]) for o in ledger.overrides()][-1] == ("dana", "list-add")
    code, rows, _ = gate("plates", "add", "--plate", "1234567", "--list", "allow", "--note", "pays yearly", "--db", db_url)
    assert [(r["holder"], r["note"], r["expires_at"]) for r in rows] == [  # only the note changed
        ("Noa Levi", "pays yearly", "2030-01-31T22:00:00+00:00")]
    _, rows, _ = gate("plates", "add", "--plate", "1234567", "--list", "allow", "--expires", "", "--holder", "",
                      "--db", db_url)
    assert [(r["holder"], r["note"], r["expires_at"]) for r in rows] == [(None, "pays yearly", None)]

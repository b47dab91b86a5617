"""Plate lists in the ledger: holder and expiry checked at the edge, audited edits, and the one CSV format."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gate.rules.codes import ListKind, OverrideAction, Reason
from gate.rules.errors import GateError, InvalidInput
from gate.store.ledger import Ledger
from gate.store.plate_lists import PlateLists, list_entry
from gate.store.plate_lists_csv import HEADER, CsvRowError, read_csv, write_csv

TZ = ZoneInfo("Asia/Jerusalem")


def test_add_plate_takes_a_holder_and_an_aware_expiry(ledger: Ledger):
    end = datetime(2030, 1, 31, 22, 0, tzinfo=timezone(timedelta(hours=2)))
    ledger.add_plate("12-345-67", ListKind.ALLOW, "monthly", holder="Noa Levi", expires_at=end)
    [row] = ledger.plate_lists()
    assert (row["holder"], row["note"], row["expires_at"]) == ("Noa Levi", "monthly", "2030-01-31T20:00:00+00:00")
    with pytest.raises(InvalidInput, match="holder is 101 characters long"):
        ledger.add_plate("7654321", ListKind.DENY, holder="h" * 101)
    with pytest.raises(InvalidInput, match="expires_at .*timezone-aware"):
        ledger.add_plate("7654321", ListKind.DENY, expires_at=datetime(2030, 1, 1))
    with pytest.raises(TypeError):
        ledger.add_plate("7654321", ListKind.DENY, "note", "holder")  # type: ignore[misc]  # keyword-only
    assert len(ledger.plate_lists()) == 1


def test_an_expired_entry_no_longer_applies(ledger: Ledger):
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    ledger.add_plate("7654321", ListKind.DENY, expires_at=past)
    assert ledger.decide("entry", "7654321").reason is Reason.ENTERED


def test_put_edits_in_place_and_every_change_is_audited(ledger: Ledger):
    lists = PlateLists(ledger)
    first, created = lists.put(list_entry("12-345-67", "allow", holder=" Noa ", note=""), "op-token")
    assert created and (first.plate, first.holder, first.note) == ("1234567", "Noa", None)
    second, created = lists.put(list_entry("1234567", "allow", note="monthly"), "op-token")
    assert not created and second.holder is None and second.note == "monthly" and second.added_at == first.added_at
    assert lists.remove("1234567", "deny", "op-token") is None
    assert lists.remove("12-345-67", "allow", "op-token") == second
    assert lists.entries() == []
    actions = [(o["operator"], o["action"], o["plate"], o["visit_id"]) for o in ledger.overrides()]
    assert actions == [("op-token", OverrideAction.LIST_ADD, "1234567", None)] * 2 + [
        ("op-token", OverrideAction.LIST_REMOVE, "1234567", None)]
    with pytest.raises(GateError, match="operator"):
        lists.put(first, " ")


def test_edit_changes_only_the_fields_given_and_adds_a_missing_entry(ledger: Ledger):
    lists = PlateLists(ledger)
    end = datetime(2030, 1, 31, 22, 0, tzinfo=timezone.utc)
    added, created = lists.edit("12-345-67", "allow", "op", holder="Noa", expires_at=end)
    assert created and (added.holder, added.note, added.expires_at) == ("Noa", None, end)
    renewed, created = lists.edit("1234567", "allow", "op", expires_at=end + timedelta(days=31))
    assert not created and (renewed.holder, renewed.expires_at) == ("Noa", end + timedelta(days=31))
    noted, _ = lists.edit("1234567", "allow", "op", note="monthly", holder=None)
    assert (noted.holder, noted.note, noted.expires_at) == (None, "monthly", end + timedelta(days=31))
    with pytest.raises(InvalidInput, match="holder is 101"):
        lists.edit("1234567", "allow", "op", holder="h" * 101)
    assert lists.get("1234567", "allow") == noted
    assert [o["action"] for o in ledger.overrides()] == [OverrideAction.LIST_ADD] * 3


def test_list_entry_checks_every_field():
    with pytest.raises(InvalidInput, match="allow or deny"):
        list_entry("1234567", "maybe")
    with pytest.raises(InvalidInput, match="note is 501"):
        list_entry("1234567", "deny", note="n" * 501)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        list_entry("1234567", "deny", expires_at=datetime(2030, 1, 1))


def test_an_import_writes_all_entries_or_none(ledger: Ledger):
    lists = PlateLists(ledger)
    lists.put(list_entry("1111111", "deny", note="old"), "op")
    entries = read_csv("plate,kind,note\n1111111,deny,new\n2222222,allow,\n", TZ)
    assert lists.import_entries(entries, "op") == 2
    assert [(e.plate, e.kind, e.note) for e in lists.entries()] == [
        ("2222222", ListKind.ALLOW, None), ("1111111", ListKind.DENY, "new")]
    assert len(ledger.overrides()) == 3
    with pytest.raises(CsvRowError):
        read_csv("plate,kind\n3333333,allow\n44,allow\n", TZ)  # nothing to write: the file never parsed
    assert len(lists.entries()) == 2


def test_an_import_without_a_column_keeps_what_is_stored_there(ledger: Ledger):
    """A plate,kind file wiped every holder, note and expiry: an expired subscriber was let out free again."""
    lists = PlateLists(ledger)
    expired = datetime(2020, 1, 1, tzinfo=timezone.utc)
    lists.put(list_entry("1234567", "allow", holder="Noa", note="monthly", expires_at=expired), "op")
    assert lists.import_entries(read_csv("plate,kind\n1234567,allow\n7654321,deny\n", TZ), "op") == 2
    kept = {e.plate: e for e in lists.entries()}
    assert (kept["1234567"].holder, kept["1234567"].note, kept["1234567"].expires_at) == ("Noa", "monthly", expired)
    assert kept["7654321"].holder is None  # a new entry has nothing to keep
    lists.import_entries(read_csv("plate,kind,note\n1234567,allow,\n", TZ), "op")  # a column given blank clears
    assert [(e.holder, e.note) for e in lists.entries() if e.plate == "1234567"] == [("Noa", None)]


def test_a_compact_day_as_expiry_is_that_whole_local_day():
    (entry,) = read_csv("plate,kind,expires_at\n1234567,allow,20301231\n", TZ)
    (dashed,) = read_csv("plate,kind,expires_at\n1234567,allow,2030-12-31\n", TZ)
    assert entry.expires_at == dashed.expires_at == datetime(2030, 12, 31, 22, 0, tzinfo=timezone.utc)


def test_the_csv_reads_days_local_times_offsets_and_the_web_pages_first_header():
    text = ("\ufeffplate,list,holder,note,expires\n"
            "12-345-67,allow,Noa,,2030-01-31\n"
            "2222222,deny,,,2030-01-31 08:00\n"
            "\n"
            "3333333,deny,,,2030-01-31T08:00:00Z\n"
            "4444444,allow\n")
    entries = read_csv(text, TZ)
    assert [e.expires_at for e in entries] == [
        datetime(2030, 1, 31, 22, 0, tzinfo=timezone.utc),  # through the local day: 2030-02-01 00:00 +02:00
        datetime(2030, 1, 31, 6, 0, tzinfo=timezone.utc),  # no offset: the lot's local time
        datetime(2030, 1, 31, 8, 0, tzinfo=timezone.utc),
        None,
    ]
    assert entries[0].holder == "Noa" and entries[3].kind is ListKind.ALLOW


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plate,list\n1111111,allow\n2222222,maybe\n", "line 3: list 'maybe': expected allow or deny"),
        ("plate,kind\n1234567,allow\n1234567,deny\n12-345-67,allow\n", "line 4: plate '12-345-67': already on line 2"),
        ("plate,kind,expires_at\n1234567,allow,someday\n", "line 2: expires_at 'someday'"),
        ("plate,kind,holder\n1234567,allow,a\x00b\n", "line 2: holder"),
        ("plate\n1234567\n", "line 1: header 'plate': missing column kind"),
        ("plate,kind,kind\n", "line 1: header 'kind': the column is named twice"),
        ("", "line 1: header: the file is empty"),
        ('plate,kind,note\n1234567,allow,"two\nlines"\n\n12,deny,\n', "line 5: plate '12'"),  # lines, not rows
        ("plate,kind\n" + "".join(f"{1000000 + i},allow\n" for i in range(10_001)),
         "line 10002: file: at most 10000 rows per import, the file has 10001"),
    ],
)
def test_a_bad_csv_names_the_line_column_and_value(text: str, message: str):
    with pytest.raises(CsvRowError) as raised:
        read_csv(text, TZ)
    assert str(raised.value).startswith(message)


def test_write_then_read_gives_the_same_entries():
    entries = [
        list_entry("1234567", "allow", holder="Levi, Noa", note='a "quoted"\nnote',
                   expires_at=datetime(2030, 3, 30, 23, 30, tzinfo=timezone.utc)),
        list_entry("76543210", "deny"),
    ]
    text = write_csv(entries, TZ)
    assert text.splitlines()[0] == ",".join(HEADER)
    assert "2030-03-31 02:30:00+03:00" in text
    assert read_csv(text, TZ) == entries

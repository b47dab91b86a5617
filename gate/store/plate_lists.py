"""The allow and deny lists as the API, the CLI and the web page edit them: entries with holder, note and expiry.

An entry is keyed by (plate, kind): putting it again edits it. Every change
is one transaction that also writes an overrides row (``list-add`` or
``list-remove``) with who acted, so the audit log shows each edit beside the
visit overrides. An import is all or nothing: its entries are checked before
anything is written (gate.store.plate_lists_csv names a bad line), then
written in one transaction. Plates are normalised here, for every caller.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Final, Sequence

from sqlalchemy import Connection, delete, insert, select, update

from gate.rules.clock import iso, now_utc
from gate.rules.codes import ListKind, OverrideAction
from gate.rules.errors import InvalidInput
from gate.store import models, queries
from gate.store.ledger import Ledger, _expiry, _list_kind, _require_who_why, _text
from lpr.plate_format import normalize_plate

log = logging.getLogger(__name__)

_lists = models.plate_lists
MAX_ENTRIES = 10_000  # one import; the lists are a lot's subscribers and bans, not its visits


@dataclass(frozen=True)
class ListEntry:
    """One entry as stored: plate digits, its list, whose it is, a note, when it stops applying (UTC)."""

    plate: str
    kind: ListKind
    holder: str | None = None
    note: str | None = None
    expires_at: datetime | None = None
    added_at: datetime | None = None
    # the optional columns a CSV import did not have: an entry already stored keeps its own there (a plate,kind
    # file once wiped every holder, note and expiry, and an expired subscriber left free again)
    keep: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON's view: times ISO 8601 in UTC."""
        return {"plate": self.plate, "kind": self.kind.value, "holder": self.holder, "note": self.note,
                "expires_at": iso(self.expires_at), "added_at": iso(self.added_at)}

    def applies(self, at: datetime | None = None) -> bool:
        return self.expires_at is None or self.expires_at > (at or now_utc())


def list_entry(
    plate: str,
    kind: ListKind | str,
    *,
    holder: str | None = None,
    note: str | None = None,
    expires_at: datetime | None = None,
) -> ListEntry:
    """An entry checked at the edge: the plate normalised, the list allow or deny, holder (100) and note (500)
    as the columns hold them (blank: none), the expiry timezone-aware. InvalidInput/PlateFormatError if not."""
    try:
        kind = ListKind(kind)
    except ValueError:
        raise InvalidInput(f"invalid list {kind!r}: expected allow or deny") from None
    return ListEntry(
        plate=normalize_plate(plate),
        kind=_list_kind(kind),
        holder=_text(_lists.c.holder, _blank(holder)),
        note=_text(_lists.c.note, _blank(note)),
        expires_at=_expiry(expires_at),
    )


class Keep(Enum):
    """An edit's field not given: the stored entry's value stays."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def _blank(value: str | None) -> str | None:
    """Surrounding blanks dropped, a blank text is none (a non-text is left for _text to name)."""
    return (value.strip() or None) if isinstance(value, str) else value


class PlateLists:
    """The plate lists of one ledger, each change audited under ``actor`` (a token's or a user's name)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def entries(self, kind: ListKind | str | None = None) -> list[ListEntry]:
        """Every entry (expired ones too: they say so), by list then plate."""
        query = select(_lists).order_by(_lists.c.kind, _lists.c.plate)
        if kind is not None:
            query = query.where(_lists.c.kind == _list_kind(kind).value)
        with self.ledger._reader() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def get(self, plate: str, kind: ListKind | str) -> ListEntry | None:
        digits, kind = normalize_plate(plate), _list_kind(kind)
        with self.ledger._reader() as conn:
            return _get(conn, digits, kind)

    def put(self, entry: ListEntry, actor: str | None) -> tuple[ListEntry, bool]:
        """Add the entry or replace the one of that plate and list; returns it as stored and whether it is new.
        ``actor`` None: not audited (a caller that has no name to give)."""
        return self._write(entry.plate, entry.kind, actor, lambda old: entry)

    def edit(
        self,
        plate: str,
        kind: ListKind | str,
        actor: str,
        *,
        holder: str | None | Keep = KEEP,
        note: str | None | Keep = KEEP,
        expires_at: datetime | None | Keep = KEEP,
    ) -> tuple[ListEntry, bool]:
        """Add the plate to the list, or change only the fields given (None clears one) of its entry; returns it
        as stored and whether it is new. The entry is read and written in one transaction, its row locked, so two
        operators changing different fields at once both land (the CLI read it first and lost one of them)."""

        def merged(old: ListEntry | None) -> ListEntry:
            def pick(given: Any, stored: Any) -> Any:
                return stored if given is KEEP else given

            return list_entry(plate, kind, holder=pick(holder, old and old.holder), note=pick(note, old and old.note),
                              expires_at=pick(expires_at, old and old.expires_at))

        return self._write(plate, kind, actor, merged)

    def _write(self, plate: str, kind: ListKind | str, actor: str | None,
               make: Callable[[ListEntry | None], ListEntry]) -> tuple[ListEntry, bool]:
        """The one write of an entry: the stored one (locked) handed to ``make``, its result put and audited."""
        digits, kind = normalize_plate(plate), _list_kind(kind)
        if actor is not None:
            _require_who_why(actor, "list edit")

        def run(conn: Connection) -> tuple[ListEntry, bool]:
            entry = make(_get(conn, digits, kind, lock=True))
            created = _put(conn, entry, actor, now_utc())
            stored = _get(conn, digits, kind)
            assert stored is not None
            return stored, created

        stored, created = self.ledger._transaction(run)
        log.info("plate list %s %s %s by %s", kind, digits, "added" if created else "edited",
                 actor or "an unnamed caller")
        return stored, created

    def remove(self, plate: str, kind: ListKind | str, actor: str) -> ListEntry | None:
        """Take the plate off the list; the entry it had, or None when it was not on it (nothing written)."""
        digits, kind = normalize_plate(plate), _list_kind(kind)
        _require_who_why(actor, "list edit")

        def run(conn: Connection) -> ListEntry | None:
            found = _get(conn, digits, kind)
            if found is None:
                return None
            conn.execute(delete(_lists).where(_lists.c.plate == digits, _lists.c.kind == kind.value))
            _audit(conn, actor, f"{kind} list: removed{_about(found)}", OverrideAction.LIST_REMOVE, digits, now_utc())
            return found

        return self.ledger._transaction(run)

    def import_entries(self, entries: Sequence[ListEntry], actor: str | None) -> int:
        """Add or edit every entry in one transaction (all or nothing); the count. ``actor`` None: not audited
        (the web page's import before it named its user)."""
        if len(entries) > MAX_ENTRIES:
            raise InvalidInput(f"at most {MAX_ENTRIES} entries per import, got {len(entries)}")
        if actor is not None:
            _require_who_why(actor, "list import")

        def run(conn: Connection) -> int:
            at = now_utc()
            for entry in entries:
                _put(conn, entry, actor, at, why="import")
            return len(entries)

        count = self.ledger._transaction(run)
        log.info("plate list import of %d entries by %s", count, actor or "the web page")
        return count


def _entry(row: Any) -> ListEntry:
    return ListEntry(row.plate, ListKind(row.kind), row.holder, row.note, row.expires_at, row.added_at)


def _get(conn: Connection, plate: str, kind: ListKind, lock: bool = False) -> ListEntry | None:
    query = select(_lists).where(_lists.c.plate == plate, _lists.c.kind == kind.value)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _entry(row)


def _put(conn: Connection, entry: ListEntry, actor: str | None, at: datetime, why: str = "") -> bool:
    """Insert or update one entry (its added_at kept on an edit) and audit it; True when it is new."""
    values = {"holder": entry.holder, "note": entry.note, "expires_at": entry.expires_at}
    where = (_lists.c.plate == entry.plate, _lists.c.kind == entry.kind.value)
    changed = {k: v for k, v in values.items() if k not in entry.keep}
    if changed:
        created = conn.execute(update(_lists).where(*where).values(changed)).rowcount == 0
    else:  # nothing to change: whether it is there decides
        created = conn.execute(select(_lists.c.plate).where(*where)).first() is None
    if created:
        conn.execute(insert(_lists).values(plate=entry.plate, kind=entry.kind.value, added_at=at, **values))
    if actor is not None:
        done = "added" if created else "edited"
        reason = f"{entry.kind} list: {done}{' by ' + why if why else ''}{_about(entry)}"
        _audit(conn, actor, reason, OverrideAction.LIST_ADD, entry.plate, at)
    return created


def _audit(conn: Connection, actor: str, reason: str, action: OverrideAction, plate: str, at: datetime) -> None:
    """An overrides row (the audit log of operator actions), as gate.store.ledger writes them, without its log
    line per row: an import of 5,000 entries logs one line."""
    row = {"operator": actor.strip(), "reason": reason[:500], "action": action.value, "visit_id": None,
           "plate": plate, "amount_agorot": None, "at": at}
    queries.insert_row(conn, models.overrides, row)


def _about(entry: ListEntry) -> str:
    parts = [f"holder {entry.holder}" if entry.holder else "",
             f"expires {iso(entry.expires_at)}" if entry.expires_at else "",
             f"note {entry.note}" if entry.note else ""]
    shown = "; ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""

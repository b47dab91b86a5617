"""SQL of the ledger's write transactions (run through gate.tx).

``:name`` are parameters; ``{lock}`` becomes FOR UPDATE on PostgreSQL (SQLite
serializes writers with BEGIN IMMEDIATE). Table and column names are those of
gate.store.models; the schema tests check both stay in step.
"""
from __future__ import annotations

LISTS_OF_PLATE = "SELECT kind FROM plate_lists WHERE plate = :plate"
LIST_ENTRY = "SELECT plate FROM plate_lists WHERE plate = :plate AND kind = :kind"
ADD_LIST_ENTRY = "INSERT INTO plate_lists (plate, kind, note, added_at) VALUES (:plate, :kind, :note, :added_at)"
DELETE_LIST_ENTRY = "DELETE FROM plate_lists WHERE plate = :plate AND kind = :kind"

OPEN_VISIT_OF_PLATE = "SELECT * FROM visits WHERE plate = :plate AND state = 'open' {lock}"
VISIT_BY_ID = "SELECT * FROM visits WHERE id = :id {lock}"
OPEN_PLATES = "SELECT id, plate FROM visits WHERE state = 'open'"
COUNT_OPEN = "SELECT count(*) FROM visits WHERE state = 'open'"
RECENT_EXIT = (
    "SELECT id FROM visits WHERE plate = :plate AND state = 'closed'"
    " AND exit_at >= :since AND exit_at <= :until ORDER BY exit_at DESC LIMIT 1"
)

# only a still-open visit is closed: the row count tells a lost race
CLOSE_VISIT = (
    "UPDATE visits SET state = 'closed', exit_at = :exit_at, fee_agorot = :fee, close_reason = :close_reason,"
    " flagged = :flagged, flag_reason = :flag_reason WHERE id = :id AND state = 'open'"
)
ADD_PAYMENT = (
    "UPDATE visits SET paid_agorot = paid_agorot + :amount, last_paid_at = :at WHERE id = :id AND state = 'open'"
)
WAIVE = "UPDATE visits SET waived = :waived WHERE id = :id AND state = 'open'"
PAYMENT_BY_ID = "SELECT * FROM payments WHERE payment_id = :payment_id"
PAID_OF_VISIT = "SELECT paid_agorot FROM visits WHERE id = :id"
RESOLVE_REVIEW = (
    "UPDATE review_items SET resolved_at = :at, resolved_by = :operator, resolution = :resolution"
    " WHERE id = :id AND resolved_at IS NULL"
)

# PostgreSQL: entries take this transaction lock so capacity and duplicate checks see every entry
ENTRY_LOCK = "SELECT pg_advisory_xact_lock(7305000002)"

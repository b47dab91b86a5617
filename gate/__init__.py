"""plategate gate controller: ledger, tariff, decisions and the camera process.

Modules: ledger (Ledger: the one front used by the CLI and the camera
process), decision (Decision), tariff (Tariff, fee rules), policy (Policy:
capacity, duplicate entries, matching thresholds), matching (exit read ->
open visit), models + migrations + schema (tables, Alembic), db (URL and
engine setup), tx + statements (write transactions), cli (`gate`).
"""

"""The ledger's storage: one path to the database, SQLAlchemy Core.

models (the tables), migrations + schema (Alembic, run on open), db (URL and
engine: WAL, busy timeout, BEGIN IMMEDIATE on SQLite), queries (every query
and its locking), records (typed read-only rows handed out), decide (the
entry and exit rules of one read, in its transaction), ledger (Ledger: the
one front, used by the CLI and the camera process).
"""

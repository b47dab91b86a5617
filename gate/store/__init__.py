"""The ledger's storage: one path to the database, SQLAlchemy Core.

models (the tables), migrations + schema (Alembic, run on open), db (URL and
engine: WAL, busy timeout, BEGIN IMMEDIATE on SQLite), records (typed
read-only rows handed out), ledger (Ledger: every read and write).
"""

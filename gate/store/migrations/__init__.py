"""Alembic migrations for the ledger, run programmatically (no alembic.ini)."""

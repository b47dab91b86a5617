"""login_failures by remote address: the per-address login limit counts them without a table scan

Every login attempt counts the recent failures from its address, whatever
usernames they tried (gate.store.users); without an index that is a scan of
every failure ever recorded, a table an attacker grows.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_login_failures_remote_at', 'login_failures', ['remote', 'at'])


def downgrade() -> None:
    op.drop_index('ix_login_failures_remote_at', table_name='login_failures')

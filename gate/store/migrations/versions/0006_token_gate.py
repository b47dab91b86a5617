"""api_tokens.gate: a camera token bound to one gate; login_failures by time

A camera box holds its token on disk; bound to its gate, a stolen copy can
post reads and claim manual opens for that gate alone, not open every
barrier of the lot. NULL keeps the earlier tokens valid for any gate.

Each login attempt now deletes the failures older than 30 days (a table an
attacker grows); the index on ``at`` makes that one range probe.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens') as batch:
        batch.add_column(sa.Column('gate', sa.String(length=64), nullable=True))
    op.create_index('ix_login_failures_at', 'login_failures', ['at'])


def downgrade() -> None:
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('gate')

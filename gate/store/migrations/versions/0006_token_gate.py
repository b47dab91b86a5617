"""api_tokens.gate and .lane: a camera token bound to its barrier; login_failures by time

A camera box holds its token on disk; bound to its gate and lane, a stolen
copy can post that barrier's reads and claim its manual opens, not open (or
close visits at) every barrier of the lot. NULL keeps the earlier tokens
valid for any gate, as before.

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
        batch.add_column(sa.Column('gate', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('lane', sa.String(length=8), nullable=True))
    op.create_index('ix_login_failures_at', 'login_failures', ['at'])


def downgrade() -> None:
    bound = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM api_tokens WHERE gate IS NOT NULL AND revoked_at IS NULL")).scalar()
    if bound:  # dropping the columns would let each of them act for every gate
        raise RuntimeError(f"{bound} live camera token(s) are bound to a gate: revoke them before going below 0006")
    op.drop_index('ix_login_failures_at', table_name='login_failures')
    with op.batch_alter_table('api_tokens') as batch:
        batch.drop_column('lane')
        batch.drop_column('gate')

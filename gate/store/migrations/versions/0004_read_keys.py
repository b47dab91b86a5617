"""reads.read_key: a camera's own id for a read, so that a resent read is answered, not decided again

A lane resends a read whose answer it lost (a timeout or a reset after the
server committed); without a key the ledger recorded it twice, and a second
exit decision could deny a paid car whose visit the first one had closed.
Nullable (attendant reads and older rows have none), unique where set.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reads') as t:
        t.add_column(sa.Column('read_key', sa.String(length=64), nullable=True))
        t.create_index('uq_reads_read_key', ['read_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('reads') as t:
        t.drop_index('uq_reads_read_key')
        t.drop_column('read_key')

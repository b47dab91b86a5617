"""web_sessions.remote: where each login came from

The per-user cap on failed logins (20 in 5 minutes from all addresses) let
an attacker with 4 addresses lock an operator out of the page; an address
the user has started a session from is now exempt from that cap (its own
per-address limits still hold), so the sessions record where they began.
Sessions started before this revision have no address: they exempt none.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('web_sessions') as batch:
        batch.add_column(sa.Column('remote', sa.String(length=64), nullable=True))
    op.create_index('ix_web_sessions_user_remote', 'web_sessions', ['user_id', 'remote'])


def downgrade() -> None:
    op.drop_index('ix_web_sessions_user_remote', table_name='web_sessions')
    with op.batch_alter_table('web_sessions') as batch:
        batch.drop_column('remote')

"""initial ledger schema: visits, reads, payments, decisions, overrides, plate lists, review queue

Revision ID: 0001
Revises: 
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plate_lists',
    sa.Column('plate', sa.String(length=8), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('plate', 'kind')
    )
    op.create_table('reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lane', sa.String(length=8), nullable=False),
    sa.Column('plate', sa.String(length=8), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('char_conf', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evidence_path', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=8), nullable=False),
    sa.Column('entry_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('exit_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('close_reason', sa.String(length=32), nullable=True),
    sa.Column('fee_agorot', sa.Integer(), nullable=True),
    sa.Column('paid_agorot', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('waived', sa.Boolean(), server_default=sa.text("false"), nullable=False),
    sa.Column('flagged', sa.Boolean(), server_default=sa.text("false"), nullable=False),
    sa.Column('flag_reason', sa.String(length=200), nullable=True),
    sa.CheckConstraint("(state = 'open' AND exit_at IS NULL AND fee_agorot IS NULL) OR (state = 'closed' AND exit_at IS NOT NULL AND fee_agorot IS NOT NULL)", name='ck_visits_state_consistent'),
    sa.CheckConstraint('exit_at IS NULL OR exit_at >= entry_at', name='ck_visits_exit_after_entry'),
    sa.CheckConstraint('paid_agorot >= 0 AND (fee_agorot IS NULL OR fee_agorot >= 0)', name='ck_visits_money'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_visits_entry_at', 'visits', ['entry_at'], unique=False)
    op.create_index('ix_visits_plate', 'visits', ['plate'], unique=False)
    op.create_index('uq_visits_open_plate', 'visits', ['plate'], unique=True, sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'"))
    op.create_table('decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('read_id', sa.Integer(), nullable=True),
    sa.Column('lane', sa.String(length=8), nullable=False),
    sa.Column('plate', sa.String(length=8), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('amount_due_agorot', sa.Integer(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['read_id'], ['reads.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_decisions_visit_id', 'decisions', ['visit_id'], unique=False)
    op.create_table('overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('operator', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('plate', sa.String(length=8), nullable=True),
    sa.Column('amount_agorot', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.String(length=64), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('plate', sa.String(length=8), nullable=False),
    sa.Column('amount_agorot', sa.Integer(), nullable=False),
    sa.Column('fee_agorot', sa.Integer(), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_agorot >= 0', name='ck_payments_amount'),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_id')
    )
    op.create_index('ix_payments_visit_id', 'payments', ['visit_id'], unique=False)
    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('plate', sa.String(length=8), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.Column('resolution', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('review_items')
    op.drop_index('ix_payments_visit_id', table_name='payments')
    op.drop_table('payments')
    op.drop_table('overrides')
    op.drop_index('ix_decisions_visit_id', table_name='decisions')
    op.drop_table('decisions')
    op.drop_index('uq_visits_open_plate', table_name='visits')
    op.drop_index('ix_visits_plate', table_name='visits')
    op.drop_index('ix_visits_entry_at', table_name='visits')
    op.drop_table('visits')
    op.drop_table('reads')
    op.drop_table('plate_lists')

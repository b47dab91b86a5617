"""named gates, votes, one evidence table, gate commands, web users and sessions, list holders and
expiry, listing indexes and partial-plate search (SQLite FTS5 trigram, PostgreSQL pg_trgm)

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('visits') as t:
        t.add_column(sa.Column('entry_gate', sa.String(length=32), nullable=True))
        t.add_column(sa.Column('exit_gate', sa.String(length=32), nullable=True))
        t.create_index('ix_visits_exit_at', ['exit_at'], unique=False)
    with op.batch_alter_table('reads') as t:
        t.add_column(sa.Column('gate', sa.String(length=32), nullable=True))
    with op.batch_alter_table('payments') as t:
        t.add_column(sa.Column('typed_plate', sa.String(length=8), nullable=True))
        t.create_index('ix_payments_paid_at', ['paid_at'], unique=False)
    with op.batch_alter_table('decisions') as t:
        t.add_column(sa.Column('gate', sa.String(length=32), nullable=True))
        t.add_column(sa.Column('votes', sa.JSON(), nullable=True))
        t.create_index('ix_decisions_at', ['at'], unique=False)
        t.create_index('ix_decisions_gate_at', ['gate', 'at'], unique=False)
    with op.batch_alter_table('plate_lists') as t:
        t.add_column(sa.Column('holder', sa.String(length=100), nullable=True))
        t.add_column(sa.Column('expires_at', _TS, nullable=True))
    # the gate of every earlier read and decision was its lane (one gate per lane then)
    op.execute("UPDATE reads SET gate = lane")
    op.execute("UPDATE decisions SET gate = lane")
    op.execute("UPDATE visits SET entry_gate = 'entry'")
    op.execute("UPDATE visits SET exit_gate = 'exit' WHERE exit_at IS NOT NULL")

    op.create_table('evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('file', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expired_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('decision_id', 'kind', name='uq_evidence_decision_kind')
    )
    op.create_table('gate_commands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gate', sa.String(length=32), nullable=False),
    sa.Column('command', sa.String(length=16), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('requested_at', _TS, nullable=False),
    sa.Column('done_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_gate_commands_gate_done', 'gate_commands', ['gate', 'done_at'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('disabled_at', _TS, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', _TS, nullable=False),
    sa.Column('expires_at', _TS, nullable=False),
    sa.Column('revoked_at', _TS, nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('remote', sa.String(length=64), nullable=True),
    sa.Column('at', _TS, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_failures_username_at', 'login_failures', ['username', 'at'], unique=False)

    # partial-plate search (a substring of >= 3 digits) served by an index, not a scan
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE visits_plate_fts USING fts5("
                   "plate, content='visits', content_rowid='id', tokenize='trigram')")
        op.execute("INSERT INTO visits_plate_fts(visits_plate_fts) VALUES ('rebuild')")
        op.execute("CREATE TRIGGER visits_plate_fts_ai AFTER INSERT ON visits BEGIN "
                   "INSERT INTO visits_plate_fts(rowid, plate) VALUES (new.id, new.plate); END")
        op.execute("CREATE TRIGGER visits_plate_fts_ad AFTER DELETE ON visits BEGIN "
                   "INSERT INTO visits_plate_fts(visits_plate_fts, rowid, plate) VALUES ('delete', old.id, old.plate); END")
        op.execute("CREATE TRIGGER visits_plate_fts_au AFTER UPDATE OF plate ON visits BEGIN "
                   "INSERT INTO visits_plate_fts(visits_plate_fts, rowid, plate) VALUES ('delete', old.id, old.plate); "
                   "INSERT INTO visits_plate_fts(rowid, plate) VALUES (new.id, new.plate); END")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # a trusted extension: the database owner may
        op.execute("CREATE INDEX ix_visits_plate_trgm ON visits USING gin (plate gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('ai', 'ad', 'au'):
            op.execute(f"DROP TRIGGER IF EXISTS visits_plate_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS visits_plate_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_visits_plate_trgm")
    op.drop_index('ix_login_failures_username_at', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_table('web_sessions')
    op.drop_table('users')
    op.drop_index('ix_gate_commands_gate_done', table_name='gate_commands')
    op.drop_table('gate_commands')
    op.drop_table('evidence')
    with op.batch_alter_table('plate_lists') as t:
        t.drop_column('expires_at')
        t.drop_column('holder')
    with op.batch_alter_table('decisions') as t:
        t.drop_index('ix_decisions_gate_at')
        t.drop_index('ix_decisions_at')
        t.drop_column('votes')
        t.drop_column('gate')
    with op.batch_alter_table('payments') as t:
        t.drop_index('ix_payments_paid_at')
        t.drop_column('typed_plate')
    with op.batch_alter_table('reads') as t:
        t.drop_column('gate')
    with op.batch_alter_table('visits') as t:
        t.drop_index('ix_visits_exit_at')
        t.drop_column('exit_gate')
        t.drop_column('entry_gate')

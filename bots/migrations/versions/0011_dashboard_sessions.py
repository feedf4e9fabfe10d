"""the dashboard's sessions (bots/dashboard/models.py): the session ID's hash, the user, when

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dashboard_sessions',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_dashboard_sessions'))
    )
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_user_id'), ['user_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_seen_at'), ['seen_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_seen_at'))
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_user_id'))

    op.drop_table('dashboard_sessions')

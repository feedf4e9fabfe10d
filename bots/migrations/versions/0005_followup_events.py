"""followup events (readmissions, ED visits) and the ward at discharge

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 08:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('followup_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plan_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('planned', sa.Boolean(), nullable=False),
    sa.Column('avoidable', sa.Boolean(), nullable=True),
    sa.Column('by', sa.String(length=255), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('judged_by', sa.String(length=255), nullable=True),
    sa.Column('judged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['followup_plans.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_followup_events_plan_id'), 'followup_events', ['plan_id'],
                    unique=False)
    with op.batch_alter_table('followup_plans') as batch:
        batch.add_column(sa.Column('ward', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('followup_plans') as batch:
        batch.drop_column('ward')
    op.drop_index(op.f('ix_followup_events_plan_id'), table_name='followup_events')
    op.drop_table('followup_events')

"""care-team rooms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 02:31:54.722394
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('care_rooms',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=True),
    sa.Column('ref', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ward', sa.String(length=100), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('ins_index', sa.String(length=64), nullable=True),
    sa.Column('traits_index', sa.String(length=64), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=True),
    sa.Column('origin_room_id', sa.String(length=255), nullable=True),
    sa.Column('cause_event_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_rooms')),
    sa.UniqueConstraint('account', 'ref', name=op.f('uq_care_rooms_account')),
    sa.UniqueConstraint('room_id', name=op.f('uq_care_rooms_room_id'))
    )
    with op.batch_alter_table('care_rooms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_rooms_account'), ['account'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_rooms_ins_index'), ['ins_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_rooms_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_rooms_traits_index'), ['traits_index'], unique=False)

    op.create_table('care_team',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('care_room_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=True),
    sa.Column('desired', sa.String(length=8), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.Column('requested_by', sa.String(length=255), nullable=True),
    sa.Column('cause_event_id', sa.String(length=255), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['care_room_id'], ['care_rooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_team')),
    sa.UniqueConstraint('care_room_id', 'user_id', name=op.f('uq_care_team_care_room_id'))
    )
    with op.batch_alter_table('care_team', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_team_applied'), ['applied'], unique=False)
        batch_op.create_index(batch_op.f('ix_care_team_care_room_id'), ['care_room_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('care_team', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_team_care_room_id'))
        batch_op.drop_index(batch_op.f('ix_care_team_applied'))

    op.drop_table('care_team')
    with op.batch_alter_table('care_rooms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_rooms_traits_index'))
        batch_op.drop_index(batch_op.f('ix_care_rooms_status'))
        batch_op.drop_index(batch_op.f('ix_care_rooms_ins_index'))
        batch_op.drop_index(batch_op.f('ix_care_rooms_account'))

    op.drop_table('care_rooms')

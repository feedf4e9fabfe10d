"""usage aggregates of the patient rooms (bots/dashboard/models.py): per room how far counted,
per room, day and sender the messages and commands, the first human answers' delays

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_rooms',
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('last_ts', sa.BigInteger(), nullable=False),
    sa.Column('last_ids', sa.Text(), nullable=False),
    sa.Column('waiting_sender', sa.String(length=255), nullable=True),
    sa.Column('waiting_since', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('account', 'room_id', name=op.f('pk_usage_rooms'))
    )
    op.create_table('usage_counts',
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('commands', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'room_id', 'day', 'sender', name=op.f('pk_usage_counts'))
    )
    with op.batch_alter_table('usage_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_counts_day'), ['day'], unique=False)
    op.create_table('usage_answers',
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'event_id', name=op.f('pk_usage_answers'))
    )
    with op.batch_alter_table('usage_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_answers_day'), ['day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usage_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_answers_day'))
    op.drop_table('usage_answers')
    with op.batch_alter_table('usage_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_counts_day'))
    op.drop_table('usage_counts')
    op.drop_table('usage_rooms')

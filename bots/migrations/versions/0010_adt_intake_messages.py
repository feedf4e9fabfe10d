"""the ADT intake's messages (bots/adt/models.py): as received, sealed, and how far each went

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 11:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('adt_messages',
    sa.Column('id', _ID, nullable=False),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('control_id', sa.String(length=255), nullable=False),
    sa.Column('event', sa.String(length=8), nullable=True),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('field', sa.String(length=16), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('care_room_id', _ID, nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['care_room_id'], ['care_rooms.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adt_messages')),
    sa.UniqueConstraint('sender', 'control_id', name=op.f('uq_adt_messages_sender'))
    )
    with op.batch_alter_table('adt_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adt_messages_patient'), ['patient'], unique=False)
        batch_op.create_index(batch_op.f('ix_adt_messages_state'), ['state'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('adt_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adt_messages_state'))
        batch_op.drop_index(batch_op.f('ix_adt_messages_patient'))

    op.drop_table('adt_messages')

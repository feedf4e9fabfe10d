"""the ADT feed's merges (A40, bots/adt/models.py): the IPP's blind index on each message, and
the merged-away patients' INS pointing to the survivors'

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 15:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('adt_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ipp', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_adt_messages_ipp'), ['ipp'], unique=False)
    op.create_table('adt_aliases',
    sa.Column('id', _ID, nullable=False),
    sa.Column('prior', sa.String(length=64), nullable=False),
    sa.Column('survivor', sa.String(length=64), nullable=False),
    sa.Column('identity', sa.LargeBinary(), nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adt_aliases')),
    sa.UniqueConstraint('prior', name=op.f('uq_adt_aliases_prior'))
    )
    with op.batch_alter_table('adt_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adt_aliases_survivor'), ['survivor'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('adt_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adt_aliases_survivor'))
    op.drop_table('adt_aliases')
    with op.batch_alter_table('adt_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adt_messages_ipp'))
        batch_op.drop_column('ipp')

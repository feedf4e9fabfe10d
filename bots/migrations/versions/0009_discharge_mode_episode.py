"""discharge mode and iterative flag, checklist compliance, the episode's risk level, the mails
that carried the lettre de liaison

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    # Rows from before: discharges home, not iterative (what the plan assumed then).
    with op.batch_alter_table('followup_plans') as batch:
        batch.add_column(sa.Column('mode', sa.String(length=16), nullable=False,
                                   server_default='domicile'))
        batch.add_column(sa.Column('iterative', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table('discharge_handovers') as batch:
        batch.add_column(sa.Column('mode', sa.String(length=16), nullable=False,
                                   server_default='domicile'))
        batch.add_column(sa.Column('iterative', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('ward', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('compliant', sa.Boolean(), nullable=True))
    op.create_table('episode_risks',
    sa.Column('care_room_id', _ID, nullable=False),
    sa.Column('risk', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=255), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['care_room_id'], ['care_rooms.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('care_room_id')
    )
    op.create_table('episode_letter_mails',
    sa.Column('id', _ID, nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('outbound_id', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('outbound_id')
    )
    op.create_index(op.f('ix_episode_letter_mails_room_id'), 'episode_letter_mails',
                    ['room_id'], unique=False)
    op.create_index(op.f('ix_episode_letter_mails_taken_at'), 'episode_letter_mails',
                    ['taken_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_episode_letter_mails_taken_at'), table_name='episode_letter_mails')
    op.drop_index(op.f('ix_episode_letter_mails_room_id'), table_name='episode_letter_mails')
    op.drop_table('episode_letter_mails')
    op.drop_table('episode_risks')
    with op.batch_alter_table('discharge_handovers') as batch:
        for column in ('compliant', 'ward', 'iterative', 'mode'):
            batch.drop_column(column)
    with op.batch_alter_table('followup_plans') as batch:
        batch.drop_column('iterative')
        batch.drop_column('mode')

"""cross-signing identities pinned on first use; senders told once that clear commands are refused

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_pins',
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('master_key', sa.String(length=64), nullable=False),
    sa.Column('changed_to', sa.String(length=64), nullable=True),
    sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_identity_pins'))
    )
    op.create_table('clear_command_notices',
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('told_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'room_id', 'user_id', name=op.f('pk_clear_command_notices'))
    )


def downgrade() -> None:
    op.drop_table('clear_command_notices')
    op.drop_table('identity_pins')

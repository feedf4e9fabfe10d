"""the device an outbox row is sent with, and the deployment's bot devices with their sealed access
tokens: a process taking over a dead one's row re-sends it as the same device, with the same
transaction ID, so the homeserver folds it (bots/runtime/sender.py)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 00:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bot_devices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('device_id', sa.String(length=255), nullable=False),
    sa.Column('instance', sa.String(length=64), nullable=True),
    sa.Column('access_token', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bot_devices')),
    sa.UniqueConstraint('account', 'device_id', name=op.f('uq_bot_devices_account'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('device', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('device')
    op.drop_table('bot_devices')

"""usage_months (bots/dashboard/models.py): the usage day rows summed by month, written beside
them by the usage observer; filled here from the day rows already counted

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 16:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    months = op.create_table('usage_months',
    sa.Column('account', sa.String(length=255), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('room_id', sa.String(length=255), nullable=False),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('commands', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('account', 'month', 'room_id', 'sender',
                            name=op.f('pk_usage_months'))
    )
    # The day rows already counted, summed in Python: the month of a date in SQL differs
    # between SQLite and PostgreSQL.
    days = sa.table('usage_counts', sa.column('account', sa.String), sa.column('room_id', sa.String),
                    sa.column('day', sa.Date), sa.column('sender', sa.String),
                    sa.column('messages', sa.Integer), sa.column('commands', sa.Integer))
    sums: dict[tuple[str, str, str, str], list[int]] = {}
    for account, room_id, day, sender, messages, commands in op.get_bind().execute(sa.select(
            days.c.account, days.c.room_id, days.c.day, days.c.sender, days.c.messages,
            days.c.commands)):
        found = sums.setdefault((account, f"{day.year:04d}-{day.month:02d}", room_id, sender),
                                [0, 0])
        found[0] += messages
        found[1] += commands
    if sums:
        op.bulk_insert(months, [
            {"account": a, "month": m, "room_id": r, "sender": s, "messages": n, "commands": c}
            for (a, m, r, s), (n, c) in sums.items()])


def downgrade() -> None:
    op.drop_table('usage_months')

"""discharge_handovers: when the lettre de liaison was recorded as sent (`letter_at`), for the
dashboard's letters on J0; filled here from the letters the MSSanté bridge mailed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 00:30:00
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('discharge_handovers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('letter_at', sa.DateTime(timezone=True), nullable=True))
    # A letter ticked by hand before this revision has its time only in the sealed checklist:
    # left unknown. A mailed one: the room's first mail with a document on or after the
    # discharge day (read in UTC: the deployment's zone is not known here).
    handovers = sa.table('discharge_handovers', sa.column('id', sa.Integer),
                         sa.column('care_room_id', sa.Integer),
                         sa.column('discharged_on', sa.Date),
                         sa.column('letter_at', sa.DateTime(timezone=True)))
    rooms = sa.table('care_rooms', sa.column('id', sa.Integer), sa.column('room_id', sa.String))
    mails = sa.table('episode_letter_mails', sa.column('room_id', sa.String),
                     sa.column('sent_at', sa.DateTime(timezone=True)))
    bind = op.get_bind()
    sent: dict[str, list[datetime]] = {}
    for room_id, at in bind.execute(sa.select(mails.c.room_id, mails.c.sent_at)
                                    .order_by(mails.c.sent_at)):
        sent.setdefault(room_id, []).append(at)
    for handover, room_id, day in bind.execute(
            sa.select(handovers.c.id, rooms.c.room_id, handovers.c.discharged_on)
            .join(rooms, rooms.c.id == handovers.c.care_room_id)):
        first = next((at for at in sent.get(room_id, ()) if _utc_day(at) >= day), None)
        if first is not None:
            bind.execute(handovers.update().where(handovers.c.id == handover)
                         .values(letter_at=first))


def _utc_day(at: datetime) -> date:
    """SQLite gives the stored UTC time without its zone, PostgreSQL in the session's zone."""
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def downgrade() -> None:
    with op.batch_alter_table('discharge_handovers', schema=None) as batch_op:
        batch_op.drop_column('letter_at')

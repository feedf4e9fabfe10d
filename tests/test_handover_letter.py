"""The lettre de liaison's time on the discharge hand-over (`letter_at`) and the hospital's
cancellation of the discharge (ADT A13: the hand-over goes), written by the discharge and follow-up bots'
real code on the in-process harness, and what the dashboard's letters on J0 make of them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bots.config import WardConfig
from bots.dashboard.indicator_data import inputs, scope
from bots.episode import records as episode
from bots.episode.models import Handover
from bots.followup.figures import figures_reader
from bots.runtime.store import as_utc, utcnow
from bridge.records import mail_counter
from tests.adt_samples import message
from tests.discharge_helpers import PARIS, today
from tests.harness import SERVER, Harness
from tests.test_adt_applier import Feed

MH, IDEC = f"@mh:{SERVER}", f"@idec:{SERVER}"
MONTH = (f"{today():%Y-%m}", f"{today():%Y-%m}")


async def handover(h: Harness) -> Handover | None:
    async with h.runtime.transaction() as tx:
        return await tx.session.scalar(select(Handover))


async def letters(h: Harness) -> list[tuple[str | None, date, bool]]:
    """The dashboard's (ward, discharge day, sent on J0) for the physician's rooms."""
    async with h.store.reading(h.runtime.user_id) as tx:
        found = await inputs(tx, await scope(tx, MH), MONTH, today(), PARIS, figures_reader(PARIS),
                             mail_counter(PARIS))
    return list(found.letters)


async def planned(h: Harness) -> str:
    room_id = await h.patient({MH: "MH", IDEC: "IDEC"})
    await h.command(room_id, IDEC, "!sortie prevoir aujourdhui")
    return room_id


async def test_the_letters_time_follows_its_item_before_and_after_the_validation(
        tmp_path: Path):
    async with Harness.start(tmp_path, bots=("careteam", "discharge")) as h:
        room_id = await planned(h)
        before = utcnow()
        await h.command(room_id, MH, "!sortie oui 17")
        await h.command(room_id, MH, "!sortie valider domicile le reste fait en ville")
        found = await handover(h)
        assert found is not None and found.letter_at is not None
        assert before <= as_utc(found.letter_at) <= utcnow()  # the Oui's time, kept
        assert await letters(h) == [("Cardiologie", today(), True)]
        # Taken back after the validation, then sent again: the time goes and comes back.
        await h.command(room_id, MH, "!sortie non 17 pas encore partie")
        assert (await handover(h)).letter_at is None  # type: ignore[union-attr]
        assert await letters(h) == [("Cardiologie", today(), False)]
        await h.command(room_id, MH, "!sortie oui 17")
        assert (await handover(h)).letter_at is not None  # type: ignore[union-attr]


async def test_a_letter_mailed_after_the_validation_is_timed_by_the_mail(tmp_path: Path):
    async with Harness.start(tmp_path, bots=("careteam", "discharge")) as h:
        room_id = await planned(h)
        # Left yesterday (validated today), the letter mailed by the bridge today: sent, but
        # not on J0.
        yesterday = today() - timedelta(days=1)
        await h.command(room_id, MH, f"!sortie valider {yesterday:%d/%m/%Y} domicile en ville")
        assert (await handover(h)).letter_at is None  # type: ignore[union-attr]
        mailed = utcnow().replace(microsecond=0)
        async with h.runtime.transaction() as tx:
            episode.letter_mail_sent(tx, room_id, 1, mailed)
        discharge = next(b for b in h.runtime.bots if b.name == "discharge")
        bot = discharge.services[1].__self__  # type: ignore[attr-defined]
        async with h.runtime.transaction() as tx:
            for mail in await episode.letter_mails(tx):
                await bot._letter_mail(h.runtime, tx, mail)
        assert as_utc((await handover(h)).letter_at) == mailed  # type: ignore[union-attr,arg-type]
        assert await letters(h) == [("Cardiologie", yesterday, False)]


async def test_a_discharge_the_hospital_cancels_leaves_the_letters_denominator(
        tmp_path: Path):
    wards = {"CARDIO": WardConfig("Cardiologie", ((IDEC, "IDEC"), (MH, "MH")))}
    async with Harness.start(tmp_path, bots=("careteam", "discharge", "followup", "adt"),
                             adt_wards=wards) as h:
        feed = Feed(h)
        admitted = today() - timedelta(days=3)
        await feed.send(message("A01", "M1", admitted=admitted))
        await feed.round()
        room_id = await feed.created()
        await feed.send(message("A03", "M2", admitted=admitted, discharged=today(),
                                disposition="8"))
        await feed.round()
        await h.command(room_id, IDEC, "!sortie prevoir aujourdhui")
        await h.command(room_id, MH, "!sortie oui 17")
        await h.command(room_id, MH, "!sortie valider domicile le reste fait en ville")
        assert await letters(h) == [("Cardiologie", today(), True)]

        await feed.send(message("A13", "M3", admitted=admitted))
        await feed.round()
        assert (await feed.states())[-1] == ("M3", "applied", None)
        assert await handover(h) is None  # the checklist reopened (bots/discharge/withdrawal.py)
        assert await letters(h) == []  # no longer a discharge: not in the denominator


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bots.db'}"
    return request.getfixturevalue("pg_empty_database")


def test_the_migration_times_the_letters_the_bridge_mailed(empty_database: str):
    """0016: a hand-over's letter_at from its room's first letter mail on or after the
    discharge day; none without one (a letter ticked by hand has its time sealed)."""
    from alembic import command
    from alembic.config import Config

    from bots.runtime.store import MIGRATIONS

    engine = sa.create_engine(empty_database)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    meta = sa.MetaData()
    now = datetime(2026, 11, 1, 8, tzinfo=UTC)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0015")
        meta.reflect(conn, only=["care_rooms", "discharge_checklists", "discharge_handovers",
                                 "episode_letter_mails"])
        t = meta.tables
        for n in (1, 2):
            conn.execute(t["care_rooms"].insert().values(
                id=n, account="@b:h", kind="patient", room_id=f"!r{n}", status="open",
                sealed=b"", language="fr", created_at=now, attempts=0))
            conn.execute(t["discharge_checklists"].insert().values(
                id=n, account="@b:h", care_room_id=n, room_id=f"!r{n}", template="t",
                status="validated", sealed=b"", version=1, language="fr", created_at=now,
                updated_at=now))
            conn.execute(t["discharge_handovers"].insert().values(
                account="@b:h", checklist_id=n, care_room_id=n, discharged_on=date(2026, 11, 25),
                mode="domicile", iterative=False, created_at=now))
        conn.execute(t["episode_letter_mails"].insert(), [
            {"room_id": "!r1", "outbound_id": 1, "sent_at": datetime(2026, 11, 24, 16, tzinfo=UTC)},
            {"room_id": "!r1", "outbound_id": 2, "sent_at": datetime(2026, 11, 26, 9, tzinfo=UTC)},
            {"room_id": "!r1", "outbound_id": 3, "sent_at": datetime(2026, 11, 25, 15, tzinfo=UTC)},
            {"room_id": "!r9", "outbound_id": 4,
             "sent_at": datetime(2026, 11, 25, 10, tzinfo=UTC)}])
        command.upgrade(cfg, "0016")
        handovers = sa.Table("discharge_handovers", sa.MetaData(), autoload_with=conn)
        rows = conn.execute(sa.select(handovers.c.care_room_id, handovers.c.letter_at)
                            .order_by(handovers.c.care_room_id)).all()
        command.downgrade(cfg, "0015")
        columns = {c["name"] for c in sa.inspect(conn).get_columns("discharge_handovers")}
    engine.dispose()
    assert [(r[0], as_utc(r[1]) if r[1] else None) for r in rows] == [
        (1, datetime(2026, 11, 25, 15, tzinfo=UTC)), (2, None)]
    assert "letter_at" not in columns

"""The lettre de liaison's time on the discharge hand-over (`letter_at`) and the hospital's
cancellation of the discharge (`cancelled_at`), written by the discharge and follow-up bots'
real code on the in-process harness, and what the dashboard's letters on J0 make of them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bots.config import WardConfig
from bots.dashboard.indicator_data import inputs
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
        found = await inputs(tx, MH, MONTH, today(), PARIS, figures_reader(PARIS),
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
        found = await handover(h)
        assert found is not None and found.cancelled_at is not None
        assert isinstance(found.cancelled_at, datetime)
        assert await letters(h) == []  # no longer a discharge: not in the denominator


def test_the_migration_times_the_letters_the_bridge_mailed(tmp_path: Path):
    """0016: a hand-over's letter_at from its room's first letter mail on or after the
    discharge day; none without one (a letter ticked by hand has its time sealed)."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from bots.runtime.store import MIGRATIONS

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'bots.db'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    now = "'2026-11-01 08:00:00.000000'"
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0015")
        for n in (1, 2):
            conn.execute(sa.text(
                "INSERT INTO care_rooms (id, account, kind, room_id, status, sealed, language, "
                f"created_at, attempts) VALUES ({n}, '@b:h', 'patient', '!r{n}', 'open', x'', "
                f"'fr', {now}, 0)"))
            conn.execute(sa.text(
                "INSERT INTO discharge_checklists (id, account, care_room_id, room_id, template, "
                f"status, sealed, version, language, created_at, updated_at) VALUES ({n}, '@b:h', "
                f"{n}, '!r{n}', 't', 'validated', x'', 1, 'fr', {now}, {now})"))
            conn.execute(sa.text(
                "INSERT INTO discharge_handovers (account, checklist_id, care_room_id, "
                f"discharged_on, mode, iterative, created_at) VALUES ('@b:h', {n}, {n}, "
                f"'2026-11-25', 'domicile', 0, {now})"))
        conn.execute(sa.text(
            "INSERT INTO episode_letter_mails (room_id, outbound_id, sent_at) VALUES "
            "('!r1', 1, '2026-11-24 16:00:00.000000'), ('!r1', 2, '2026-11-26 09:00:00.000000'), "
            "('!r1', 3, '2026-11-25 15:00:00.000000'), ('!r9', 4, '2026-11-25 10:00:00.000000')"))
        command.upgrade(cfg, "0016")
        rows = conn.execute(sa.text("SELECT care_room_id, letter_at, cancelled_at "
                                    "FROM discharge_handovers ORDER BY care_room_id")).all()
        command.downgrade(cfg, "0015")
        columns = {c["name"] for c in sa.inspect(conn).get_columns("discharge_handovers")}
    engine.dispose()
    assert [(r[0], str(r[1])[:19] if r[1] else None, r[2]) for r in rows] == [
        (1, "2026-11-25 15:00:00", None), (2, None, None)]
    assert "letter_at" not in columns and "cancelled_at" not in columns

"""Two bots processes on one PostgreSQL database (docs/SCALING.md), the bots' own services: what
both processes see (a quarantined ADT row, a letter mailed, a sync's messages, the month to plan,
a room asked for) is acted on once. Each "process" is a harness of its own (tests/harness.py:
its own Store, its own instance) on one freshly migrated database; the two run at once. The
MSSanté bridge's login likewise (two bridge processes)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import pytest_asyncio
from nio import RoomCreateResponse
from sqlalchemy import select

from bots.careteam.api import Api
from bots.common.api import ApiError
from bots.common.models import COORDINATION, PATIENT, CareRoom
from bots.config import ApiConfig, CareteamConfig, MailServerConfig, MssanteConfig, OAuthConfig
from bots.dashboard import usage_records
from bots.dashboard.models import UsageCount, UsageRoom
from bots.episode.records import letter_mail_sent
from bots.runtime.alone import Claims
from bots.runtime.bot import Seen
from bots.runtime.models import ScheduledJob
from bots.runtime.store import Store, Transaction, migrate, utcnow
from bots.runtime.vault import Vault
from bridge.login import Login
from bridge.oauth import Refused, Tokens
from tests.adt_samples import message
from tests.conftest import PG_ADMIN
from tests.harness import SERVER, Harness
from tests.test_active_active import holding
from tests.test_adt_applier import IDEC, WARDS, Feed, ago

pytestmark = pytest.mark.postgres

Pair = Callable[..., Awaitable[tuple[Harness, Harness]]]


@pytest_asyncio.fixture
async def database() -> AsyncIterator[str]:
    """A database of its own, migrated: the harness's account is the same in every test."""
    name = f"liaison_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    await asyncio.to_thread(migrate, url)
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture
async def pair(database: str, tmp_path: Path) -> AsyncIterator[Pair]:
    """`await pair(bots, **overrides)`: two bots processes for the same account."""
    async with AsyncExitStack() as stack:
        key = Vault.new_key()

        async def start(bots: tuple[str, ...], **overrides: Any) -> tuple[Harness, Harness]:
            a, b = [await stack.enter_async_context(Harness.start(
                tmp_path / name, bots, database=database, instance=name, data_keys=(key,),
                **overrides)) for name in ("a", "b")]
            return a, b
        yield start


def bot_object(h: Harness, name: str, service: int = 0) -> Any:
    """The object behind one of a bot's services (the bot's own methods)."""
    bot = next(b for b in h.runtime.bots if b.name == name)
    return bot.services[service].__self__  # type: ignore[attr-defined]


def held_open(h: Harness, release: asyncio.Event) -> None:
    """From now on `h`'s transactions wait for `release` before they commit."""
    opened = h.runtime.transaction

    @asynccontextmanager
    async def transaction() -> AsyncIterator[Transaction]:
        async with opened() as tx:
            yield tx
            await release.wait()
    h.runtime.transaction = transaction  # type: ignore[method-assign]


async def test_the_quarantined_adt_rows_are_listed_once(pair: Pair):
    a, b = await pair(("careteam", "followup", "adt"), adt_wards=WARDS)
    fa, fb = Feed(a), Feed(b)
    for n in range(6):
        await fa.send(message("A01", f"Q{n}", admitted=ago(1), ward="URG"))  # no such ward
    await fa.round()  # set aside; no coordination room yet: nobody told
    coordination = await a.coordination({IDEC: "IDEC"})
    release = asyncio.Event()
    held_open(a, release)
    first = asyncio.create_task(fa.applier.report(a.runtime))
    await asyncio.sleep(0.2)  # listed, not committed
    second = asyncio.create_task(fb.applier.report(b.runtime))  # waits, then lists none
    await asyncio.sleep(0.3)
    release.set()
    await asyncio.gather(first, second)
    told = [s.body for h in (a, b) for s in h.sender.sent if s.room_id == coordination]
    assert len(told) == 1 and all(f"MSH-10 Q{n} " in told[0] for n in range(6))


async def test_a_letter_mailed_is_taken_up_once(pair: Pair):
    a, b = await pair(("careteam", "discharge"))
    room = await a.patient({IDEC: "IDEC"})
    await a.command(room, IDEC, f"!sortie prevoir {date.today():%d/%m/%Y}")
    async with a.runtime.transaction() as tx:
        letter_mail_sent(tx, room, 1, utcnow())
    first, second = bot_object(a, "discharge", 1), bot_object(b, "discharge", 1)
    release, taken_up = asyncio.Event(), first._letter_mail

    async def holding_on(*args: Any) -> None:  # the first's transaction stays open a while
        await taken_up(*args)
        await release.wait()
    first._letter_mail = holding_on
    held = asyncio.create_task(first.take_letters(a.runtime))
    await asyncio.sleep(0.2)
    other = asyncio.create_task(second.take_letters(b.runtime))  # skips it, or waits
    await asyncio.sleep(0.3)
    release.set()
    await asyncio.gather(held, other)
    ticked = [s for h in (a, b) for s in h.sender.sent
              if "coché par la passerelle MSSanté" in s.body]
    assert len(ticked) == 1


def seen(n: int, ts: int) -> Seen:
    return Seen("!counted:test", f"$m{n}", "@ide:test", ts, False)


async def counted(store: Store, who: str) -> tuple[int, int]:
    async with store.reading(who) as tx:
        total = await tx.session.scalar(select(UsageCount.messages).where(
            UsageCount.account == who))
        last = await tx.session.scalar(select(UsageRoom.last_ts).where(UsageRoom.account == who))
    return total or 0, last or 0


@pytest.mark.parametrize("counted_before", [True, False], ids=["counted-before", "first"])
async def test_messages_seen_by_both_processes_are_counted_once(database: str, counted_before):
    """Each process's sync brings its own batch of the room's messages: the first's holds m1,
    m2 and m3, the second's, a step behind, m1 and m2 (m1 counted earlier, or nothing yet)."""
    vault = Vault([Vault.new_key()])
    a, b = Store(database, vault, instance="a"), Store(database, vault, instance="b")
    who = f"@bot{secrets.token_hex(3)}:test"
    async with a.transaction(who) as tx:
        tx.session.add(CareRoom(account=who, kind=PATIENT, status="open", room_id="!counted:test",
                                ref="P-1", sealed=b"", language="fr", created_at=utcnow(),
                                attempts=0))
    observer = usage_records.usage_observer(ZoneInfo("Europe/Paris"))
    if counted_before:
        async with a.transaction(who) as tx:
            await observer(tx, [seen(1, 1000)])
    try:
        release = asyncio.Event()
        first = asyncio.create_task(holding(a, who, lambda tx: observer(
            tx, [seen(1, 1000), seen(2, 2000), seen(3, 3000)]), release))
        await asyncio.sleep(0.2)  # counted, not committed

        async def behind() -> None:
            async with b.transaction(who) as tx:
                await observer(tx, [seen(1, 1000), seen(2, 2000)])
        second = asyncio.create_task(behind())
        await asyncio.sleep(0.3)
        release.set()
        await first
        await second  # it waited for the room's row, then counted none again, lost none
        assert await counted(a, who) == (3, 3000)
    finally:
        await a.close()
        await b.close()


async def test_the_monthly_report_is_planned_once_by_two_processes_starting(pair: Pair):
    a, b = await pair(("careteam", "followup"))
    # Neither fails (a failed service stops its process) and one job is planned.
    await asyncio.gather(*(bot_object(h, "followup").keep_scheduled(h.runtime) for h in (a, b)))
    async with a.runtime.transaction() as tx:
        keys = (await tx.session.scalars(select(ScheduledJob.key).where(
            ScheduledJob.key.startswith("followup:report:")))).all()
    assert len(keys) == 1


async def asked_room(h: Harness) -> CareRoom:
    """A patient room asked for (by a command, the API or the feed), not created yet."""
    await h.patient({IDEC: "IDEC"})
    async with h.runtime.transaction() as tx:
        asked = (await tx.session.scalars(select(CareRoom))).one()
        asked.status, asked.room_id = "creating", None
    return asked


def provisioning(h: Harness, created: list[str]) -> asyncio.Task[None]:
    """The care-team bot's service in `h`, its homeserver a stand-in that records `createRoom`
    and takes its time (the other process looks meanwhile)."""
    async def room_create(**request: Any) -> RoomCreateResponse:
        created.append(request["name"])
        room_id = f"!made{len(created)}:{SERVER}"
        await asyncio.sleep(0.3)
        return RoomCreateResponse(room_id)

    async def known(users: list[str], lang: str) -> None:
        pass

    bot = bot_object(h, "careteam")
    h.runtime.client.room_create = room_create  # type: ignore[method-assign]
    bot.provisioner.check_users = known
    bot.provisioner._hidden_creator = False
    return asyncio.create_task(bot.serve(h.runtime))


async def rooms_once_open(h: Harness, count: int) -> list[CareRoom]:
    for _ in range(100):
        async with h.runtime.transaction() as tx:
            rooms = list((await tx.session.scalars(select(CareRoom))).all())
        if len(rooms) >= count and all(r.status == "open" for r in rooms):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a second creation would be under way by now
    return rooms


async def stopped(services: list[asyncio.Task[None]]) -> None:
    for task in services:
        task.cancel()
    await asyncio.gather(*services, return_exceptions=True)


async def test_a_room_asked_for_is_created_once_by_two_processes(pair: Pair):
    careteam = replace(CareteamConfig(), create_coordination_room="Coordination")
    a, b = await pair(("careteam",), careteam=careteam)
    await asked_room(a)
    created: list[str] = []
    services = [provisioning(h, created) for h in (a, b)]  # both start at once
    try:
        rooms = await rooms_once_open(a, 2)
    finally:
        await stopped(services)
    assert sorted(r.kind for r in rooms) == [COORDINATION, PATIENT]
    assert len(created) == 2 and all(r.status == "open" for r in rooms)


async def test_a_room_whose_holder_died_is_created_by_the_other_process(pair: Pair):
    a, b = await pair(("careteam",))
    asked = await asked_room(a)
    dying = Claims(a.store)  # a, at work on the room
    work = dying.holding(f"careteam.room:{asked.id}")  # never left: a dies in it
    assert await work.__aenter__()
    created: list[str] = []
    services = [provisioning(b, created)]
    try:
        await asyncio.sleep(0.5)
        assert created == []  # held: b leaves it
        await dying.close()  # a dies: its connection, and the claim, go
        bot_object(b, "careteam").provisioner.wake()  # b's next round (every 30 s)
        rooms = await rooms_once_open(b, 1)
    finally:
        await stopped(services)
    assert len(created) == 1 and [r.status for r in rooms] == ["open"]


async def test_an_api_request_the_other_process_gave_up_is_answered_as_failed(pair: Pair):
    api = ApiConfig("127.0.0.1", 9, secrets.token_urlsafe(24))  # not served: called here
    a, b = await pair(("careteam",), careteam=replace(CareteamConfig(), api=api))
    asked = await asked_room(a)  # through a's API
    theirs = bot_object(b, "careteam").provisioner
    theirs.runtime = b.runtime
    await theirs._give_up(asked.id, "M_FORBIDDEN: refused")  # b's round took it, in vain
    with pytest.raises(ApiError) as answer:  # not a 500 on the row that went
        await Api(a.runtime, bot_object(a, "careteam"))._until_open(asked.id, "fr")
    assert (answer.value.status, answer.value.code) == (502, "room_creation_failed")
    assert "journal des bots" in answer.value.message


class RotatingProvider:
    """Pro Santé Connect's token endpoint as far as renewal goes: each refresh token is good
    once (rotated), the provider shared by both processes."""

    def __init__(self) -> None:
        self.valid, self.calls = "r0", 0

    async def refresh(self, tokens: Tokens, now: datetime) -> Tokens:
        self.calls += 1
        await asyncio.sleep(0.2)  # the provider answering while the other process asks too
        if tokens.refresh_token != self.valid:
            raise Refused("invalid_grant", "refresh token already used")
        self.valid = f"r{self.calls}"
        return replace(tokens, access_token=f"a{self.calls}", refresh_token=self.valid,
                       expires_at=now + timedelta(minutes=5), issued_at=now)


def logins(h: Harness) -> list[Login]:
    """The MSSanté bridge's login in each of two processes (the harness's account's mailbox)."""
    server = MailServerConfig("127.0.0.1", 9)
    settings = MssanteConfig("liaison@chu.mssante.fr", h.runtime.user_id, server, server,
                             "trust-list.xml")
    return [Login(settings, OAuthConfig("https://psc.example", "c", "s"),
                  ZoneInfo("Europe/Paris"), "fr") for _ in range(2)]


async def test_a_login_needed_is_told_once_by_two_processes_starting(pair: Pair):
    a, b = await pair(("careteam",))
    coordination = await a.coordination({IDEC: "IDEC"})
    first, second = logins(a)
    release, tell = asyncio.Event(), first._tell_needed

    async def telling(*args: Any) -> None:  # the first's transaction stays open a while
        await tell(*args)
        await release.wait()
    first._tell_needed = telling  # type: ignore[method-assign]
    services = [asyncio.create_task(first.run(a.runtime))]
    await asyncio.sleep(0.2)
    services.append(asyncio.create_task(second.run(b.runtime)))
    await asyncio.sleep(0.3)
    release.set()
    await asyncio.sleep(0.5)  # both have started, and sleep
    assert not [task for task in services if task.done()]  # neither failed (nor its process)
    for task in services:
        task.cancel()
    await asyncio.gather(*services, return_exceptions=True)
    told = [s for h in (a, b) for s in h.sender.sent if s.room_id == coordination]
    assert len(told) == 1 and "connexion" in told[0].body


async def test_the_mailbox_login_is_renewed_once_across_two_processes(pair: Pair):
    a, b = await pair(("careteam",))
    provider = RotatingProvider()
    logins_ = logins(a)
    expired = Tokens("a0", utcnow() - timedelta(seconds=1), "r0", None, "899700218896",
                     utcnow() - timedelta(minutes=10))
    async with a.runtime.transaction() as tx:
        login_row = await logins_[0]._row(tx)
        logins_[0]._store(tx, login_row, expired)
    for login in logins_:  # both processes started with the stored tokens, now expired
        login.provider = provider  # type: ignore[assignment]
        login._tokens = expired
    try:
        tokens = await asyncio.gather(*(login.access_token(h.runtime)
                                        for login, h in zip(logins_, (a, b), strict=True)))
    finally:
        for login in logins_:
            if login._claims is not None:
                await login._claims.close()
    # One renewal; the process that waited took its tokens instead of presenting a dead
    # refresh token (the provider would have ended the session).
    assert (provider.calls, tokens) == (1, ["a1", "a1"])

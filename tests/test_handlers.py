"""The bots' commands through the in-process harness (tests/harness.py): the real parsing, trust,
permission check and handlers, no homeserver; each in milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest_asyncio

from tests.harness import Harness

IDEC, IDE, GP = "@idec:localhost", "@ide:localhost", "@gp:localhost"


@pytest_asyncio.fixture
async def bots(tmp_path: Path) -> AsyncIterator[Harness]:
    async with Harness.start(tmp_path) as harness:
        yield harness


def day(days: int) -> str:
    return (date.today() + timedelta(days=days)).strftime("%d/%m/%Y")


async def test_team_list_names_each_member_with_a_role(bots):
    room = await bots.patient({IDEC: "IDEC", IDE: "IDE"})
    answer = await bots.reply(room, IDE, "!equipe liste")
    assert IDEC in answer.body and IDE in answer.body
    assert "IDEC" in answer.body and "IDE" in answer.body


async def test_help_lists_the_commands_the_caller_may_run(bots):
    room = await bots.patient({IDEC: "IDEC", IDE: "IDE"})
    coordinator = (await bots.reply(room, IDEC, "!aide")).body
    nurse = (await bots.reply(room, IDE, "!aide")).body
    assert "!sortie prevoir" in coordinator and "!rh30" in coordinator
    assert "!sortie prevoir" not in nurse  # discharge.plan: not a ward nurse's
    assert "!sortie oui" in nurse


async def test_an_unknown_command_gets_a_helpful_reply(bots):
    room = await bots.patient({IDEC: "IDEC"})
    answer = await bots.reply(room, IDEC, "!sortiee prevoir")
    assert "!sortiee" in answer.body and "!sortie ?" in answer.body and "!aide" in answer.body


async def test_a_role_without_the_capability_is_refused(bots):
    room = await bots.patient({IDEC: "IDEC", IDE: "IDE"})
    answer = await bots.reply(room, IDE, f"!sortie prevoir {day(3)}")
    assert "pas le droit" in answer.body and "!sortie prevoir" in answer.body  # with the usage
    shown = await bots.reply(room, IDE, "!sortie")
    assert "⬜" not in shown.body  # no checklist was started


async def test_a_command_in_clear_in_an_encrypted_room_is_refused_once(bots):
    room = await bots.patient({IDEC: "IDEC"})
    first = await bots.command(room, IDEC, "!equipe liste", encrypted=False)
    again = await bots.command(room, IDEC, "!equipe liste", encrypted=False)
    assert len(first) == 1 and IDEC not in first[0].body
    assert again == []


async def test_the_discharge_checklist_ticks_an_item(bots):
    room = await bots.patient({IDEC: "IDEC", IDE: "IDE"})
    started = await bots.command(room, IDEC, f"!sortie prevoir {day(3)}")
    assert "⬜ 4." in started[0].body  # the live checklist
    refused = await bots.reply(room, IDE, "!sortie oui 4")  # item 4 is the physician's
    assert "MH" in refused.body
    ticked = await bots.command(room, IDEC, "!sortie oui 4")  # discharge.any_item
    edit = next(s for s in ticked if s.content.get("m.relates_to", {}).get("rel_type") ==
                "m.replace")
    assert "✅ 4." in edit.content["m.new_content"]["body"]
    assert any(s.body.startswith("✅ 4.") for s in ticked)  # and the answer to the command


async def test_the_rh30_follow_up_starts_by_command(bots):
    room = await bots.patient({IDEC: "IDEC", GP: "MT"})
    started = await bots.command(room, IDEC, f"!rh30 debut {day(-1)} domicile eleve")
    assert "Suivi RH30 démarré" in started[0].body
    plan = await bots.reply(room, IDEC, "!rh30 plan")
    assert f"• 1. {day(-1)}" in plan.body and "risque élevé" in plan.body


async def test_in_a_room_the_bots_do_not_know_no_clinical_command_runs(bots):
    room = await bots.coordination({IDEC: "IDEC"})
    answer = await bots.reply(room, IDEC, f"!sortie prevoir {day(3)}")
    assert "pas le droit" in answer.body  # a patient room's command

"""The LACE and HOSPITAL commands as the discharge and follow-up bots both declare them: the
score parsed (a component out of range or not understood is answered), then what the bot does
with it (`scored`)."""

from __future__ import annotations

from collections.abc import Callable

from bots.episode.scores import Score, ScoreError, parse_hospital, parse_lace
from bots.runtime.bot import CommandContext


class ScoreCommands:
    """The handlers of `… lace <values>` and `… hospital <values>` (a bot's base class)."""

    async def lace(self, ctx: CommandContext, values: str) -> None:
        await self._score(ctx, values, parse_lace)

    async def hospital(self, ctx: CommandContext, values: str) -> None:
        await self._score(ctx, values, parse_hospital)

    async def _score(self, ctx: CommandContext, text: str,
                     parse: Callable[[str], Score]) -> None:
        try:
            score = parse(text)
        except ScoreError as exc:
            ctx.reply(exc.text(ctx.lang))
            return
        await self.scored(ctx, score)

    async def scored(self, ctx: CommandContext, score: Score) -> None:
        """What the bot does with a well-formed score."""
        raise NotImplementedError

"""Commands every account answers, whatever bots it runs: help and a liveness check."""

from __future__ import annotations

from bots.runtime.bot import CommandContext
from bots.runtime.commands import Arg, Command
from bots.runtime.i18n import t
from bots.runtime.notice import format_html, join


async def _help(ctx: CommandContext) -> None:
    commands = ctx.runtime.commands.allowed(ctx.caller)
    if not commands:
        ctx.reply(t(ctx.lang, "help.none"))
        return
    items = [format_html("<li>{line}</li>", line=t(ctx.lang, "help.detail",
                                                   usage=c.usage(ctx.lang), help=c.help(ctx.lang)))
             for c in commands]
    ctx.reply(format_html("<p>{title}</p><ul>{items}</ul>", title=t(ctx.lang, "help.title"),
                          items=join(items)))


async def _ping(ctx: CommandContext, texte: str | None) -> None:
    ctx.reply(t(ctx.lang, "ping.pong", text=texte or ""))


def builtin_commands() -> list[Command]:
    return [
        Command("aide", "help", "liste les commandes que vous pouvez utiliser ici",
                "lists the commands you may use here", _help),
        Command("ping", "ping", "vérifie que le bot répond (chiffrement compris)",
                "checks that the bot answers (encryption included)", _ping,
                args=(Arg("texte", "text", optional=True, rest=True),)),
    ]

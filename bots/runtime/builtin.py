"""Commands every account answers, whatever bots it runs: help and a liveness check; and the
confirmation of a member's new cross-signing identity, which a bot that knows who may manage the
team declares with that permission (`confirm_identity`)."""

from __future__ import annotations

from bots.runtime import pins
from bots.runtime.bot import CommandContext
from bots.runtime.commands import Arg, Command, Permission, as_user_id, described
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


async def _confirm(ctx: CommandContext, membre: str) -> None:
    if not await pins.confirm(ctx.tx, membre):
        ctx.reply(t(ctx.lang, "trust.nothing_to_confirm", user=membre))
        return
    # Judged again from the new pin once it is committed (the sender, the next command).
    ctx.tx.after_commit.append(lambda: ctx.runtime.trust.invalidate([membre]))
    ctx.reply(t(ctx.lang, "trust.confirmed", user=membre))


def confirm_identity(permission: Permission) -> Command:
    """`!confiance confirmer @user`: pin the new master key the homeserver gives for a user."""
    return described("confiance confirmer", "trust confirm", "trust.help.confirm", _confirm,
                     Arg("membre", "member", as_user_id), permission=permission)


def builtin_commands() -> list[Command]:
    return [
        Command("aide", "help", "liste les commandes que vous pouvez utiliser ici",
                "lists the commands you may use here", _help),
        Command("ping", "ping", "vérifie que le bot répond (chiffrement compris)",
                "checks that the bot answers (encryption included)", _ping,
                args=(Arg("texte", "text", optional=True, rest=True),)),
    ]

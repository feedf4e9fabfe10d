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


async def _ping(ctx: CommandContext, text: str | None) -> None:
    ctx.reply(t(ctx.lang, "ping.pong", text=text or ""))


async def _confirm(ctx: CommandContext, member: str) -> None:
    if not await pins.confirm(ctx.tx, member):
        ctx.reply(t(ctx.lang, "trust.nothing_to_confirm", user=member))
        return
    # Judged again from the new pin once it is committed (the sender, the next command).
    ctx.tx.after_commit.append(lambda: ctx.runtime.trust.invalidate([member]))
    ctx.reply(t(ctx.lang, "trust.confirmed", user=member))


def confirm_identity(permission: Permission) -> Command:
    """`!confiance confirmer @user`: pin the new master key the homeserver gives for a user."""
    return described("confiance confirmer", "trust confirm", "trust.help.confirm", _confirm,
                     Arg("member", "label.member", as_user_id), permission=permission)


def builtin_commands() -> list[Command]:
    return [
        described("aide", "help", "help.help", _help),
        described("ping", "ping", "ping.help", _ping,
                  Arg("text", "label.text", optional=True, rest=True)),
    ]

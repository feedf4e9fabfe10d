"""Declarative commands: definitions, parsing, permissions and help. Pure: no I/O.

A command has a French name and an English alias (`!aide` / `!help`); the reply language follows
the name the user typed. Names may have two words (`!sortie prevoir`), so a bot declares its
sub-commands as commands of their own.
"""

from __future__ import annotations

import difflib
import html
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bots.runtime.i18n import Lang, Refusal, t
from bots.runtime.notice import Html

PREFIX = "!"
_TOKEN = re.compile(r"\S+")
_USER_ID = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d+)?$")
_REPLY_FALLBACK = re.compile(r"<mx-reply>.*?</mx-reply>", re.S)
_USER_PILL = re.compile(
    r'<a\s[^>]*href="https://matrix\.to/#/((?:@|%40)[^"?/]+)[^"]*"[^>]*>.*?</a>', re.S)
_TAGS = re.compile(r"<[^>]+>")


def command_text(content: dict[str, Any]) -> str:
    """The text a command is parsed from. Element puts a mentioned user's display name in `body`
    and the user ID only in the HTML pill, so with pills the text comes from the HTML."""
    body = content.get("body", "")
    formatted = content.get("formatted_body")
    if not isinstance(body, str):
        return ""
    if content.get("format") != "org.matrix.custom.html" or not isinstance(formatted, str) \
            or not _USER_PILL.search(formatted):
        return body
    text = _REPLY_FALLBACK.sub("", formatted)
    text = _USER_PILL.sub(lambda m: urllib.parse.unquote(m.group(1)), text)
    text = re.sub(r"<br\s*/?>", " ", text)
    return html.unescape(_TAGS.sub("", text))


class ArgError(Refusal):
    """A value that does not fit its argument; the message key says why (see i18n)."""


def as_text(raw: str) -> str:
    return raw


def as_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ArgError("arg.not_int", value=raw) from None


def as_user_id(raw: str) -> str:
    if not _USER_ID.match(raw):
        raise ArgError("arg.not_user", value=raw)
    return raw


@dataclass(frozen=True)
class Arg:
    """`name`: the handler's parameter, an ASCII English identifier; `label`: the catalogue key
    of the word users see in the usage line (French or English), never bound to the handler."""

    name: str
    label_key: str
    convert: Callable[[str], Any] = as_text
    optional: bool = False
    rest: bool = False  # takes the rest of the line, spaces included

    def __post_init__(self) -> None:
        if not (self.name.isascii() and self.name.isidentifier()):
            raise ValueError(f"argument {self.name!r}: the handler's parameter must be an ASCII "
                             "identifier (the label users see comes from the catalogue)")

    def label(self, lang: Lang) -> str:
        text = str(t(lang, self.label_key))
        text = f"{text}…" if self.rest else text
        return f"[{text}]" if self.optional else f"<{text}>"


@dataclass(frozen=True)
class Caller:
    """What permission checks may look at: who asks, where, with which standing."""

    user_id: str
    room_id: str
    power_level: int
    role: str | None = None  # the caller's role in this room, when a bot knows it
    room_kind: str | None = None  # e.g. "coordination" or "patient", when a bot knows it


@dataclass(frozen=True)
class Permission:
    name: str
    check: Callable[[Caller], bool]
    # What a refusal names (bots/common/permissions.py): the role codes that may, and the kinds
    # of room it is for; empty when the permission is not about roles.
    roles: tuple[str, ...] = ()
    room_kinds: tuple[str, ...] = ()

    def allows(self, caller: Caller) -> bool:
        return self.check(caller)


ANYONE = Permission("anyone", lambda caller: True)


def min_power(level: int) -> Permission:
    return Permission(f"power>={level}", lambda caller: caller.power_level >= level)


Handler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Command:
    """Declared with `described`: its help is a catalogue text (fr/en), its permission says
    who may (checked by bots/common/permissions.py)."""

    name: str
    name_en: str
    help_key: str
    handler: Handler
    args: tuple[Arg, ...] = ()
    permission: Permission = ANYONE
    aliases: tuple[str, ...] = ()  # more French spellings, e.g. without accents

    def usage(self, lang: Lang) -> str:
        name = self.name if lang == "fr" else self.name_en
        return " ".join([f"{PREFIX}{name}", *(a.label(lang) for a in self.args)])

    def help(self, lang: Lang) -> Html:
        return t(lang, self.help_key)


def described(name: str, name_en: str, key: str, handler: Handler, *args: Arg,
              permission: Permission = ANYONE, aliases: tuple[str, ...] = ()) -> Command:
    """The one way to declare a command: its French and English names, the catalogue key of its
    help, its handler (called with the arguments' `name`s), its arguments and permission."""
    return Command(name, name_en, key, handler, args=args, permission=permission,
                   aliases=aliases)


@dataclass(frozen=True)
class Invocation:
    command: Command
    args: dict[str, Any]
    lang: Lang


@dataclass(frozen=True)
class Rejection:
    """Why a message that looks like a command cannot run, as a message key and its values."""

    key: str
    lang: Lang
    values: dict[str, Any] = field(default_factory=dict)
    command: Command | None = None

    def text(self) -> str:
        return t(self.lang, self.key, **self.values)


class CommandSet:
    def __init__(self, commands: Sequence[Command] = ()) -> None:
        # Language None: the name is the same in both (`!ping`), the deployment's default applies.
        self._by_name: dict[str, tuple[Command, Lang | None]] = {}
        self.commands: list[Command] = []
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        same = command.name_en == command.name
        names: list[tuple[str, Lang | None]] = [
            (command.name, None if same else "fr"), *((a, "fr") for a in command.aliases)]
        if not same:
            names.append((command.name_en, "en"))
        for name, lang in names:
            key = name.lower()
            if key in self._by_name and self._by_name[key][0] is not command:
                raise ValueError(f"command name {name!r} is declared twice")
            self._by_name[key] = (command, lang)
        self.commands.append(command)

    def parse(self, body: str, default_lang: Lang) -> Invocation | Rejection | None:
        """None when the text is not a command at all (ordinary conversation)."""
        text = body.strip()
        if not text.startswith(PREFIX) or len(text) == 1 or text[1].isspace():
            return None
        tokens = list(_TOKEN.finditer(text[len(PREFIX):]))
        words = [m.group().lower() for m in tokens]
        for width in (2, 1):  # the longest declared name wins: `!sortie oui` before `!sortie`
            if len(words) >= width and (found := self._by_name.get(" ".join(words[:width]))):
                command, lang = found
                rest = text[len(PREFIX) + tokens[width - 1].end():]
                return self._bind(command, lang or default_lang, rest)
        return Rejection("cmd.unknown", default_lang, {
            "name": f"{PREFIX}{words[0]}",
            "suggestion_text": self._suggest(words[0], default_lang)})

    def _suggest(self, word: str, lang: Lang) -> Html:
        close = difflib.get_close_matches(word, [n.split()[0] for n in self._by_name], n=1)
        return t(lang, "cmd.suggestion", suggestion=f"{PREFIX}{close[0]}") if close else Html("")

    @staticmethod
    def _bind(command: Command, lang: Lang, rest: str) -> Invocation | Rejection:
        values: dict[str, Any] = {}
        remaining = rest
        for arg in command.args:
            remaining = remaining.strip()
            if arg.rest:
                raw = remaining
                remaining = ""
            else:
                match = _TOKEN.match(remaining)
                raw = match.group() if match else ""
                remaining = remaining[len(raw):]
            if not raw:
                if arg.optional:
                    values[arg.name] = None
                    continue
                return Rejection("cmd.missing_arg", lang, {
                    "arg": arg.label(lang), "usage": command.usage(lang)}, command)
            try:
                values[arg.name] = arg.convert(raw)
            except ArgError as exc:
                return Rejection("cmd.bad_arg", lang, {
                    "arg": arg.label(lang), "why": exc.text(lang),
                    "usage": command.usage(lang)}, command)
        if remaining.strip():
            return Rejection("cmd.extra_args", lang, {
                "extra": remaining.strip(), "usage": command.usage(lang)}, command)
        return Invocation(command, values, lang)

    def allowed(self, caller: Caller) -> list[Command]:
        return [c for c in self.commands if c.permission.allows(caller)]

"""The command router, pure: parsing, arguments, languages, permissions, help, escaping."""

from __future__ import annotations

import pytest

from bots.runtime import i18n
from bots.runtime.builtin import builtin_commands
from bots.runtime.commands import (
    ANYONE,
    Arg,
    Caller,
    CommandSet,
    Invocation,
    Rejection,
    as_int,
    as_user_id,
    described,
    min_power,
)
from bots.runtime.notice import format_html, notice, to_plain


async def _noop(ctx, **kwargs) -> None:
    return None


i18n.register({
    "test.help.assign": {"fr": "assigne un item", "en": "assigns an item"},
    "test.help.show": {"fr": "montre la liste", "en": "shows the list"},
    "test.help.note": {"fr": "ajoute une note", "en": "adds a note"},
    "test.label.item": {"fr": "item", "en": "item"},
    "test.label.who": {"fr": "qui", "en": "who"},
})
ASSIGN = described("sortie assigner", "discharge assign", "test.help.assign", _noop,
                   Arg("item", "test.label.item", as_int), Arg("who", "test.label.who", as_user_id),
                   permission=min_power(50))
SHOW = described("sortie", "discharge", "test.help.show", _noop)
NOTE = described("note", "note", "test.help.note", _noop, Arg("text", "label.text", rest=True),
                 aliases=("remarque",))
COMMANDS = CommandSet([ASSIGN, SHOW, NOTE])


def test_plain_text_is_not_a_command():
    assert COMMANDS.parse("bonjour !sortie", "fr") is None
    assert COMMANDS.parse("! sortie", "fr") is None
    assert COMMANDS.parse("!", "fr") is None


def test_two_word_names_win_over_one_word():
    parsed = COMMANDS.parse("!sortie assigner 8 @ide:hopital.fr", "fr")
    assert isinstance(parsed, Invocation) and parsed.command is ASSIGN
    assert parsed.args == {"item": 8, "who": "@ide:hopital.fr"}
    shown = COMMANDS.parse("!Sortie", "fr")
    assert isinstance(shown, Invocation) and shown.command is SHOW


def test_reply_language_follows_the_name_typed():
    assert COMMANDS.parse("!discharge assign 3 @a:b.fr", "fr").lang == "en"
    assert COMMANDS.parse("!sortie assigner 3 @a:b.fr", "en").lang == "fr"
    assert COMMANDS.parse("!note x", "en").lang == "en"  # same name in both: the default
    assert COMMANDS.parse("!remarque x", "en").lang == "fr"


def test_rest_argument_keeps_spaces_and_text():
    parsed = COMMANDS.parse("!note  IDEL  pas encore <b>trouvée</b> ", "fr")
    assert parsed.args == {"text": "IDEL  pas encore <b>trouvée</b>"}


@pytest.mark.parametrize(("body", "key", "fragment"), [
    ("!sortie assigner", "cmd.missing_arg", "Il manque &lt;item&gt;"),
    ("!sortie assigner huit @a:b.fr", "cmd.bad_arg", "n'est pas un nombre"),
    ("!sortie assigner 8 ide", "cmd.bad_arg", "identifiant Matrix"),
    ("!sortie assigner 8 @a:b.fr en trop", "cmd.extra_args", "Trop d'arguments"),
    ("!sortei", "cmd.unknown", "Vouliez-vous dire <code>!sortie</code>"),
])
def test_bad_input_gets_the_usage_line(body, key, fragment):
    parsed = COMMANDS.parse(body, "fr")
    assert isinstance(parsed, Rejection) and parsed.key == key
    text = parsed.text()
    assert fragment in text
    if key != "cmd.unknown":
        assert "Usage : <code>!sortie assigner &lt;item&gt; &lt;qui&gt;</code>" in text


def test_permissions_filter_help():
    nurse = Caller("@ide:h.fr", "!r:h.fr", power_level=0)
    doctor = Caller("@mh:h.fr", "!r:h.fr", power_level=50)
    assert COMMANDS.allowed(nurse) == [SHOW, NOTE]
    assert COMMANDS.allowed(doctor) == [ASSIGN, SHOW, NOTE]
    assert ANYONE.allows(nurse)


def test_names_cannot_clash():
    with pytest.raises(ValueError, match="declared twice"):
        CommandSet([SHOW, described("sortie", "exit", "test.help.show", _noop)])


def test_labels_come_from_the_catalogue_and_parameters_are_ascii_english():
    assert ASSIGN.usage("en") == "!discharge assign <item> <who>"
    assert NOTE.usage("fr") == "!note <texte…>"
    assert SHOW.help("en") == "shows the list"
    with pytest.raises(ValueError, match="ASCII"):
        Arg("identité", "label.text")
    with pytest.raises(ValueError, match="ASCII"):
        Arg("two words", "label.text")


def test_the_builtins_help_is_the_catalogues():
    help_, ping = builtin_commands()
    assert help_.help("fr") == "liste les commandes que vous pouvez utiliser ici"
    assert help_.help("en") == "lists the commands you may use here"
    assert ping.usage("fr") == "!ping [texte…]" and ping.usage("en") == "!ping [text…]"
    assert ping.help("fr") == "vérifie que le bot répond (chiffrement compris)"


def test_notice_escapes_values_and_sets_mentions():
    markup = format_html("<b>{who}</b> a écrit {what}", who="Dr <X>", what='"<script>"')
    content = notice(markup, mentions=["@b:h", "@a:h", "@a:h"], reply_to="$e")
    assert content["formatted_body"] == "<b>Dr &lt;X&gt;</b> a écrit &quot;&lt;script&gt;&quot;"
    assert content["body"] == 'Dr <X> a écrit "<script>"'
    assert content["m.mentions"] == {"user_ids": ["@a:h", "@b:h"]}
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": "$e"}}
    assert to_plain("<ul><li>un</li><li>deux</li></ul>") == "• un\n• deux"

"""The runtime's user-facing texts, French first. Bots keep their own catalogues the same way.

Texts are HTML templates (see notice.format_html): the values put into them are escaped.
"""

from __future__ import annotations

from typing import Literal

from bots.runtime.notice import Html, format_html

Lang = Literal["fr", "en"]
Catalogue = dict[str, dict[Lang, str]]

CATALOGUE: Catalogue = {
    "cmd.unknown": {
        "fr": "Commande inconnue : <code>{name}</code>. {suggestion_text}"
              "Tapez <code>!aide</code> pour la liste des commandes.",
        "en": "Unknown command: <code>{name}</code>. {suggestion_text}"
              "Type <code>!help</code> for the list of commands.",
    },
    "cmd.suggestion": {
        "fr": "Vouliez-vous dire <code>{suggestion}</code> ? ",
        "en": "Did you mean <code>{suggestion}</code>? ",
    },
    "cmd.missing_arg": {
        "fr": "Il manque {arg}. Usage : <code>{usage}</code>",
        "en": "Missing {arg}. Usage: <code>{usage}</code>",
    },
    "cmd.bad_arg": {
        "fr": "{arg} : {why}. Usage : <code>{usage}</code>",
        "en": "{arg}: {why}. Usage: <code>{usage}</code>",
    },
    "cmd.extra_args": {
        "fr": "Trop d'arguments (« {extra} »). Usage : <code>{usage}</code>",
        "en": "Too many arguments (\u201c{extra}\u201d). Usage: <code>{usage}</code>",
    },
    "cmd.forbidden": {
        "fr": "Vous n'avez pas le droit d'utiliser <code>{usage}</code> dans ce salon.{needed}",
        "en": "You are not allowed to use <code>{usage}</code> in this room.{needed}",
    },
    "perm.roles": {
        "fr": "Réservé à : {roles} (votre rôle : {role}).",
        "en": "Reserved for: {roles} (your role: {role}).",
    },
    "perm.no_role": {"fr": "aucun", "en": "none"},
    "perm.room_kinds": {
        "fr": "Cela se fait dans un salon {kinds}.",
        "en": "It is done in a {kinds} room.",
    },
    "perm.kind.patient": {"fr": "patient", "en": "patient"},
    "perm.kind.coordination": {"fr": "de coordination", "en": "coordination"},
    "cmd.failed": {
        "fr": "La commande n'a pas pu aboutir à cause d'une erreur interne. "
              "Elle n'a rien modifié ; réessayez ou prévenez l'administrateur (référence {ref}).",
        "en": "The command failed with an internal error and changed nothing; "
              "try again or tell the administrator (reference {ref}).",
    },
    "cmd.untrusted_device": {
        "fr": "Commande refusée : elle vient d'une session ({device}) que son propriétaire n'a pas "
              "vérifiée (non signée par son identité). Vérifiez cette session dans Element.",
        "en": "Command refused: it comes from a session ({device}) its owner has not verified "
              "(not signed by their identity). Verify this session in Element.",
    },
    "cmd.in_clear": {
        "fr": "Commande refusée : elle a été envoyée sans chiffrement dans un salon chiffré, donc "
              "sans session vérifiable (un jeton d'accès volé suffirait à l'envoyer). Je ne "
              "réponds à aucune commande non chiffrée ici et ne le redirai pas. Envoyez vos "
              "commandes depuis une session vérifiée (Element le fait par défaut).",
        "en": "Command refused: it was sent unencrypted in an encrypted room, so from no session "
              "that can be verified (a stolen access token would be enough to send it). I answer "
              "no unencrypted command here and will not say so again. Send your commands from a "
              "verified session (Element does by default).",
    },
    "cmd.identity_changed": {
        "fr": "Refusé : l'identité de chiffrement de {user} a changé et n'a pas encore été "
              "confirmée par un coordinateur (<code>!confiance confirmer {user}</code>).",
        "en": "Refused: the encryption identity of {user} has changed and no coordinator has "
              "confirmed it yet (<code>!trust confirm {user}</code>).",
    },
    "trust.identity_changed": {
        "fr": "⚠️ L'identité de chiffrement de {user} a changé (réinitialisée avec son mot de "
              "passe, ou par l'administrateur du serveur). Ses sessions ne reçoivent plus les "
              "clés de ce salon et ses commandes sont refusées. Après avoir vérifié auprès de "
              "cette personne, par un autre moyen, qu'elle est à l'origine du changement, un "
              "coordinateur le confirme avec <code>!confiance confirmer {user}</code>.",
        "en": "⚠️ The encryption identity of {user} has changed (reset with their password, or "
              "by the server's administrator). Their sessions no longer get this room's keys and "
              "their commands are refused. Once someone has checked with them, by other means, "
              "that they made the change, a coordinator confirms it with "
              "<code>!trust confirm {user}</code>.",
    },
    "trust.confirmed": {
        "fr": "Nouvelle identité de {user} confirmée : ses sessions vérifiées sont de nouveau "
              "reconnues.",
        "en": "New identity of {user} confirmed: their verified sessions are trusted again.",
    },
    "trust.nothing_to_confirm": {
        "fr": "Aucun changement d'identité de {user} n'attend de confirmation.",
        "en": "No identity change of {user} is waiting for confirmation.",
    },
    "trust.help.confirm": {
        "fr": "confirme la nouvelle identité de chiffrement d'un membre, après avoir vérifié "
              "auprès de lui qu'il l'a réinitialisée",
        "en": "confirms a member's new encryption identity, after checking with them that they "
              "reset it",
    },
    "room.not_encrypted": {
        "fr": "Ce salon n'est pas chiffré de bout en bout : je n'y envoie aucun message. "
              "Un administrateur du salon doit activer le chiffrement.",
        "en": "This room is not end-to-end encrypted: I send no messages here. "
              "A room administrator must turn encryption on.",
    },
    "arg.not_int": {"fr": "« {value} » n'est pas un nombre", "en": "\u201c{value}\u201d is not a number"},
    "arg.not_user": {
        "fr": "« {value} » n'est pas un identifiant Matrix (forme @nom:serveur)",
        "en": "\u201c{value}\u201d is not a Matrix ID (form @name:server)",
    },
    "ping.pong": {"fr": "pong {text}", "en": "pong {text}"},
    "ping.help": {"fr": "vérifie que le bot répond (chiffrement compris)",
                  "en": "checks that the bot answers (encryption included)"},
    "event.undecryptable": {
        "fr": "Je n'ai pas pu déchiffrer un message de {sender} : sa clé ne m'est jamais parvenue. "
              "S'il s'agissait d'une commande, renvoyez-la depuis une session vérifiée.",
        "en": "I could not decrypt a message from {sender}: its key never reached me. "
              "If it was a command, send it again from a verified session.",
    },
    "help.help": {"fr": "liste les commandes que vous pouvez utiliser ici",
                  "en": "lists the commands you may use here"},
    "help.title": {"fr": "Commandes disponibles ici :", "en": "Commands available here:"},
    "help.none": {"fr": "Aucune commande ne vous est ouverte dans ce salon.",
                  "en": "No command is open to you in this room."},
    "help.detail": {"fr": "<code>{usage}</code> — {help}", "en": "<code>{usage}</code> — {help}"},
}


def words(prefix: str, **forms: tuple[str, str]) -> Catalogue:
    """Single words, (French, English) each: the labels of commands' arguments in their usage
    line (`<membre>` / `<member>`), apart from the handlers' parameters (commands.Arg)."""
    return {f"{prefix}.{key}": {"fr": fr, "en": en} for key, (fr, en) in forms.items()}


CATALOGUE.update(words("label", member=("membre", "member"), text=("texte", "text"),
                       date=("date", "date"), details=("details", "details"),
                       level=("niveau", "level"), reason=("raison", "reason"),
                       values=("valeurs", "values")))


class Refusal(ValueError):
    """Something a user asked that cannot be done, as a text key and its values: the caller
    answers with `text(lang)`. Bots derive their own (ArgError, IdentityError, …)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values

    def text(self, lang: Lang) -> Html:
        return t(lang, self.key, **self.values)


def register(catalogue: Catalogue) -> None:
    """A bot's own catalogue, handed in by the bot (`Bot.texts`) and merged by the runtime that
    runs it. Keys are namespaced by convention (`patient.…`); a key declared twice with other
    texts is a bug, so it fails loudly."""
    for key, forms in catalogue.items():
        if key in CATALOGUE and CATALOGUE[key] != forms:
            raise ValueError(f"text {key!r} is declared twice")
        if set(forms) != {"fr", "en"}:
            raise ValueError(f"text {key!r} needs both fr and en")
        CATALOGUE[key] = forms


def accepted(accept_language: str, default: str) -> Lang:
    """The first of French or English an HTTP `Accept-Language` header names, else `default`
    (the API's answers, the dashboard's pages)."""
    for part in accept_language.lower().split(","):
        code = part.split(";")[0].strip()[:2]
        if code in ("fr", "en"):
            return code  # type: ignore[return-value]
    return default  # type: ignore[return-value]


def t(lang: Lang, key: str, /, **values: object) -> Html:
    return format_html(CATALOGUE[key][lang], **values)

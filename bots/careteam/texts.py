"""The care-team bot's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.common.identity import FIELD_LABELS, IdentityError
from bots.common.identity import TEXTS as IDENTITY_TEXTS
from bots.runtime.i18n import Lang, t, words
from bots.runtime.notice import Html

TEXTS: dict[str, dict[Lang, str]] = {
    "patient.open.help": {
        "fr": "ouvre le salon d'un patient : <code>!patient ouvrir NOM Prénom(s) JJ/MM/AAAA "
              "F|M [INS] [service=…] [admission=JJ/MM/AAAA] [lieu=code INSEE] "
              "[@membre:serveur:RÔLE …]</code> (guillemets pour un nom en plusieurs mots : "
              "<code>\"DE LA TOUR\"</code>)",
        "en": "opens a patient's room: <code>!patient open SURNAME Given-name(s) DD/MM/YYYY "
              "F|M [INS] [ward=…] [admission=DD/MM/YYYY] [place=INSEE code] "
              "[@member:server:ROLE …]</code> (quotes for a multi-word name: "
              "<code>\"DE LA TOUR\"</code>)",
    },
    "patient.identity.help": {"fr": "affiche à nouveau l'identité du patient",
                              "en": "shows the patient's identity again"},
    "patient.close.help": {"fr": "clôt l'épisode : le salon reste consultable, en lecture seule",
                           "en": "closes the episode: the room stays, read-only"},
    "team.add.help": {"fr": "ajoute un membre à l'équipe avec son rôle (invitation et droits)",
                      "en": "adds a team member with their role (invite and power level)"},
    "team.remove.help": {"fr": "retire un membre : il quitte le salon et ne reçoit plus les clés",
                         "en": "removes a member: they leave the room and get no more keys"},
    "team.list.help": {"fr": "l'équipe, les rôles et qui a rejoint",
                       "en": "the team, roles and who has joined"},
    "team.roles.help": {"fr": "les rôles possibles et ce qu'ils permettent",
                        "en": "the possible roles and what they allow"},
    **words("patient.label", identity=("identité", "identity")),
    **words("team.label", role=("role", "role")),
    "open.bad_member": {
        "fr": "« {value} » : un membre s'écrit <code>@nom:serveur:RÔLE</code> "
              "(rôles : {roles}).",
        "en": "\u201c{value}\u201d: a member is written <code>@name:server:ROLE</code> "
              "(roles: {roles}).",
    },
    "open.bad_option": {
        "fr": "Option inconnue « {value} » (options : service=, admission=, lieu=).",
        "en": "Unknown option \u201c{value}\u201d (options: ward=, admission=, place=).",
    },
    "open.bad_word": {
        "fr": "Je ne comprends pas « {value} » après le sexe : attendu l'INS, une option "
              "(service=…) ou un membre (@nom:serveur:RÔLE).",
        "en": "I do not understand \u201c{value}\u201d after the sex: expected the INS, an option "
              "(ward=…) or a member (@name:server:ROLE).",
    },
    "open.bad_ward": {
        "fr": "Le service doit faire 1 à 100 caractères.",
        "en": "The ward must be 1 to 100 characters long.",
    },
    "open.identity_error": {
        "fr": "Rien n'a été ouvert. {why}", "en": "Nothing was opened. {why}",
    },
    "patient.opened": {
        "fr": "Salon patient ouvert : <a href=\"{link}\">{name}</a>. Équipe invitée : {team}. "
              "L'identité du patient est dans son salon (chiffré de bout en bout).",
        "en": "Patient room opened: <a href=\"{link}\">{name}</a>. Team invited: {team}. "
              "The patient's identity is in their room (end-to-end encrypted).",
    },
    "patient.exists": {
        "fr": "Ce patient a déjà un salon : <a href=\"{link}\">{name}</a> (rien de nouveau n'a "
              "été créé).",
        "en": "This patient already has a room: <a href=\"{link}\">{name}</a> (nothing new was "
              "created).",
    },
    "patient.in_progress": {
        "fr": "Le salon de ce patient est en cours d'ouverture ({ref}).",
        "en": "This patient's room is being opened ({ref}).",
    },
    "patient.conflict": {
        "fr": "Un patient aux mêmes traits mais avec un autre INS a déjà un salon ({ref}). "
              "Vérifiez l'identité (identitovigilance) : rien n'a été ouvert.",
        "en": "A patient with the same traits but another INS already has a room ({ref}). "
              "Check the identity: nothing was opened.",
    },
    "patient.failed": {
        "fr": "Le salon n'a pas pu être créé : {why}. Rien n'a été créé ; corrigez et réessayez.",
        "en": "The room could not be created: {why}. Nothing was created; correct and retry.",
    },
    # The reason stayed with the other bots process, which gave the request up (its log says).
    "patient.failed_elsewhere": {
        "fr": "refusé par le serveur Matrix ou un compte inconnu (raison dans le journal des bots)",
        "en": "refused by the Matrix server or an unknown account (reason in the bots' log)",
    },
    "patient.unknown_users": {
        "fr": "compte(s) inconnu(s) sur le serveur : {users}",
        "en": "unknown account(s) on the server: {users}",
    },
    "patient.server_not_allowed": {
        "fr": "serveur non autorisé pour {users}",
        "en": "server not allowed for {users}",
    },
    "patient.card": {
        "fr": "<p><b>Identité du patient</b> — dossier {ref}</p><ul>"
              "<li>Nom de naissance : <b>{family}</b></li><li>Prénom(s) : {given}</li>"
              "<li>Date de naissance : {birth}</li><li>Sexe : {sex}</li><li>INS : {ins}</li>"
              "<li>Lieu de naissance : {place}</li><li>Service : {ward}</li>"
              "<li>Admission : {admission}</li><li>Épisode : {status}</li></ul>",
        "en": "<p><b>Patient identity</b> — file {ref}</p><ul>"
              "<li>Birth surname: <b>{family}</b></li><li>Given name(s): {given}</li>"
              "<li>Birth date: {birth}</li><li>Sex: {sex}</li><li>INS: {ins}</li>"
              "<li>Birth place: {place}</li><li>Ward: {ward}</li>"
              "<li>Admission: {admission}</li><li>Episode: {status}</li></ul>",
    },
    "patient.unknown": {"fr": "non renseigné", "en": "not given"},
    "patient.status.open": {"fr": "en cours", "en": "open"},
    "patient.status.closing": {"fr": "clôture en cours", "en": "closing"},
    "patient.status.closed": {"fr": "clos (lecture seule)", "en": "closed (read-only)"},
    "patient.status.expiring": {"fr": "archivage", "en": "expiring"},
    "patient.status.expired": {"fr": "archivé", "en": "expired"},
    "patient.status.discharged": {"fr": "patient sorti", "en": "discharged"},
    "patient.sex.F": {"fr": "féminin", "en": "female"},
    "patient.sex.M": {"fr": "masculin", "en": "male"},
    "patient.sex.I": {"fr": "indéterminé", "en": "undetermined"},
    "patient.identity_updated": {
        "fr": "<p>🪪 L'hôpital a mis à jour l'identité du patient.</p>{card}",
        "en": "<p>🪪 The hospital updated the patient's identity.</p>{card}",
    },
    "patient.welcome": {
        "fr": "<p>Bienvenue {user} ({role}). Les messages échangés avant votre arrivée vous sont "
              "illisibles (chiffrement) : voici l'essentiel du dossier.</p>{card}{team}",
        "en": "<p>Welcome {user} ({role}). Messages sent before you joined cannot be read by you "
              "(encryption): here is what you need.</p>{card}{team}",
    },
    "patient.no_role": {"fr": "sans rôle", "en": "no role"},
    "patient.no_identity_role": {
        "fr": "<p>Votre rôle ne donne pas accès à l'identité du patient.</p>",
        "en": "<p>Your role does not give access to the patient's identity.</p>",
    },
    "patient.outsider_joined": {
        "fr": "{user} a rejoint le salon sans faire partie de l'équipe : ni l'identité du "
              "patient ni les clés des messages du bot ne lui sont transmises. Un coordinateur "
              "peut l'ajouter (<code>!equipe ajouter {user} RÔLE</code>) ou l'exclure du salon.",
        "en": "{user} joined the room without being in the care team: they get neither the "
              "patient's identity nor the keys of the bot's messages. A coordinator can add them "
              "(<code>!team add {user} ROLE</code>) or remove them from the room.",
    },
    "patient.not_here": {
        "fr": "Cette commande s'utilise dans le salon d'un patient.",
        "en": "This command is used in a patient's room.",
    },
    "patient.closed": {
        "fr": "Épisode clos par {user}. Le salon est conservé en lecture seule.",
        "en": "Episode closed by {user}. The room is kept read-only.",
    },
    "patient.already_closed": {
        "fr": "L'épisode est déjà clos.", "en": "The episode is already closed.",
    },
    "team.title": {"fr": "<p><b>Équipe</b></p>", "en": "<p><b>Team</b></p>"},
    "team.line": {"fr": "{user} — {role} ({state})", "en": "{user} — {role} ({state})"},
    "team.state.pending": {"fr": "invitation en cours", "en": "being invited"},
    "team.state.invited": {"fr": "invité(e)", "en": "invited"},
    "team.state.joined": {"fr": "présent(e)", "en": "joined"},
    "team.state.left": {"fr": "parti(e)", "en": "left"},
    "team.added": {
        "fr": "{user} ajouté(e) à l'équipe : {role}.",
        "en": "{user} added to the team: {role}.",
    },
    "team.role_changed": {
        "fr": "Rôle de {user} changé : {role}.", "en": "{user}'s role changed: {role}.",
    },
    "team.removed": {
        "fr": "{user} retiré(e) de l'équipe. Ses appareils ne reçoivent plus les clés de ce "
              "salon.",
        "en": "{user} removed from the team. Their devices no longer receive this room's keys.",
    },
    "team.unchanged": {
        "fr": "{user} est déjà dans l'équipe : {role}.",
        "en": "{user} is already in the team: {role}.",
    },
    "team.not_member": {
        "fr": "{user} ne fait pas partie de l'équipe.", "en": "{user} is not in the team.",
    },
    "team.not_self": {
        "fr": "Le bot ne peut pas se retirer lui-même.", "en": "The bot cannot remove itself.",
    },
    "team.failed": {
        "fr": "{user} n'a pas pu être {action} : {why}.",
        "en": "{user} could not be {action}: {why}.",
    },
    "team.action.add": {"fr": "ajouté(e)", "en": "added"},
    "team.action.remove": {"fr": "retiré(e)", "en": "removed"},
    "team.unknown_role": {
        "fr": "« {value} » n'est pas un rôle connu (rôles : {roles})",
        "en": "\u201c{value}\u201d is not a known role (roles: {roles})",
    },
    "team.roles": {
        "fr": "<p><b>Rôles</b> (code à taper, puis ce qu'il permet)</p><ul>{items}</ul>",
        "en": "<p><b>Roles</b> (code to type, then what it allows)</p><ul>{items}</ul>",
    },
    "team.room_closed": {
        "fr": "L'épisode est clos : l'équipe ne change plus.",
        "en": "The episode is closed: the team no longer changes.",
    },
    "coordination.welcome": {
        "fr": "Bienvenue {user} ({role}) dans le salon de coordination. Ouvrez le salon d'un "
              "patient avec <code>!patient ouvrir</code> ; <code>!aide</code> liste les commandes.",
        "en": "Welcome {user} ({role}) to the coordination room. Open a patient's room with "
              "<code>!patient open</code>; <code>!help</code> lists the commands.",
    },
    "identity.mixed_scripts": {
        "fr": "Refusé pour {field} : des lettres de plusieurs alphabets y sont mêlées (une lettre "
              "cyrillique dans un nom latin, par exemple) ; tapez-le dans un seul alphabet.",
        "en": "Refused for {field}: it mixes letters of several alphabets (a Cyrillic letter in "
              "a Latin name, say); type it in one alphabet.",
    },
    # The API's refusals of an identity: which field and why, never what was sent (an answer
    # may end up in a hospital system's logs).
    "api.identity.bad_name": {
        "fr": "Refusé pour {field} : lettres, espaces, tirets et apostrophes seulement, "
              "100 caractères au plus.",
        "en": "Refused for {field}: letters, spaces, hyphens and apostrophes only, at most 100 "
              "characters.",
    },
    "api.identity.bad_date": {
        "fr": "La date de naissance n'est pas une date valide (AAAA-MM-JJ).",
        "en": "The birth date is not a valid date (YYYY-MM-DD).",
    },
    "api.identity.date_range": {
        "fr": "La date de naissance est impossible (dans le futur ou avant 1880).",
        "en": "The birth date is impossible (in the future or before 1880).",
    },
    "api.identity.bad_sex": {
        "fr": "Sexe inconnu : F, M ou I.", "en": "Unknown sex: F, M or I.",
    },
    "api.identity.bad_place": {
        "fr": "Lieu de naissance : code INSEE de 5 caractères attendu (ex. 75056, 2A004, 99xxx à "
              "l'étranger).",
        "en": "Birth place: a 5-character INSEE code is expected (e.g. 75056, 2A004, 99xxx "
              "abroad).",
    },
    "api.ins.length": {
        "fr": "INS invalide : 15 caractères attendus (13 + clé).",
        "en": "Invalid INS: 15 characters expected (13 + key).",
    },
    "api.ins.chars": {
        "fr": "INS invalide : il commence par 1, 2, 3, 4, 7 ou 8 et ne contient que des chiffres "
              "(2A/2B pour la Corse).",
        "en": "Invalid INS: it starts with 1, 2, 3, 4, 7 or 8 and holds digits only (2A/2B for "
              "Corsica).",
    },
    "api.ins.key": {
        "fr": "INS invalide : la clé de contrôle ne correspond pas. Vérifiez le numéro sur la "
              "carte Vitale ou l'attestation.",
        "en": "Invalid INS: the control key does not match. Check the number on the Vitale card "
              "or certificate.",
    },
}

# What the bot hands the runtime (Bot.texts): its texts and the identity checks'.
CATALOGUES = (TEXTS, IDENTITY_TEXTS)


def identity_error(lang: Lang, exc: IdentityError) -> Html:
    """Why an identity was refused, with the field named in the reader's language."""
    values = dict(exc.values)
    if "field" in values:
        values["field"] = FIELD_LABELS.get(values["field"], {}).get(lang, values["field"])
    return t(lang, exc.key, **values)


# The identity field each refusal is about, when its values do not say.
_FIELD_OF = {"identity.bad_date": "birth_date", "identity.date_range": "birth_date",
             "identity.bad_sex": "sex", "identity.bad_place": "birth_place"}


def identity_refusal(lang: Lang, exc: IdentityError) -> tuple[str, Html]:
    """For the API: the field refused and why, without the value sent (texts that would repeat
    it have an `api.` twin)."""
    field = _FIELD_OF.get(exc.key) or ("ins" if exc.key.startswith("ins.")
                                       else str(exc.values.get("field", "")))
    key = f"api.{exc.key}" if f"api.{exc.key}" in TEXTS else exc.key
    values = {k: v for k, v in exc.values.items() if k == "field"}
    return field, identity_error(lang, IdentityError(key, **values))

"""The bridge's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.runtime.i18n import Lang, words

TEXTS: dict[str, dict[Lang, str]] = {
    "mss.mail": {
        "fr": "<p>✉️ <b>Courrier MSSanté</b> de {name} &lt;{address}&gt;, {date}<br>"
              "Objet : <b>{subject}</b></p>{body}{files}<p><i>Pour répondre : répondez à ce "
              "message par <code>!mss repondre votre texte</code>.</i></p>",
        "en": "<p>✉️ <b>MSSanté mail</b> from {name} &lt;{address}&gt;, {date}<br>"
              "Subject: <b>{subject}</b></p>{body}{files}<p><i>To answer: reply to this "
              "message with <code>!mail reply your text</code>.</i></p>",
    },
    "mss.files": {"fr": "<p>Pièces jointes (ci-dessous) :</p><ul>{files}</ul>",
                  "en": "<p>Attachments (below):</p><ul>{files}</ul>"},
    "mss.file": {"fr": "<li>{title} ({name})</li>", "en": "<li>{title} ({name})</li>"},
    "mss.triage": {
        "fr": "📥 Courrier à classer n°{id} : de {name} &lt;{address}&gt;, objet « {subject} », "
              "reçu le {date} ; aucun patient reconnu. Pour le ranger : <code>!mss router {id} "
              "P-AAAA-NNNNN</code>.",
        "en": "📥 Mail to file #{id}: from {name} &lt;{address}&gt;, subject \u201c{subject}"
              "\u201d, received {date}; no patient recognised. To file it: <code>!mail route "
              "{id} P-YYYY-NNNNN</code>.",
    },
    "mss.quarantined": {
        "fr": "⚠️ Courrier mis en quarantaine n°{id} : {why}. De {sender}, objet « {subject} ». "
              "Il est gardé dans le dossier « {folder} » de la boîte aux lettres.",
        "en": "⚠️ Mail quarantined #{id}: {why}. From {sender}, subject \u201c{subject}\u201d. "
              "It is kept in the mailbox folder \u201c{folder}\u201d.",
    },
    "mss.trust_stale": {
        "fr": "⚠️ La liste blanche MSSanté n'a pas pu être mise à jour depuis plus de {hours} h : "
              "le pont garde la dernière liste valide. Prévenez l'exploitation (voir les "
              "journaux du pont).",
        "en": "⚠️ The MSSanté trust list could not be refreshed for more than {hours} h: the "
              "bridge keeps the last valid one. Tell the operators (see the bridge's logs).",
    },
    "mss.why.untrusted": {"fr": "l'expéditeur n'est pas dans l'espace de confiance MSSanté",
                          "en": "the sender is not in the MSSanté trust space"},
    "mss.why.broken_mime": {"fr": "message mal formé", "en": "malformed message"},
    "mss.why.charset": {"fr": "jeu de caractères illisible", "en": "unreadable character set"},
    "mss.why.oversize": {"fr": "message trop gros", "en": "message too big"},
    "mss.why.zip_bomb": {"fr": "archive suspecte (bombe de décompression)",
                         "en": "suspicious archive (decompression bomb)"},
    "mss.why.bad_zip": {"fr": "archive illisible", "en": "unreadable archive"},
    "mss.why.bad_xdm": {"fr": "paquet IHE XDM incomplet ou illisible",
                        "en": "incomplete or unreadable IHE XDM package"},
    "mss.why.oversize_headers": {"fr": "en-têtes trop longs", "en": "headers too long"},
    "mss.why.several_xdm": {"fr": "plusieurs paquets IHE XDM (un seul patient par message)",
                            "en": "several IHE XDM packages (one patient per message)"},
    "mss.why.internal_error": {"fr": "erreur du pont en le lisant (signalée dans ses journaux)",
                               "en": "the bridge failed reading it (see its logs)"},
    "mss.unknown_sender": {"fr": "(inconnu)", "en": "(unknown)"},
    "mss.routed": {"fr": "Courrier n°{id} rangé dans {ref}.", "en": "Mail #{id} filed in {ref}."},
    "mss.no_triage": {"fr": "Pas de courrier à classer n°{id}.",
                      "en": "No mail to file with #{id}."},
    "mss.no_room": {"fr": "Pas de salon patient ouvert pour {ref}.",
                    "en": "No open patient room for {ref}."},
    "mss.bad_address": {"fr": "« {value} » n'est pas une adresse : <code>!mss envoyer "
                              "adresse@domaine objet</code>, puis le texte à la ligne.",
                        "en": "\u201c{value}\u201d is not an address: <code>!mail send "
                              "address@domain subject</code>, then the text on the next line."},
    "mss.reply_to_what": {"fr": "Répondez (réponse Matrix) au message d'un courrier reçu pour y "
                                "répondre par messagerie sécurisée.",
                          "en": "Reply (Matrix reply) to the message of a received mail to "
                                "answer it by secure mail."},
    "mss.not_patient_room": {"fr": "Les courriers partent du salon d'un patient.",
                             "en": "Mail is sent from a patient's room."},
    "mss.empty": {"fr": "Le courrier est vide : écrivez le texte sous la commande.",
                  "en": "The mail is empty: write the text under the command."},
    "mss.untrusted": {
        "fr": "Non envoyé : {addresses} hors de l'espace de confiance MSSanté (seules les "
              "messageries de santé y sont).",
        "en": "Not sent: {addresses} outside the MSSanté trust space (only health mailboxes are "
              "in it).",
    },
    "mss.queued": {"fr": "Courrier pour {to} en cours d'envoi (📤 une fois accepté par le "
                         "serveur).",
                   "en": "Mail to {to} being sent (📤 once the server accepted it)."},
    "mss.refused": {"fr": "⚠️ Courrier refusé définitivement par le serveur : {why}",
                    "en": "⚠️ Mail refused for good by the server: {why}"},
    "mss.failed": {"fr": "⚠️ Courrier non envoyé : le pont n'a pas pu le préparer ({why}, "
                         "détails dans ses journaux).",
                   "en": "⚠️ Mail not sent: the bridge could not prepare it ({why}, details in "
                         "its logs)."},
    "mss.report.delivery_failed": {"fr": "⚠️ Le courrier n'a pas pu être remis à son "
                                         "destinataire (avis de non-remise).",
                                   "en": "⚠️ The mail could not be delivered (delivery "
                                         "status notification)."},
    "mss.report.read_failed": {"fr": "⚠️ Le destinataire n'a pas pu intégrer le courrier "
                                     "(accusé de lecture en erreur).",
                               "en": "⚠️ The recipient could not integrate the mail (read "
                                     "receipt with an error)."},
    "mss.help.send": {"fr": "envoie un courrier MSSanté : [xdm] adresse, objet, puis le texte "
                            "à la ligne ; dans un fil, avec ses fichiers",
                      "en": "sends an MSSanté mail: [xdm] address, subject, then the text on "
                            "the next line; in a thread, with its files"},
    "mss.help.reply": {"fr": "répond au courrier reçu : [xdm] texte, en réponse Matrix à son "
                             "message ou dans son fil (avec les fichiers du fil)",
                       "en": "answers the received mail: [xdm] text, as a Matrix reply to its "
                             "message or in its thread (with the thread's files)"},
    "mss.xdm_needs": {
        "fr": "Un envoi IHE XDM demande des fichiers (envoyez la commande dans le fil où ils sont, "
              "ou en réponse au fichier) et l'INS du patient dans son identité.",
        "en": "An IHE XDM mail needs files (send the command in their thread, or as a reply to "
              "the file) and the patient's INS in their identity.",
    },
    "mss.login.bad_id": {
        "fr": "« {value} » n'est pas un identifiant national de professionnel (RPPS ou ADELI "
              "préfixé, ex. 899700012345) : <code>!mss connexion identifiant</code>.",
        "en": "\u201c{value}\u201d is not a national professional identifier (prefixed RPPS or "
              "ADELI, e.g. 899700012345): <code>!mail login identifier</code>.",
    },
    "mss.login.asked": {
        "fr": "🔐 Demande de connexion envoyée à l'application e-CPS de {id}. Validez-la si elle "
              "affiche le code <b>{code}</b> (avant {until}).",
        "en": "🔐 Login request sent to the e-CPS app of {id}. Approve it if it shows the code "
              "<b>{code}</b> (before {until}).",
    },
    "mss.login.done": {
        "fr": "✅ Boîte {mailbox} connectée avec Pro Santé Connect ({id}) ; la connexion est "
              "renouvelée automatiquement.",
        "en": "✅ Mailbox {mailbox} logged in with Pro Santé Connect ({id}); the login is renewed "
              "automatically.",
    },
    "mss.login.denied": {"fr": "❌ Connexion refusée sur l'application e-CPS.",
                         "en": "❌ Login refused on the e-CPS app."},
    "mss.login.expired": {"fr": "⌛ Connexion non validée à temps : relancez "
                                "<code>!mss connexion</code>.",
                          "en": "⌛ Login not approved in time: run <code>!mail login</code> "
                                "again."},
    "mss.login.refused": {"fr": "❌ Pro Santé Connect refuse la connexion ({code}).",
                          "en": "❌ Pro Santé Connect refuses the login ({code})."},
    "mss.login.unreachable": {"fr": "Pro Santé Connect ne répond pas : réessayez dans quelques "
                                    "minutes.",
                              "en": "Pro Santé Connect does not answer: try again in a few "
                                    "minutes."},
    "mss.login.needed": {
        "fr": "🔐 La boîte {mailbox} doit être reconnectée avec Pro Santé Connect : les courriers "
              "attendent sur le serveur et les envois restent en file. Un professionnel habilité "
              "lance <code>!mss connexion identifiant-national</code> et valide sur son "
              "application e-CPS.",
        "en": "🔐 Mailbox {mailbox} must log in again with Pro Santé Connect: mail waits on the "
              "server and outgoing mail stays queued. An authorised professional runs "
              "<code>!mail login national-identifier</code> and approves on their e-CPS app.",
    },
    "mss.help.connect": {"fr": "connecte la boîte aux lettres avec Pro Santé Connect (validation "
                               "sur l'application e-CPS)",
                         "en": "logs the mailbox in with Pro Santé Connect (approved on the e-CPS "
                               "app)"},
    "mss.status": {
        "fr": "📮 Boîte {mailbox} : {login}<br>En file d'envoi : {queued} (dont {retrying} en "
              "nouvel essai) · à classer : {triage} · en quarantaine : {quarantined} (7 derniers "
              "jours).",
        "en": "📮 Mailbox {mailbox}: {login}<br>Waiting to be sent: {queued} ({retrying} being "
              "retried) · to file: {triage} · quarantined: {quarantined} (last 7 days).",
    },
    "mss.state.certificate": {"fr": "connectée par son certificat (BAL applicative).",
                              "en": "logged in with its certificate (applicative mailbox)."},
    "mss.state.password": {"fr": "connectée par mot de passe.",
                           "en": "logged in with a password."},
    "mss.state.connected": {"fr": "connectée avec Pro Santé Connect ({id}).",
                            "en": "logged in with Pro Santé Connect ({id})."},
    "mss.state.pending": {"fr": "connexion en attente de validation sur l'application e-CPS de "
                                "{id} (jusqu'à {until}).",
                          "en": "login waiting for approval on the e-CPS app of {id} (until "
                                "{until})."},
    "mss.state.needed": {"fr": "<b>connexion requise</b> : <code>!mss connexion "
                               "identifiant-national</code>.",
                         "en": "<b>login needed</b>: <code>!mail login national-identifier"
                               "</code>."},
    "mss.help.status": {"fr": "montre la connexion de la boîte et ce qui attend (envois, "
                              "courriers à classer, quarantaine)",
                        "en": "shows the mailbox login and what waits (outgoing, mail to file, "
                              "quarantine)"},
    "mss.help.route": {"fr": "range un courrier à classer dans le salon d'un patient",
                       "en": "files a mail waiting for triage in a patient's room"},
    **words("mss.label", content=("contenu", "content"), number=("numero", "number"),
            ref=("ref", "ref"), identifier=("identifiant", "identifier")),
}

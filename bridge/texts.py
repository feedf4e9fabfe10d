"""The bridge's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.runtime.i18n import Lang, add_texts

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
    "mss.help.reply": {"fr": "répond au courrier reçu (en réponse Matrix à son message)",
                       "en": "answers the received mail (as a Matrix reply to its message)"},
    "mss.xdm_needs": {
        "fr": "Un envoi IHE XDM demande des fichiers (envoyez la commande dans le fil où ils sont, "
              "ou en réponse au fichier) et l'INS du patient dans son identité.",
        "en": "An IHE XDM mail needs files (send the command in their thread, or as a reply to "
              "the file) and the patient's INS in their identity.",
    },
    "mss.help.route": {"fr": "range un courrier à classer dans le salon d'un patient",
                       "en": "files a mail waiting for triage in a patient's room"},
}

add_texts(TEXTS)

"""The discharge bot's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.runtime.i18n import Lang, words

TEXTS: dict[str, dict[Lang, str]] = {
    "discharge.validation_cancelled": {
        "fr": "↩️ L'hôpital a annulé la sortie du {day} : la validation de la check-list de "
              "sortie est levée (les réponses et l'historique sont gardés), elle ne compte plus "
              "dans les indicateurs de sortie et les rappels de la lettre de liaison sont "
              "arrêtés. À la sortie réelle : <code>!sortie date</code>, puis <code>!sortie "
              "valider</code>.",
        "en": "↩️ The hospital cancelled the discharge of {day}: the discharge checklist is no "
              "longer validated (its answers and history are kept), it no longer counts in the "
              "discharge indicators and the discharge letter's reminders are stopped. At the "
              "actual discharge: <code>!discharge date</code>, then <code>!discharge "
              "validate</code>."},
    "checklist.title": {
        "fr": "<p><b>{title}</b> — sortie prévue le {discharge}{risk}</p>",
        "en": "<p><b>{title}</b> — planned discharge {discharge}{risk}</p>",
    },
    "checklist.risk": {"fr": " · risque de réhospitalisation <b>{level}</b>",
                       "en": " · readmission risk <b>{level}</b>"},
    "checklist.section": {"fr": "<p><b>{title}</b></p><ul>{items}</ul>",
                          "en": "<p><b>{title}</b></p><ul>{items}</ul>"},
    "checklist.line": {"fr": "<li>{mark} {id}. {label} — {state}</li>",
                       "en": "<li>{mark} {id}. {label} — {state}</li>"},
    "checklist.answered": {"fr": "{answer} ({by}, {at}){comment}",
                           "en": "{answer} ({by}, {at}){comment}"},
    "checklist.comment": {"fr": " : « {text} »", "en": ": \u201c{text}\u201d"},
    "checklist.todo": {"fr": "à faire ({roles}) · échéance {due}{assignee}",
                       "en": "to do ({roles}) · due {due}{assignee}"},
    "checklist.no_due": {"fr": "date d'admission inconnue", "en": "admission date unknown"},
    "checklist.assignee": {"fr": " · assigné à {user}", "en": " · assigned to {user}"},
    "checklist.late": {"fr": " · <b>en retard</b>", "en": " · <b>overdue</b>"},
    "checklist.answered_late": {
        "fr": " · ⏰ <b>renseigné en retard</b> (non rattrapable à la sortie : non conforme)",
        "en": " · ⏰ <b>answered late</b> (cannot be remedied at discharge: not compliant)",
    },
    "summary.late": {"fr": " (en retard)", "en": " (late)"},
    "summary.compliant": {"fr": "<li>Check-list complète et à l'heure : oui</li>",
                          "en": "<li>Checklist complete and on time: yes</li>"},
    "summary.not_compliant": {
        "fr": "<li>Check-list complète et à l'heure : non (item sans « Oui »/« NA », ou item non "
              "rattrapable renseigné en retard)</li>",
        "en": "<li>Checklist complete and on time: no (an item not \u201cYes\u201d/"
              "\u201cN/A\u201d, or one that cannot be remedied answered late)</li>",
    },
    "checklist.answer.oui": {"fr": "Oui", "en": "Yes"},
    "checklist.answer.non": {"fr": "Non", "en": "No"},
    "checklist.answer.na": {"fr": "NA", "en": "N/A"},
    "checklist.footer": {
        "fr": "<p>{done}/{total} items renseignés{blocking}. Répondre : <code>!sortie oui N</code>, "
              "<code>!sortie non N commentaire</code>, <code>!sortie na N</code>.</p>",
        "en": "<p>{done}/{total} items answered{blocking}. Answer: <code>!discharge yes N</code>, "
              "<code>!discharge no N comment</code>, <code>!discharge na N</code>.</p>",
    },
    "checklist.blocking": {"fr": " · bloquants en suspens : {items}",
                           "en": " · blocking items pending: {items}"},
    "checklist.validated": {
        "fr": "<p><b>Sortie validée</b> le {at}{override}.</p>",
        "en": "<p><b>Discharge validated</b> on {at}{override}.</p>",
    },
    "checklist.override": {
        "fr": " malgré les items {items} ({by} : « {reason} »)",
        "en": " despite items {items} ({by}: \u201c{reason}\u201d)",
    },
    "checklist.unknown_item": {
        "fr": "Item {item} inconnu : les items vont de 1 à {last}.",
        "en": "Unknown item {item}: items go from 1 to {last}.",
    },
    "checklist.bad_answer": {
        "fr": "Réponse « {value} » inconnue : oui, non ou na.",
        "en": "Unknown answer \u201c{value}\u201d: yes, no or na.",
    },
    "checklist.na_forbidden": {
        "fr": "L'item {item} ne peut pas être « NA » : il doit être fait pour tout patient.",
        "en": "Item {item} cannot be \u201cN/A\u201d: it must be done for every patient.",
    },
    "checklist.na_letter": {
        "fr": "L'item {item} (lettre de liaison) ne peut pas être NA : la lettre est due à "
              "chaque sortie, remise au patient et envoyée au médecin traitant le jour même "
              "(décret 2016-995). Répondez <code>!sortie oui {item}</code> quand elle est "
              "envoyée, ou <code>!sortie non {item} raison</code>.",
        "en": "Item {item} (lettre de liaison) cannot be N/A: the letter is due at every "
              "discharge, handed to the patient and sent to the GP the same day (décret "
              "2016-995). Answer <code>!discharge yes {item}</code> once it is sent, or "
              "<code>!discharge no {item} reason</code>.",
    },
    "checklist.comment_too_long": {
        "fr": "Commentaire trop long ({max} caractères au plus).",
        "en": "Comment too long (at most {max} characters).",
    },
    "checklist.before_admission": {
        "fr": "La sortie ({date}) ne peut pas précéder l'admission.",
        "en": "The discharge ({date}) cannot come before the admission.",
    },
    "checklist.blocked": {
        "fr": "Sortie non validée : items bloquants sans réponse ou « Non » : {items}. "
              "Un médecin peut passer outre en donnant la raison.",
        "en": "Discharge not validated: blocking items unanswered or \u201cNo\u201d: {items}. "
              "A physician may override with a reason.",
    },
    "checklist.override_needs_reason": {
        "fr": "Pour valider malgré les items {items}, donnez la raison.",
        "en": "To validate despite items {items}, give the reason.",
    },
    "checklist.already_validated": {
        "fr": "La sortie est déjà validée : la check-list ne change plus.",
        "en": "The discharge is already validated: the checklist no longer changes.",
    },
    # --- the bot's answers -------------------------------------------------------------------
    "discharge.none": {
        "fr": "Pas de check-list de sortie dans ce salon. Pour la démarrer : "
              "<code>!sortie prevoir JJ/MM/AAAA</code>.",
        "en": "No discharge checklist in this room. To start one: "
              "<code>!discharge plan DD/MM/YYYY</code>.",
    },
    "discharge.not_patient_room": {
        "fr": "La check-list de sortie se tient dans le salon d'un patient dont l'épisode est "
              "ouvert.",
        "en": "The discharge checklist lives in the room of a patient whose episode is open.",
    },
    "discharge.already_planned": {
        "fr": "La check-list est déjà démarrée. Pour changer la date : "
              "<code>!sortie date JJ/MM/AAAA</code>.",
        "en": "The checklist has already started. To change the date: "
              "<code>!discharge date DD/MM/YYYY</code>.",
    },
    "discharge.unknown_template": {
        "fr": "Modèle « {name} » inconnu. Modèles disponibles : {known}.",
        "en": "Unknown template \u201c{name}\u201d. Available: {known}.",
    },
    "discharge.past_date": {
        "fr": "La date de sortie prévue ({date}) est passée.",
        "en": "The planned discharge date ({date}) is in the past.",
    },
    "discharge.future_discharge": {
        "fr": "La sortie ne peut pas être validée pour une date à venir ({date}).",
        "en": "The discharge cannot be validated for a future date ({date}).",
    },
    "discharge.moved": {
        "fr": "Sortie prévue déplacée au {day} : les échéances J suivent, les rappels sont "
              "reprogrammés.",
        "en": "Planned discharge moved to {day}: the J due dates follow, reminders are "
              "rescheduled.",
    },
    "discharge.not_your_item": {
        "fr": "L'item {item} revient aux rôles {roles} (ou au médecin, à la coordination) : "
              "votre rôle dans ce salon ne permet pas d'y répondre.",
        "en": "Item {item} belongs to roles {roles} (or the physician, the coordination): your "
              "role in this room may not answer it.",
    },
    "discharge.not_your_item_any": {
        "fr": "Votre rôle dans ce salon ne permet pas de répondre à la check-list.{needed}",
        "en": "Your role in this room may not answer the checklist.{needed}",
    },
    "discharge.answered": {
        "fr": "{mark} {item}. {label} — {answer}",
        "en": "{mark} {item}. {label} — {answer}",
    },
    "discharge.not_in_team": {
        "fr": "{user} n'est pas dans l'équipe de ce patient (<code>!equipe ajouter</code>).",
        "en": "{user} is not in this patient's team (<code>!team add</code>).",
    },
    "discharge.assigned": {
        "fr": "{user} : l'item {item} « {label} » vous est assigné (par {by}). Répondez par "
              "<code>!sortie oui {item}</code> ou réagissez ✅ à ce message.",
        "en": "{user}: item {item} \u201c{label}\u201d is assigned to you (by {by}). Answer with "
              "<code>!discharge yes {item}</code> or react ✅ to this message.",
    },
    "discharge.risk_set": {
        "fr": "Risque de réhospitalisation : {level}.",
        "en": "Readmission risk: {level}.",
    },
    "discharge.validated": {
        "fr": "Sortie validée (sortie le {day}, mode : {mode}{iterative}).{not_index} Le suivi "
              "RH30 prend le relais ; la synthèse : <code>!sortie resume</code>.{letter}",
        "en": "Discharge validated (discharged on {day}, mode: {mode}{iterative}).{not_index} "
              "The RH30 follow-up takes over; the summary: <code>!discharge summary</code>."
              "{letter}",
    },
    "discharge.letter_due": {
        "fr": " La lettre de liaison n'est pas encore notée envoyée : ses rappels continuent "
              "jusqu'à son envoi.",
        "en": " The lettre de liaison is not recorded as sent yet: its reminders go on until it "
              "is.",
    },
    "discharge.answered_late": {
        "fr": " — ⏰ renseigné après l'échéance : noté en retard (item non rattrapable).",
        "en": " — ⏰ answered after its due time: recorded as late (cannot be remedied).",
    },
    "discharge.letter_by_mail": {
        "fr": "✅ {item}. {label} — Oui, coché par la passerelle MSSanté : un courriel avec une "
              "pièce jointe est parti de ce salon le {at}. Les rappels de la lettre s'arrêtent.",
        "en": "✅ {item}. {label} — Yes, ticked by the MSSanté bridge: a mail with an attachment "
              "left from this room on {at}. The letter's reminders stop.",
    },
    "discharge.tasks_title": {"fr": "<p><b>Vos items ouverts</b></p>",
                              "en": "<p><b>Your open items</b></p>"},
    "discharge.tasks_room": {"fr": '<p><a href="{link}">{ref}</a></p><ul>{items}</ul>',
                             "en": '<p><a href="{link}">{ref}</a></p><ul>{items}</ul>'},
    "discharge.task": {"fr": "<li>{id}. {label} — échéance {due}{late}</li>",
                       "en": "<li>{id}. {label} — due {due}{late}</li>"},
    "discharge.no_tasks": {"fr": "Aucun item ouvert pour vous.",
                           "en": "No open item for you."},
    "discharge.react_on_item": {
        "fr": "Un ✅ sur la check-list entière ne dit pas quel item : réagissez au message d'un "
              "item (rappel, assignation) ou tapez <code>!sortie oui N</code>.",
        "en": "A ✅ on the whole checklist does not say which item: react to an item's message "
              "(reminder, assignment) or type <code>!discharge yes N</code>.",
    },
    "discharge.for_newcomer": {
        "fr": "<p>Check-list de sortie en cours, reprise pour {user} :</p>",
        "en": "<p>Discharge checklist in progress, posted again for {user}:</p>",
    },
    "discharge.live_moved": {
        "fr": "<p>Check-list de sortie : la version à jour est plus bas (épinglée).</p>",
        "en": "<p>Discharge checklist: the current version is further down (pinned).</p>",
    },
    "discharge.reminder": {
        "fr": "⏰ {who} : l'item {item} « {label} » était attendu pour le {due}. "
              "<code>!sortie oui {item}</code>, <code>!sortie non {item} raison</code>, "
              "ou ✅ sur ce message.",
        "en": "⏰ {who}: item {item} \u201c{label}\u201d was due {due}. "
              "<code>!discharge yes {item}</code>, <code>!discharge no {item} reason</code>, "
              "or ✅ on this message.",
    },
    "discharge.rescore": {
        "fr": "🔁 {who} : l'item {item} « {label} » est à refaire avant la sortie (pour le "
              "{due}).",
        "en": "🔁 {who}: item {item} \u201c{label}\u201d is to be redone before discharge (by "
              "{due}).",
    },
    "discharge.alert": {
        "fr": "🚨 <b>Alerte</b> {who} : l'item {item} « {label} » (lettre de liaison) n'est "
              "toujours pas fait en fin de journée de sortie ({due}). La lettre est due le jour "
              "même (décret 2016-995) ; <code>!sortie oui {item}</code> quand elle est partie.",
        "en": "🚨 <b>Alert</b> {who}: the lettre de liaison (item {item} \u201c{label}\u201d) "
              "is still not sent at the end of the discharge day ({due}). It is due the same "
              "day (décret 2016-995); <code>!discharge yes {item}</code> once it has left.",
    },
    "discharge.letter_morning": {
        "fr": "🚨 {who} : la lettre de liaison de la sortie du {due} (item {item}) n'est "
              "toujours pas envoyée. Ce rappel revient chaque matin ouvré jusqu'à son envoi "
              "(<code>!sortie oui {item}</code>, ou un courriel MSSanté avec la lettre en pièce "
              "jointe depuis ce salon).",
        "en": "🚨 {who}: the lettre de liaison of the discharge on {due} (item {item}) is still "
              "not sent. This reminder comes back every working morning until it is "
              "(<code>!discharge yes {item}</code>, or an MSSanté mail with the letter attached "
              "sent from this room).",
    },
    "discharge.digest": {
        "fr": "<p>📋 <b>Items en retard</b></p><ul>{items}</ul>",
        "en": "<p>📋 <b>Overdue items</b></p><ul>{items}</ul>",
    },
    "discharge.digest_line": {"fr": "<li>{id}. {label} — échéance {due} — {who}</li>",
                              "en": "<li>{id}. {label} — due {due} — {who}</li>"},
    "discharge.escalation": {
        "fr": "<p>⚠️ <b>Patient à risque élevé</b>, jour de sortie — {who} : réponse « Non » "
              "sur :</p><ul>{items}</ul>",
        "en": "<p>⚠️ <b>High-risk patient</b>, discharge day — {who}: answered \u201cNo\u201d "
              "on:</p><ul>{items}</ul>",
    },
    "discharge.escalation_line": {"fr": "<li>{id}. {label} {comment}</li>",
                                  "en": "<li>{id}. {label} {comment}</li>"},
    # --- help (plain text) -------------------------------------------------------------------
    "discharge.help.show": {"fr": "affiche la check-list de sortie",
                            "en": "shows the discharge checklist"},
    "discharge.help.plan": {
        "fr": "démarre la check-list avec la date de sortie prévue (et un modèle)",
        "en": "starts the checklist with the planned discharge date (and a template)"},
    "discharge.help.move": {"fr": "déplace la date de sortie prévue (les échéances suivent)",
                            "en": "moves the planned discharge date (due dates follow)"},
    "discharge.help.yes": {"fr": "répond Oui à un item (commentaire possible)",
                           "en": "answers Yes to an item (optional comment)"},
    "discharge.help.no": {"fr": "répond Non à un item, avec la raison",
                          "en": "answers No to an item, with the reason"},
    "discharge.help.na": {"fr": "répond NA (non applicable) à un item",
                          "en": "answers N/A (not applicable) to an item"},
    "discharge.help.assign": {"fr": "assigne un item à un membre de l'équipe",
                              "en": "assigns an item to a team member"},
    "discharge.help.risk": {"fr": "note le risque de réhospitalisation : faible, intermediaire, "
                                  "eleve (l'abaisser : un médecin, avec la raison)",
                            "en": "records the readmission risk: low, intermediate, high "
                                  "(lowering it: a physician, with the reason)"},
    "discharge.help.lace": {"fr": "score LACE (durée, urgence, Charlson, urgences sur 6 mois) : "
                                  "niveau de risque du patient",
                            "en": "LACE score (length, acute, Charlson, ED visits in 6 months): "
                                  "the patient's risk level"},
    "discharge.help.hospital": {"fr": "score HOSPITAL : niveau de risque du patient",
                                "en": "HOSPITAL score: the patient's risk level"},
    "discharge.help.validate": {
        "fr": "valide la sortie : [date réelle] mode (domicile, had, ssr, ehpad, mco, deces) "
              "[iteratif] [raison] ; un médecin peut passer outre aux items bloquants en donnant "
              "la raison",
        "en": "validates the discharge: [actual date] mode (domicile, had, ssr, ehpad, mco, "
              "deces) [iteratif] [reason]; a physician may override blocking items with a "
              "reason"},
    "discharge.help.summary": {"fr": "synthèse de sortie (message et fichier)",
                               "en": "discharge summary (message and file)"},
    "discharge.help.tasks": {"fr": "vos items ouverts dans tous vos salons patients",
                             "en": "your open items across all your patient rooms"},
    # --- the summary -------------------------------------------------------------------------
    "summary.title": {"fr": "<h3>Synthèse de sortie</h3>", "en": "<h3>Discharge summary</h3>"},
    "summary.facts": {"fr": "<ul>{facts}</ul>", "en": "<ul>{facts}</ul>"},
    "summary.patient": {"fr": "<li>Patient : {patient} — dossier {ref}</li>",
                        "en": "<li>Patient: {patient} — file {ref}</li>"},
    "summary.template": {"fr": "<li>Check-list : {title} (version {version})</li>",
                         "en": "<li>Checklist: {title} (version {version})</li>"},
    "summary.planned": {"fr": "<li>Sortie prévue : {day}</li>",
                        "en": "<li>Planned discharge: {day}</li>"},
    "summary.risk": {"fr": "<li>Risque de réhospitalisation : {level}</li>",
                     "en": "<li>Readmission risk: {level}</li>"},
    "summary.validated": {"fr": "<li>Sortie validée : sortie le {day} (validée le {at})</li>",
                          "en": "<li>Discharge validated: discharged on {day} (validated {at})"
                                "</li>"},
    "summary.not_validated": {"fr": "<li>Sortie non encore validée</li>",
                              "en": "<li>Discharge not validated yet</li>"},
    "summary.override": {
        "fr": "<li>Passé outre par {by} le {at} (items {items}) : « {reason} »</li>",
        "en": "<li>Overridden by {by} on {at} (items {items}): \u201c{reason}\u201d</li>"},
    "summary.table": {
        "fr": "<table><tr><th>#</th><th>Item</th><th>Réponse</th><th>Par</th><th>Le</th>"
              "<th>Commentaire</th></tr>{rows}</table>",
        "en": "<table><tr><th>#</th><th>Item</th><th>Answer</th><th>By</th><th>On</th>"
              "<th>Comment</th></tr>{rows}</table>"},
    "summary.row": {
        "fr": "<tr><td>{item}</td><td>{label}</td><td>{answer}</td><td>{by}</td><td>{at}</td>"
              "<td>{comment}</td></tr>",
        "en": "<tr><td>{item}</td><td>{label}</td><td>{answer}</td><td>{by}</td><td>{at}</td>"
              "<td>{comment}</td></tr>"},
    "summary.md_head": {"fr": "| # | Item | Réponse | Par | Le | Commentaire |",
                        "en": "| # | Item | Answer | By | On | Comment |"},
    "summary.none": {"fr": "sans réponse", "en": "unanswered"},
    # --- the journal in the summary file (plain text) ------------------------------------------
    "summary.journal": {"fr": "Journal", "en": "Log"},
    "audit.plan": {"fr": "check-list démarrée (sortie prévue {day}, modèle {template})",
                   "en": "checklist started (planned discharge {day}, template {template})"},
    "audit.move": {"fr": "sortie prévue déplacée du {before} au {after}",
                   "en": "planned discharge moved from {before} to {after}"},
    "audit.answer": {"fr": "item {item} : {answer}{late}{comment}{by_mail}",
                     "en": "item {item}: {answer}{late}{comment}{by_mail}"},
    "audit.late": {"fr": " (en retard)", "en": " (late)"},
    "audit.by_mail": {"fr": " (courriel MSSanté avec pièce jointe)",
                      "en": " (MSSanté mail with an attachment)"},
    "audit.score": {"fr": "score {score} : {points} points, niveau du patient {risk}",
                    "en": "{score} score: {points} points, patient's level {risk}"},
    "audit.letter_reminder": {"fr": "rappel de la lettre de liaison (item {item}) à {to}",
                              "en": "lettre de liaison reminder (item {item}) to {to}"},
    "audit.assign": {"fr": "item {item} assigné à {to}", "en": "item {item} assigned to {to}"},
    "audit.risk": {"fr": "risque de réhospitalisation : {risk} {reason}",
                   "en": "readmission risk: {risk} {reason}"},
    "audit.validate": {"fr": "sortie validée (sortie le {on}, mode {mode})",
                       "en": "discharge validated (discharged on {on}, mode {mode})"},
    "audit.validation_cancelled": {
        "fr": "sortie du {on} annulée par l'hôpital (ADT) : validation levée",
        "en": "discharge of {on} cancelled by the hospital (ADT): validation undone"},
    "audit.override": {"fr": "passé outre aux items {items} : {reason}",
                       "en": "overrode items {items}: {reason}"},
    "audit.summary": {"fr": "synthèse éditée", "en": "summary produced"},
    "audit.reminder": {"fr": "rappel de l'item {item} à {to}", "en": "reminder of item {item} to {to}"},
    "audit.rescore_reminder": {"fr": "rappel de réévaluation de l'item {item} à {to}",
                               "en": "re-score reminder of item {item} to {to}"},
    "audit.alert": {"fr": "alerte sur l'item {item} à {to}", "en": "alert on item {item} to {to}"},
    "audit.digest": {"fr": "récapitulatif des retards : items {items}",
                     "en": "digest of overdue items: {items}"},
    "audit.escalation": {"fr": "item {item} signalé au médecin ({to})",
                         "en": "item {item} reported to the physician ({to})"},
    **words("discharge.label", item=("item", "item"), comment=("commentaire", "comment"),
            template=("modele", "template")),
}

"""The discharge bot's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.runtime.i18n import Lang, add_texts

TEXTS: dict[str, dict[Lang, str]] = {
    "checklist.title": {
        "fr": "<p><b>{title}</b> — sortie prévue le {discharge}{risk}</p>",
        "en": "<p><b>{title}</b> — planned discharge {discharge}{risk}</p>",
    },
    "checklist.high_risk": {"fr": " · <b>risque élevé</b>", "en": " · <b>high risk</b>"},
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
}

add_texts(TEXTS)

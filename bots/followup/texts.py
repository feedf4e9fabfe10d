"""The follow-up bot's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.runtime.i18n import Lang, add_texts

TEXTS: dict[str, dict[Lang, str]] = {
    "score.out_of_range": {
        "fr": "{name} = {value} : hors de l'intervalle attendu ({low} à {high}).",
        "en": "{name} = {value}: outside the expected range ({low} to {high}).",
    },
    "score.not_yes_no": {"fr": "{name} : « {value} » n'est ni oui ni non.",
                         "en": "{name}: \u201c{value}\u201d is neither yes nor no."},
    "score.not_number": {"fr": "{name} : « {value} » n'est pas un nombre.",
                         "en": "{name}: \u201c{value}\u201d is not a number."},
    "score.lace_usage": {
        "fr": "LACE attend quatre valeurs : <code>!rh30 lace &lt;durée du séjour en jours&gt; "
              "&lt;admission en urgence oui|non&gt; &lt;Charlson&gt; &lt;passages aux urgences "
              "sur 6 mois&gt;</code>, par exemple <code>!rh30 lace 6 oui 2 1</code>.",
        "en": "LACE takes four values: <code>!followup lace &lt;length of stay in days&gt; "
              "&lt;acute admission yes|no&gt; &lt;Charlson&gt; &lt;ED visits in 6 months&gt;"
              "</code>, e.g. <code>!followup lace 6 yes 2 1</code>.",
    },
    "score.hospital_usage": {
        "fr": "HOSPITAL attend <code>hb= onco= na= acte= urgent= adm= duree=</code>, par exemple "
              "<code>!rh30 hospital hb=11.2 onco=non na=133 acte=oui urgent=oui adm=3 "
              "duree=6</code>.",
        "en": "HOSPITAL takes <code>hb= onco= na= acte= urgent= adm= duree=</code>, e.g. "
              "<code>!followup hospital hb=11.2 onco=no na=133 acte=yes urgent=yes adm=3 "
              "duree=6</code>.",
    },
    "score.missing": {"fr": "Il manque : {names}.", "en": "Missing: {names}."},
    "followup.risk.faible": {"fr": "faible", "en": "low"},
    "followup.risk.intermediaire": {"fr": "intermédiaire", "en": "intermediate"},
    "followup.risk.eleve": {"fr": "élevé", "en": "high"},
    "followup.state.planned": {"fr": "à venir", "en": "planned"},
    "followup.state.posted": {"fr": "à faire", "en": "to do"},
    "followup.state.done": {"fr": "✅ fait", "en": "✅ done"},
    "followup.state.failed": {"fr": "❌ échec", "en": "❌ failed"},
    "followup.plan": {
        "fr": "<p><b>{title}</b> — sortie le {day}, risque {risk}</p><ul>{steps}</ul>",
        "en": "<p><b>{title}</b> — discharged {day}, risk {risk}</p><ul>{steps}</ul>",
    },
    "followup.step_line": {"fr": "<li>{id}. {day} — {label} — {state}</li>",
                           "en": "<li>{id}. {day} — {label} — {state}</li>"},
    "followup.started": {
        "fr": "<p>Suivi RH30 démarré (sortie le {day}, risque {risk}). Chaque étape sera "
              "rappelée le jour venu ; <code>!rh30 fait N</code> ou <code>!rh30 echec N</code> "
              "pour la noter.</p>{plan}",
        "en": "<p>RH30 follow-up started (discharged {day}, risk {risk}). Each step will be "
              "posted on its day; <code>!followup done N</code> or <code>!followup failed N</code>"
              " to record it.</p>{plan}",
    },
    "followup.task": {
        "fr": "📞 {who} : étape {id} du suivi — {label}{retry}{late}. "
              "<code>!rh30 fait {id}</code> ou <code>!rh30 echec {id} raison</code>.",
        "en": "📞 {who}: follow-up step {id} — {label}{retry}{late}. "
              "<code>!followup done {id}</code> or <code>!followup failed {id} reason</code>.",
    },
    "followup.late": {"fr": " — <b>en retard</b> (prévue le {day})",
                      "en": " — <b>late</b> (due {day})"},
    "followup.retry": {"fr": " — nouvel essai n°{attempt}", "en": " — retry #{attempt}"},
    "followup.closed": {
        "fr": "Fenêtre de 30 jours close{late} : aucune réhospitalisation enregistrée.",
        "en": "30-day window closed{late}: no readmission recorded.",
    },
    "followup.none": {"fr": "Pas de suivi RH30 dans ce salon (<code>!rh30 debut JJ/MM/AAAA</code>).",
                      "en": "No RH30 follow-up in this room (<code>!followup start DD/MM/YYYY"
                            "</code>)."},
    "followup.not_patient_room": {"fr": "Le suivi RH30 se tient dans le salon d'un patient.",
                                  "en": "The RH30 follow-up lives in a patient's room."},
    "followup.already": {"fr": "Le suivi RH30 est déjà en place : <code>!rh30 plan</code>.",
                         "en": "The RH30 follow-up is already set: <code>!followup plan</code>."},
    "followup.future": {"fr": "La date de sortie ({day}) est à venir : démarrez le suivi le jour "
                              "de la sortie.",
                        "en": "The discharge date ({day}) is ahead: start the follow-up on the "
                              "day of discharge."},
    "followup.unknown_step": {"fr": "Pas d'étape {step} dans ce suivi (<code>!rh30 plan</code>).",
                              "en": "No step {step} in this follow-up (<code>!followup plan"
                                    "</code>)."},
    "followup.step_over": {"fr": "L'étape {step} est déjà close.",
                           "en": "Step {step} is already closed."},
    "followup.done": {"fr": "Étape {step} notée faite.", "en": "Step {step} recorded as done."},
    "followup.retry_planned": {
        "fr": "Étape {step} : échec noté, nouvel essai le {day} (encore {left} possible(s) "
              "ensuite).",
        "en": "Step {step}: failure recorded, tried again on {day} ({left} more possible after "
              "that).",
    },
    "followup.given_up": {
        "fr": "Étape {step} : échec après {tries} essais, elle est close. Prévenez le médecin "
              "traitant si le patient reste injoignable.",
        "en": "Step {step}: failed after {tries} tries, it is closed. Tell the GP if the patient "
              "stays unreachable.",
    },
    "followup.score": {
        "fr": "Score {name} : <b>{points}</b>/{maximum} ({parts}) — risque <b>{risk}</b>. "
              "{meaning}",
        "en": "{name} score: <b>{points}</b>/{maximum} ({parts}) — <b>{risk}</b> risk. {meaning}",
    },
    "followup.meaning.LACE": {
        "fr": "LACE (van Walraven 2010) : ≥ 10 = risque élevé de réhospitalisation ou de décès "
              "à 30 jours.",
        "en": "LACE (van Walraven 2010): ≥ 10 = high risk of readmission or death within 30 "
              "days.",
    },
    "followup.meaning.HOSPITAL": {
        "fr": "HOSPITAL (Donzé 2013) : 0–4 faible, 5–6 intermédiaire, ≥ 7 élevé (réhospitalisation "
              "évitable à 30 jours).",
        "en": "HOSPITAL (Donzé 2013): 0–4 low, 5–6 intermediate, ≥ 7 high (potentially avoidable "
              "readmission within 30 days).",
    },
    "followup.help.start": {"fr": "démarre le suivi RH30 (date de sortie, risque)",
                            "en": "starts the RH30 follow-up (discharge date, risk)"},
    "followup.help.plan": {"fr": "le plan de suivi et l'état de chaque étape",
                           "en": "the follow-up plan and each step's state"},
    "followup.help.done": {"fr": "note une étape faite", "en": "records a step as done"},
    "followup.help.failed": {"fr": "note un échec (patient injoignable) : nouvel essai",
                             "en": "records a failure (patient unreachable): tried again"},
    "followup.help.lace": {"fr": "score LACE : durée, urgence, Charlson, passages aux urgences",
                           "en": "LACE score: stay, acute, Charlson, ED visits"},
    "followup.help.hospital": {"fr": "score HOSPITAL : hb= onco= na= acte= urgent= adm= duree=",
                               "en": "HOSPITAL score: hb= onco= na= acte= urgent= adm= duree="},
}

add_texts(TEXTS)

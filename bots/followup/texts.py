"""The follow-up bot's texts (fr first, en), HTML templates whose values are escaped."""

from __future__ import annotations

from bots.runtime.i18n import Lang, words

TEXTS: dict[str, dict[Lang, str]] = {
    "followup.risk.faible": {"fr": "faible", "en": "low"},
    "followup.risk.intermediaire": {"fr": "intermédiaire", "en": "intermediate"},
    "followup.risk.eleve": {"fr": "élevé", "en": "high"},
    "followup.state.planned": {"fr": "à venir", "en": "planned"},
    "followup.state.posted": {"fr": "à faire", "en": "to do"},
    "followup.state.done": {"fr": "✅ fait", "en": "✅ done"},
    "followup.state.failed": {"fr": "❌ échec", "en": "❌ failed"},
    "followup.state.skipped": {"fr": "⏭ sautée (patient hospitalisé)",
                               "en": "⏭ skipped (patient in hospital)"},
    "followup.plan": {
        "fr": "<p><b>{title}</b> — sortie le {day}, risque {risk}{conditions} — {status}</p>"
              "<ul>{steps}</ul>",
        "en": "<p><b>{title}</b> — discharged {day}, risk {risk}{conditions} — {status}</p>"
              "<ul>{steps}</ul>",
    },
    "followup.conditions_line": {"fr": " ({conditions})", "en": " ({conditions})"},
    "followup.condition.short_stay": {"fr": "séjour court", "en": "short stay"},
    "followup.condition.home_care": {"fr": "soins à domicile", "en": "home care"},
    "followup.status.active": {"fr": "en cours", "en": "running"},
    "followup.status.frozen": {"fr": "<b>suspendu</b> (patient réhospitalisé ; "
                                     "<code>!rh30 reprise</code> à son retour)",
                               "en": "<b>frozen</b> (patient readmitted; <code>!followup resume"
                                     "</code> when back home)"},
    "followup.status.closed": {"fr": "clos", "en": "closed"},
    "followup.status.deceased": {"fr": "<b>arrêté</b> (patient décédé)",
                                 "en": "<b>stopped</b> (patient deceased)"},
    "followup.plan_deceased": {"fr": "Le patient est décédé : le suivi est arrêté et ne change "
                                     "plus.",
                               "en": "The patient died: the follow-up is stopped and no longer "
                                     "changes."},
    "followup.bad_condition": {
        "fr": "« {value} » : conditions possibles <code>court</code> (séjour court), "
              "<code>domicile</code> (soins à domicile), ou <code>aucune</code>.",
        "en": "\u201c{value}\u201d: conditions are <code>short</code> (short stay), "
              "<code>home</code> (home care), or <code>none</code>.",
    },
    "followup.plan_closed": {"fr": "Le suivi RH30 est clos : le plan ne change plus.",
                             "en": "The RH30 follow-up is closed: its plan no longer changes."},
    "followup.replanned": {
        "fr": "<p>Plan mis à jour (risque {risk}) : étapes ajoutées {added}, retirées "
              "{dropped}. Les étapes déjà envoyées restent.</p>{plan}",
        "en": "<p>Plan updated (risk {risk}): steps added {added}, removed {dropped}. Steps "
              "already posted stay.</p>{plan}",
    },
    "followup.not_frozen": {"fr": "Le suivi n'est pas suspendu.",
                            "en": "The follow-up is not frozen."},
    "followup.resumed": {
        "fr": "<p>Suivi repris. Étapes dont le jour est passé pendant l'hospitalisation, "
              "sautées : {skipped}.</p>{plan}",
        "en": "<p>Follow-up resumed. Steps whose day passed while in hospital, skipped: "
              "{skipped}.</p>{plan}",
    },
    "followup.score_not_lowered": {
        "fr": "Le score donne un risque {risk}, mais le plan reste au niveau {plan} : un score "
              "n'abaisse jamais le plan. Un médecin peut l'abaisser avec "
              "<code>!rh30 risque {level} raison</code>.",
        "en": "The score gives a {risk} risk, but the plan stays at {plan}: a score never "
              "lowers the plan. A physician may lower it with "
              "<code>!followup risk {level} reason</code>.",
    },
    "followup.episode_level": {
        "fr": "Niveau de risque du patient (partagé avec la check-list de sortie) : <b>{risk}"
              "</b> (la classe la plus haute l'emporte).",
        "en": "The patient's risk level (shared with the discharge checklist): <b>{risk}</b> "
              "(the highest class wins).",
    },
    "followup.level_set": {
        "fr": "Niveau de risque du patient : <b>{risk}</b> (partagé avec la check-list de sortie "
              "et le suivi à venir).",
        "en": "The patient's risk level: <b>{risk}</b> (shared with the discharge checklist and "
              "the follow-up to come).",
    },
    "followup.extra": {"fr": "« {extra} » : en trop après le mode de sortie et le risque.",
                       "en": "\u201c{extra}\u201d: too much after the discharge mode and risk."},
    "followup.mode": {"fr": "mode de sortie : {mode}{iterative}.{not_index}",
                      "en": "discharge mode: {mode}{iterative}.{not_index}"},
    "followup.recorded_only": {
        "fr": "<p>Sortie du {day} enregistrée pour l'indicateur ({mode}) Pas de suivi RH30 pour "
              "ce mode de sortie.</p>",
        "en": "<p>Discharge on {day} recorded for the indicator ({mode}) No RH30 follow-up for "
              "this discharge mode.</p>",
    },
    "followup.risk_unknown": {"fr": "<p>⚠️ {note}.</p>", "en": "<p>⚠️ {note}.</p>"},
    "followup.status.not_followed": {"fr": "sans suivi (mode de sortie)",
                                     "en": "not followed (discharge mode)"},
    "followup.plan_not_followed": {
        "fr": "Cette sortie n'a pas de suivi RH30 (mode de sortie) : rien à changer.",
        "en": "This discharge has no RH30 follow-up (discharge mode): nothing to change.",
    },
    "followup.for_newcomer": {
        "fr": "<p>{user}, bienvenue : voici le suivi RH30 de ce patient (les messages d'avant "
              "votre arrivée ne vous sont pas lisibles).</p>{plan}",
        "en": "<p>{user}, welcome: here is this patient's RH30 follow-up (messages from before "
              "you joined are not readable to you).</p>{plan}",
    },
    "followup.step_line": {"fr": "<li>{id}. {day} — {label} — {state}</li>",
                           "en": "<li>{id}. {day} — {label} — {state}</li>"},
    "followup.withdrawn": {
        "fr": "↩️ L'hôpital a annulé la sortie du {day} : le suivi RH30 est arrêté (aucun rappel "
              "ne sera envoyé) et ce séjour ne compte plus dans l'indicateur RH30. Une nouvelle "
              "sortie le redémarrera.",
        "en": "↩️ The hospital cancelled the discharge of {day}: the RH30 follow-up is stopped "
              "(no reminder will be sent) and this stay no longer counts in the RH30 indicator. "
              "A new discharge will start it again."},
    "followup.status.cancelled": {"fr": "annulé (sortie annulée par l'hôpital)",
                                  "en": "cancelled (discharge cancelled by the hospital)"},
    "followup.started": {
        "fr": "<p>Suivi RH30 démarré (sortie le {day}, risque {risk} ; {mode}) Chaque étape "
              "sera rappelée le jour venu ; <code>!rh30 fait N</code> ou <code>!rh30 echec N"
              "</code> pour la noter.</p>{unknown}{plan}",
        "en": "<p>RH30 follow-up started (discharged {day}, risk {risk}; {mode}) Each step will "
              "be posted on its day; <code>!followup done N</code> or <code>!followup failed N"
              "</code> to record it.</p>{unknown}{plan}",
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
    "followup.closed_readmitted": {
        "fr": "Fenêtre de 30 jours close{late} : réhospitalisation à J+{delay}, comptée dans "
              "RH30{rh7} ; évitable : {verdict}.",
        "en": "30-day window closed{late}: readmitted on day {delay}, counted in RH30{rh7}; "
              "avoidable: {verdict}.",
    },
    "followup.and_rh7": {"fr": " et RH7", "en": " and RH7"},
    "followup.also.same_day": {"fr": "Retour(s) le jour de la sortie (non comptés) : {n}.",
                               "en": "Same-day return(s) (not counted): {n}."},
    "followup.also.ed": {"fr": "Passage(s) aux urgences sans hospitalisation : {n}.",
                         "en": "ED visit(s) without admission: {n}."},
    "followup.also.death": {"fr": "Décès le {day} (J+{delay}).",
                            "en": "Died on {day} (day {delay})."},
    "followup.also.planned": {
        "fr": "Réhospitalisation(s) programmée(s) (comptées dans le RH30 officiel, pas dans le "
              "taux non programmé) : {n}.",
        "en": "Planned readmission(s) (counted in the official RH30, not in the unplanned "
              "rate): {n}."},
    "followup.still_counts": {
        "fr": "Une réhospitalisation jusqu'au {last} inclus compte encore : <code>!rh30 "
              "rehospitalisation JJ/MM</code>.",
        "en": "A readmission up to {last} included still counts: <code>!followup readmission "
              "DD/MM</code>.",
    },
    "followup.bad_detail": {
        "fr": "« {value} » : après la date, seulement <code>programmee</code> (réhospitalisation "
              "prévue) et/ou <code>urgences</code> (passage aux urgences sans hospitalisation).",
        "en": "\u201c{value}\u201d: after the date, only <code>planned</code> (planned stay) "
              "and/or <code>ed</code> (ED visit without admission).",
    },
    "readmission.before": {
        "fr": "Le {day} précède la sortie ({discharged}) : ce n'est pas une réhospitalisation.",
        "en": "{day} comes before the discharge ({discharged}): not a readmission.",
    },
    "readmission.future": {"fr": "Le {day} est à venir : notez la réhospitalisation quand elle "
                                 "a lieu (une réhospitalisation prévue : <code>programmee"
                                 "</code>, le jour venu).",
                           "en": "{day} is ahead: record the readmission when it happens (a "
                                 "planned one: <code>planned</code>, on the day)."},
    "readmission.already_admission": {
        "fr": "La réhospitalisation du {day} est déjà notée.",
        "en": "The readmission of {day} is already recorded.",
    },
    "readmission.already_ed": {
        "fr": "Le passage aux urgences du {day} est déjà noté.",
        "en": "The ED visit of {day} is already recorded.",
    },
    "death.before": {"fr": "Le {day} précède la sortie ({discharged}).",
                     "en": "{day} comes before the discharge ({discharged})."},
    "death.future": {"fr": "Le {day} est à venir.", "en": "{day} is ahead."},
    "death.already": {"fr": "Le décès est déjà noté (le {day}).",
                      "en": "The death is already recorded ({day})."},
    "death.recorded": {
        "fr": "Décès noté le {day} (J+{delay}). Plus aucun appel ni rappel n'est programmé. La "
              "fenêtre de 30 jours se clôt le {last} pour l'indicateur (le séjour s'est terminé "
              "par un retour à domicile : il reste compté).",
        "en": "Death recorded on {day} (day {delay}). No call or reminder is planned any more. "
              "The 30-day window closes on {last} for the indicator (the stay ended with a "
              "return home: it still counts).",
    },
    "readmission.rh7": {
        "fr": "⚠️ Réhospitalisation le {day}, à J+{delay} : comptée dans RH7 et RH30.",
        "en": "⚠️ Readmitted on {day}, day {delay}: counted in RH7 and RH30.",
    },
    "readmission.rh30": {
        "fr": "⚠️ Réhospitalisation le {day}, à J+{delay} : comptée dans RH30.",
        "en": "⚠️ Readmitted on {day}, day {delay}: counted in RH30.",
    },
    "readmission.planned": {
        "fr": "Programmée : comptée dans le RH30 officiel (toutes causes), pas dans le taux des "
              "réhospitalisations non programmées.",
        "en": "Planned: counted in the official (all-cause) RH30, not in the unplanned rate.",
    },
    "readmission.planned_unknown": {
        "fr": "Le message de l'hôpital ne dit pas si elle était programmée : comptée comme non "
              "programmée ; si elle l'était, <code>!rh30 rehospitalisation {date} programmee"
              "</code>.",
        "en": "The hospital's message does not say whether it was planned: counted as "
              "unplanned; if it was, <code>!followup readmission {date} planned</code>.",
    },
    "readmission.now_planned": {
        "fr": "La réhospitalisation du {day} est désormais notée programmée : comptée dans le "
              "RH30 officiel, plus dans le taux des non programmées.",
        "en": "The readmission of {day} is now recorded as planned: counted in the official "
              "RH30, no longer in the unplanned rate.",
    },
    "readmission.same_day": {
        "fr": "⚠️ Retour à l'hôpital le jour même de la sortie ({day}) : noté comme retour le "
              "jour même (programmé ou non), non compté dans RH30.",
        "en": "⚠️ Back in hospital on the discharge day ({day}): logged as a same-day return "
              "(planned or not), not counted in RH30.",
    },
    "readmission.ed": {
        "fr": "⚠️ Passage aux urgences sans hospitalisation le {day} (J+{delay}) : noté à part, "
              "non compté dans RH30.",
        "en": "⚠️ ED visit without admission on {day} (day {delay}): logged apart, not counted "
              "in RH30.",
    },
    "readmission.after": {
        "fr": "Réhospitalisation le {day}, à J+{delay} : après la fenêtre de 30 jours, notée "
              "sans être comptée.",
        "en": "Readmitted on {day}, day {delay}: after the 30-day window, logged but not "
              "counted.",
    },
    "readmission.withdrawn": {
        "fr": "↩️ L'hôpital a annulé l'admission du {day} : la réhospitalisation notée ce "
              "jour-là est retirée et ne compte plus dans RH30.",
        "en": "↩️ The hospital cancelled the admission of {day}: the readmission recorded that "
              "day is withdrawn and no longer counts in RH30."},
    "readmission.withdrawn_resumed": {
        "fr": "Le suivi reprend (étapes dont le jour est passé, sautées : {skipped}).",
        "en": "The follow-up resumes (steps whose day passed, skipped: {skipped})."},
    "readmission.withdrawn_still_frozen": {
        "fr": "Le suivi reste suspendu : le retour du {day} est toujours noté. Si le patient est "
              "rentré à domicile, <code>!rh30 reprise</code>.",
        "en": "The follow-up stays frozen: the return of {day} is still recorded. If the "
              "patient is back home, <code>!followup resume</code>."},
    "readmission.frozen": {
        "fr": "Le plan de suivi est suspendu (plus d'appel pendant l'hospitalisation) ; "
              "<code>!rh30 reprise</code> au retour à domicile.",
        "en": "The follow-up plan is frozen (no calls while in hospital); <code>!followup "
              "resume</code> once back home.",
    },
    "readmission.judge": {
        "fr": "Avis de l'équipe (HAS 2013 : évitable si elle aurait pu être prise en charge en "
              "ville ou par la lettre de liaison) : <code>!rh30 evitable oui|non motif</code>.",
        "en": "The team's judgement (HAS 2013: avoidable if primary care or the discharge "
              "letter could have handled it): <code>!followup avoidable yes|no reason</code>.",
    },
    "readmission.bad_verdict": {"fr": "« {value} » : répondez <code>oui</code> ou <code>non"
                                      "</code>, puis le motif.",
                                "en": "\u201c{value}\u201d: answer <code>yes</code> or <code>no"
                                      "</code>, then the reason."},
    "readmission.nothing_to_judge": {
        "fr": "Aucune réhospitalisation comptée (J+1 à J+30, non programmée) à juger.",
        "en": "No counted readmission (day 1 to 30, unplanned) to judge.",
    },
    "readmission.judged": {
        "fr": "Réhospitalisation du {day} : {verdict}{again}.",
        "en": "Readmission of {day}: {verdict}{again}.",
    },
    "readmission.rejudged": {"fr": " (avis précédent remplacé)", "en": " (earlier judgement "
                                                                     "replaced)"},
    "readmission.avoidable.True": {"fr": "jugée évitable", "en": "judged avoidable"},
    "readmission.avoidable.False": {"fr": "jugée non évitable", "en": "judged not avoidable"},
    "readmission.avoidable.None": {"fr": "pas encore jugée", "en": "not judged yet"},
    "readmission.avoidable.planned": {"fr": "sans objet (programmée)",
                                      "en": "not applicable (planned)"},
    "review.no_checklist": {
        "fr": "Revue : pas de check-list de sortie tenue dans ce salon.",
        "en": "Review: no discharge checklist was kept in this room.",
    },
    "review.all_done": {
        "fr": "Revue : aucun item de la check-list de sortie n'était à « Non ».",
        "en": "Review: no discharge checklist item was answered \u201cNo\u201d.",
    },
    "review.items": {
        "fr": "<p>Revue — items à « Non » à la sortie :</p><ul>{items}</ul>",
        "en": "<p>Review — checklist items answered \u201cNo\u201d at discharge:</p>"
              "<ul>{items}</ul>",
    },
    "review.item": {"fr": "<li>{id}. {label}{comment}</li>",
                    "en": "<li>{id}. {label}{comment}</li>"},
    "followup.bad_period": {
        "fr": "« {value} » : période attendue 2026, 2026-10 (ou 10/2026), 2026-01..2026-06, "
              "ou 6m (les six derniers mois).",
        "en": "\u201c{value}\u201d: expected a period like 2026, 2026-10 (or 10/2026), "
              "2026-01..2026-06, or 6m (the last six months).",
    },
    "stats.head": {
        "fr": "<tr><th>Mois</th><th>Séjours index (patients)</th><th>Exclus</th><th>RH7</th>"
              "<th>RH30 (officiel)</th><th>RH30 non programmées</th><th>Fenêtres ouvertes "
              "(déjà réhosp.)</th><th>Retours J0</th><th>Urgences</th><th>Programmées</th>"
              "<th>Évitables (HAS 2013)</th><th>Non jugées</th></tr>",
        "en": "<tr><th>Month</th><th>Index stays (patients)</th><th>Excluded</th><th>RH7</th>"
              "<th>RH30 (official)</th><th>Unplanned RH30</th><th>Open windows (already "
              "readmitted)</th><th>Same-day</th><th>ED visits</th><th>Planned</th><th>"
              "Avoidable (HAS 2013)</th><th>Not judged</th></tr>",
    },
    "stats.row": {
        "fr": "<tr><td>{label}</td><td>{discharges}</td><td>{excluded}</td><td>{rh7}</td><td>"
              "{rh30}{provisional}</td><td>{unplanned}</td><td>{open}</td><td>{same_day}</td>"
              "<td>{ed}</td><td>{planned}</td><td>{avoidable}</td><td>{not_judged}</td></tr>",
        "en": "<tr><td>{label}</td><td>{discharges}</td><td>{excluded}</td><td>{rh7}</td><td>"
              "{rh30}{provisional}</td><td>{unplanned}</td><td>{open}</td><td>{same_day}</td>"
              "<td>{ed}</td><td>{planned}</td><td>{avoidable}</td><td>{not_judged}</td></tr>",
    },
    "stats.definitions": {
        "fr": "<p><i>RH7 / RH30 (officiel, ATIH/DGOS, comparable au RH30 du territoire) : toutes "
              "causes, programmées comprises, réhospitalisation de 1 à 7 / 1 à 30 jours après la "
              "sortie, par patient (son premier séjour éligible de la période). Exclus : "
              "transferts en MCO, décès, séances (dialyse, chimiothérapie, radiothérapie), et les "
              "séjours suivants d'un même patient. RH30 non programmées : les mêmes sans les "
              "réhospitalisations programmées. Évitables : avis de l'équipe (HAS 2013) sur la "
              "première réhospitalisation non programmée. Voir docs/CLINICAL.md §3.</i></p>",
        "en": "<p><i>RH7 / RH30 (official, ATIH/DGOS, comparable with the territory's RH30): "
              "all-cause, planned ones included, readmission 1 to 7 / 1 to 30 days after "
              "discharge, per patient (their first eligible stay of the period). Excluded: "
              "transfers to an acute ward, deaths, sessions (dialysis, chemotherapy, "
              "radiotherapy), and a patient's later stays. Unplanned RH30: the same without "
              "planned readmissions. Avoidable: the team's judgement (HAS 2013) on the first "
              "unplanned readmission. See docs/CLINICAL.md §3.</i></p>",
    },
    "stats.compliance": {
        "fr": "<p>Check-lists de sortie complètes et à l'heure (items non rattrapables HAS 1, 2, "
              "3, 5, 8 renseignés dans les délais), par service :</p><table><tr><th>Service"
              "</th><th>Conformes</th></tr>{rows}</table>",
        "en": "<p>Discharge checklists complete and on time (HAS items 1, 2, 3, 5, 8, which "
              "cannot be remedied, answered in time), by ward:</p><table><tr><th>Ward</th>"
              "<th>Compliant</th></tr>{rows}</table>",
    },
    "stats.compliance_row": {"fr": "<tr><td>{ward}</td><td>{rate}</td></tr>",
                             "en": "<tr><td>{ward}</td><td>{rate}</td></tr>"},
    "stats.provisional": {"fr": " <i>provisoire</i>", "en": " <i>provisional</i>"},
    "stats.total": {"fr": "Total", "en": "Total"},
    "stats.all_wards": {"fr": "tous services", "en": "all wards"},
    "stats.table": {
        "fr": "<p><b>Réhospitalisations à 30 jours</b> — sorties de {first} à {last}, {ward}. "
              "Taux sur les fenêtres closes seulement ; les fenêtres encore ouvertes sont à "
              "part.</p><table>{head}{rows}</table>{by_ward}{definitions}{compliance}",
        "en": "<p><b>30-day readmissions</b> — discharges from {first} to {last}, {ward}. Rates "
              "over closed windows only; windows still open are shown apart.</p>"
              "<table>{head}{rows}</table>{by_ward}{definitions}{compliance}",
    },
    "stats.by_ward": {"fr": "<p>Par service :</p><table>{head}{rows}</table>",
                      "en": "<p>By ward:</p><table>{head}{rows}</table>"},
    "stats.empty": {"fr": "Aucune sortie suivie de {first} à {last} ({ward}).",
                    "en": "No followed discharge from {first} to {last} ({ward})."},
    "stats.unknown_ward": {"fr": "Aucune sortie suivie pour le service « {ward} » (services "
                                 "connus : {known}).",
                           "en": "No followed discharge for the ward \u201c{ward}\u201d "
                                 "(known wards: {known})."},
    "export.done": {
        "fr": "Export RH30 : {n} séjour(s) sortis de {first} à {last}, une ligne par séjour, "
              "références pseudonymes seulement. <code>readmitted_7</code> / <code>readmitted_30"
              "</code> : RH7 / RH30 officiels (toutes causes, par patient) ; <code>"
              "unplanned_readmitted_30</code> : sans les programmées ; <code>avoidable</code> : "
              "avis de l'équipe (HAS 2013) sur la première non programmée ; <code>exclusion"
              "</code> : mco, deces, iterative ou repeat (séjour suivant d'un même patient), hors "
              "dénominateur.",
        "en": "RH30 export: {n} stay(s) discharged from {first} to {last}, one line per stay, "
              "pseudonymous references only. <code>readmitted_7</code> / <code>readmitted_30"
              "</code>: official RH7 / RH30 (all-cause, per patient); <code>"
              "unplanned_readmitted_30</code>: without planned ones; <code>avoidable</code>: the "
              "team's judgement (HAS 2013) on the first unplanned one; <code>exclusion</code>: "
              "mco, deces, iterative or repeat (a patient's later stay), out of the denominator.",
    },
    "report.intro": {"fr": "<p>📊 Rapport mensuel RH30.</p>{table}",
                     "en": "<p>📊 Monthly RH30 report.</p>{table}"},
    "chart.title": {"fr": "Réhospitalisations par mois de sortie",
                    "en": "Readmissions by month of discharge"},
    "chart.rh30": {"fr": "RH30 officiel, toutes causes (1–30 j)",
                   "en": "Official RH30, all-cause (1–30 d)"},
    "chart.rh7": {"fr": "RH7 toutes causes (1–7 j)", "en": "All-cause RH7 (1–7 d)"},
    "chart.note": {"fr": "Barres hachurées : mois provisoire (fenêtres encore ouvertes).",
                   "en": "Hatched bars: provisional month (windows still open)."},
    "followup.none": {"fr": "Pas de suivi RH30 dans ce salon (<code>!rh30 debut JJ/MM/AAAA</code>).",
                      "en": "No RH30 follow-up in this room (<code>!followup start DD/MM/YYYY"
                            "</code>)."},
    "followup.not_patient_room": {"fr": "Le suivi RH30 se tient dans le salon d'un patient.",
                                  "en": "The RH30 follow-up lives in a patient's room."},
    "followup.already": {"fr": "Le suivi RH30 est déjà en place : <code>!rh30 plan</code>.",
                         "en": "The RH30 follow-up is already set: <code>!followup plan</code>."},
    "followup.exists_other": {"fr": "Le suivi RH30 de cet épisode est déjà en place, pour une "
                                    "sortie le {day}.",
                              "en": "This episode's RH30 follow-up is already set, for a "
                                    "discharge on {day}."},
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
    "followup.help.start": {
        "fr": "démarre le suivi RH30 : date de sortie, mode (domicile, had, ssr, ehpad, mco, "
              "deces), [iteratif], [risque]",
        "en": "starts the RH30 follow-up: discharge date, mode (domicile, had, ssr, ehpad, mco, "
              "deces), [iteratif], [risk]"},
    "followup.help.plan": {"fr": "le plan de suivi et l'état de chaque étape",
                           "en": "the follow-up plan and each step's state"},
    "followup.help.done": {"fr": "note une étape faite", "en": "records a step as done"},
    "followup.help.failed": {"fr": "note un échec (patient injoignable) : nouvel essai",
                             "en": "records a failure (patient unreachable): tried again"},
    "followup.help.risk": {"fr": "change le niveau de risque (l'abaisser : un médecin, avec la "
                                 "raison) : le plan est recalculé",
                           "en": "changes the risk level (lowering it: a physician, with the "
                                 "reason): the plan is rebuilt"},
    "followup.help.conditions": {"fr": "séjour court, soins à domicile (ou aucune) : le plan "
                                       "est recalculé",
                                 "en": "short stay, home care (or none): the plan is rebuilt"},
    "followup.help.resume": {"fr": "reprend le suivi suspendu par une réhospitalisation",
                             "en": "resumes a follow-up frozen by a readmission"},
    "followup.help.readmission": {
        "fr": "réhospitalisation (date, ou J+n depuis la sortie) [programmee] [urgences]",
        "en": "readmission (date, or J+n from discharge) [planned] [ed]"},
    "followup.help.avoidable": {"fr": "avis de l'équipe : réhospitalisation évitable oui|non, "
                                      "motif",
                                "en": "the team's judgement: avoidable yes|no, reason"},
    "followup.help.death": {"fr": "note le décès du patient après la sortie (date ou J+n) : "
                                  "plus aucun appel ni rappel",
                            "en": "records the patient's death after discharge (date or day "
                                  "+n): no more calls or reminders"},
    "followup.help.stats": {"fr": "indicateur RH7/RH30 [période] [service]",
                            "en": "RH7/RH30 indicator [period] [ward]"},
    "followup.help.export": {"fr": "export CSV pseudonymisé [période] [service]",
                             "en": "pseudonymous CSV export [period] [ward]"},
    "followup.help.lace": {"fr": "score LACE : durée, urgence, Charlson, passages aux urgences",
                           "en": "LACE score: stay, acute, Charlson, ED visits"},
    "followup.help.hospital": {"fr": "score HOSPITAL : hb= onco= na= acte= urgent= adm= duree=",
                               "en": "HOSPITAL score: hb= onco= na= acte= urgent= adm= duree="},
    **words("followup.label", step=("etape", "step"), note=("note", "note"),
            conditions=("conditions", "conditions"), verdict=("avis", "verdict"),
            readmission=("precisions", "details"), filter=("filtre", "filter")),
}

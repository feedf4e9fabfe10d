"""The dashboard's texts, French first (HTML templates: values are escaped, bots/runtime/i18n.py).
Registered when the dashboard is built (views.Dashboard), as a bot hands in its catalogue."""

from __future__ import annotations

from bots.runtime.i18n import Catalogue

TEXTS: Catalogue = {
    "dash.title": {"fr": "Liaison — tableau de bord", "en": "Liaison — dashboard"},
    "dash.skip": {"fr": "Aller au contenu", "en": "Skip to content"},
    "dash.signed_in": {"fr": "Connecté(e) : {user}", "en": "Signed in: {user}"},
    "dash.logout": {"fr": "Se déconnecter", "en": "Sign out"},
    "dash.login.title": {"fr": "Connexion", "en": "Sign in"},
    "dash.login.intro": {
        "fr": "Connectez-vous avec votre compte de messagerie Liaison (le même que dans Element).",
        "en": "Sign in with your Liaison messaging account (the one you use in Element).",
    },
    "dash.login.user": {"fr": "Identifiant", "en": "User name"},
    "dash.login.user_hint": {
        "fr": "Votre nom d'utilisateur (ex. alice) ou votre identifiant complet (@alice:{server}).",
        "en": "Your user name (e.g. alice) or your full ID (@alice:{server}).",
    },
    "dash.login.password": {"fr": "Mot de passe", "en": "Password"},
    "dash.login.submit": {"fr": "Se connecter", "en": "Sign in"},
    "dash.login.missing": {
        "fr": "Renseignez votre identifiant et votre mot de passe.",
        "en": "Enter your user name and your password.",
    },
    "dash.login.bad_user": {
        "fr": "Ce n'est pas un identifiant : tapez votre nom d'utilisateur (ex. alice) ou votre "
              "identifiant complet (@alice:{server}).",
        "en": "That is not a user name: type your user name (e.g. alice) or your full ID "
              "(@alice:{server}).",
    },
    "dash.login.other_server": {
        "fr": "Seuls les comptes de {server} se connectent ici.",
        "en": "Only accounts of {server} sign in here.",
    },
    "dash.login.wrong": {
        "fr": "Identifiant ou mot de passe incorrect.",
        "en": "Wrong user name or password.",
    },
    "dash.login.limited": {
        "fr": "Trop de tentatives de connexion : réessayez dans une minute.",
        "en": "Too many sign-in attempts: try again in a minute.",
    },
    "dash.login.unavailable": {
        "fr": "Le serveur de messagerie ne peut pas vérifier votre mot de passe pour l'instant : "
              "réessayez plus tard.",
        "en": "The messaging server cannot check your password right now: try again later.",
    },
    "dash.login.expired": {
        "fr": "Votre session a pris fin : reconnectez-vous.",
        "en": "Your session has ended: sign in again.",
    },
    "dash.login.sso": {"fr": "Se connecter avec l'authentification unique (Pro Santé Connect)",
                       "en": "Sign in with single sign-on (Pro Santé Connect)"},
    "dash.login.sso_failed": {
        "fr": "La connexion unique n'a pas abouti (lien expiré ou déjà utilisé) : recommencez.",
        "en": "Single sign-on did not complete (link expired or already used): try again.",
    },
    "dash.login.signed_in": {"fr": "Vous êtes connecté(e).", "en": "You are signed in."},
    "dash.login.logged_out": {"fr": "Vous êtes déconnecté(e).", "en": "You are signed out."},
    "dash.forged": {
        "fr": "Ce formulaire a expiré ou ne vient pas de cette page : rechargez la page et "
              "recommencez.",
        "en": "This form has expired or does not come from this page: reload the page and try "
              "again.",
    },
    "dash.forbidden.title": {"fr": "Accès refusé", "en": "Access refused"},
    "dash.forbidden": {
        "fr": "Le tableau de bord est réservé aux rôles de coordination, dans au moins une équipe "
              "que suit le bot.{needed}",
        "en": "The dashboard is for coordination roles, in at least one team the bot "
              "follows.{needed}",
    },
    "dash.forbidden.ask": {
        "fr": "Si vous devez y accéder, demandez à un coordinateur de vous donner un tel rôle "
              "dans une équipe.",
        "en": "If you need it, ask a coordinator to give you such a role in a team.",
    },
    "dash.today.title": {"fr": "Aujourd'hui", "en": "Today"},
    "dash.today.caption": {
        "fr": "Vos patients : salons ouverts dont vous êtes membre, et salons clos où du suivi "
              "reste à faire ({count})",
        "en": "Your patients: open rooms you are a member of, and closed ones with follow-up "
              "work due ({count})",
    },
    "dash.today.none": {
        "fr": "Vous n'êtes membre d'aucun salon patient ouvert.",
        "en": "You are not a member of any open patient room.",
    },
    "dash.col.ref": {"fr": "Dossier", "en": "File"},
    "dash.col.ward": {"fr": "Service", "en": "Ward"},
    "dash.col.patient": {"fr": "Patient", "en": "Patient"},
    "dash.col.discharge": {"fr": "Sortie prévue", "en": "Planned discharge"},
    "dash.col.progress": {"fr": "Checklist de sortie", "en": "Discharge checklist"},
    "dash.col.overdue": {"fr": "En retard", "en": "Overdue"},
    "dash.col.room": {"fr": "Salon", "en": "Room"},
    "dash.born": {"fr": "né(e) le {date}", "en": "born {date}"},
    "dash.progress": {"fr": "{answered}/{total} items renseignés",
                      "en": "{answered}/{total} items answered"},
    "dash.validated": {"fr": "sortie validée", "en": "discharge validated"},
    "dash.no_checklist": {"fr": "pas de checklist", "en": "no checklist"},
    "dash.no_ward": {"fr": "—", "en": "—"},
    "dash.room_closed": {"fr": "salon clos, suivi en cours", "en": "room closed, follow-up due"},
    "dash.overdue_item": {"fr": "n° {item} ({who})", "en": "no. {item} ({who})"},
    "dash.nothing_overdue": {"fr": "aucun", "en": "none"},
    "dash.open_room": {"fr": "Ouvrir le salon {ref}", "en": "Open room {ref}"},
    "dash.sections": {"fr": "Sections de la page", "en": "Page sections"},
    "dash.table.discharges": {"fr": "Sorties prévues cette semaine",
                              "en": "Discharges planned this week"},
    "dash.table.steps": {"fr": "Suivi RH30 : étapes du jour et en retard",
                         "en": "RH30 follow-up: steps due today and late"},
    "dash.table.reviews": {"fr": "Réadmissions à revoir (30 derniers jours)",
                           "en": "Readmissions to review (last 30 days)"},
    "dash.table.patients": {"fr": "Vos patients", "en": "Your patients"},
    "dash.discharges.caption": {
        "fr": "Sorties prévues du lundi au dimanche, dans vos salons ({count})",
        "en": "Discharges planned Monday to Sunday, in your rooms ({count})",
    },
    "dash.discharges.none": {"fr": "Aucune sortie prévue cette semaine dans vos salons.",
                             "en": "No discharge planned this week in your rooms."},
    "dash.steps.caption": {
        "fr": "Étapes du suivi non faites, prévues aujourd'hui ou avant ({count})",
        "en": "Follow-up steps not done, due today or before ({count})",
    },
    "dash.steps.none": {"fr": "Aucune étape du suivi à faire aujourd'hui ni en retard.",
                        "en": "No follow-up step due today or late."},
    "dash.reviews.caption": {
        "fr": "Réadmissions non programmées dont l'évitabilité n'est pas encore jugée ({count})",
        "en": "Unplanned readmissions whose avoidability is not judged yet ({count})",
    },
    "dash.reviews.none": {"fr": "Aucune réadmission à revoir.",
                          "en": "No readmission to review."},
    "dash.reviews.how": {
        "fr": "Dans le salon : <code>!rh30 evitable oui|non</code> avec une note.",
        "en": "In the room: <code>!followup avoidable yes|no</code> with a note.",
    },
    "dash.col.step": {"fr": "Étape", "en": "Step"},
    "dash.col.who": {"fr": "À faire par", "en": "Who does it"},
    "dash.col.due": {"fr": "Échéance", "en": "Due"},
    "dash.col.readmitted": {"fr": "Réadmis(e) le", "en": "Readmitted on"},
    "dash.col.counts_as": {"fr": "Compte pour", "en": "Counts for"},
    "dash.step": {"fr": "n° {id} — {label}", "en": "no. {id} — {label}"},
    "dash.late_since": {"fr": "en retard (prévue le {date})", "en": "late (due {date})"},
    "dash.due_today": {"fr": "aujourd'hui", "en": "today"},
    "dash.not_posted": {"fr": "pas encore annoncée dans le salon",
                        "en": "not announced in the room yet"},
    "dash.overdue_count": {"fr": "{count} en retard", "en": "{count} overdue"},
    "dash.counts_as.rh7": {"fr": "RH7 (J+{delay})", "en": "RH7 (D+{delay})"},
    "dash.counts_as.rh30": {"fr": "RH30 (J+{delay})", "en": "RH30 (D+{delay})"},
    "dash.csv": {"fr": "Exporter « {table} » en CSV (sans identité des patients)",
                 "en": "Export “{table}” as CSV (no patient identity)"},
    "dash.nav.today": {"fr": "Aujourd'hui", "en": "Today"},
    "dash.nav.indicators": {"fr": "Indicateurs", "en": "Indicators"},
    "dash.ind.title": {"fr": "Indicateurs", "en": "Indicators"},
    "dash.ind.intro": {
        "fr": "Par mois et par service, sur les salons patients dont vous êtes membre (tous ceux "
              "de l'établissement si vous êtes dans l'équipe d'un salon de coordination).",
        "en": "By month and ward, over the patient rooms you are a member of (all of the "
              "records' rooms if you are in a coordination room's team).",
    },
    "dash.ind.from": {"fr": "Du mois (AAAA-MM)", "en": "From month (YYYY-MM)"},
    "dash.ind.to": {"fr": "Au mois (AAAA-MM)", "en": "To month (YYYY-MM)"},
    "dash.ind.ward": {"fr": "Service", "en": "Ward"},
    "dash.ind.all_wards": {"fr": "tous les services", "en": "all wards"},
    "dash.ind.show": {"fr": "Afficher", "en": "Show"},
    "dash.ind.csv": {"fr": "Télécharger ce tableau (CSV)", "en": "Download this table (CSV)"},
    "dash.ind.empty": {"fr": "Aucune donnée sur la période.", "en": "No data in the period."},
    "dash.ind.none": {"fr": "—", "en": "—"},
    "dash.ind.chart.rh30": {"fr": "RH30 officiel et non programmé par mois de sortie (%)",
                            "en": "Official and unplanned RH30 by month of discharge (%)"},
    "dash.ind.chart.usage": {"fr": "Messages et commandes par mois",
                             "en": "Messages and commands by month"},
    "dash.ind.chart.alt.rh30": {
        "fr": "Graphique : RH30 officiel (barres) et non programmé (ligne) par mois ; les "
              "valeurs sont dans le tableau ci-dessous.",
        "en": "Chart: official RH30 (bars) and unplanned (line) by month; the values are in "
              "the table below.",
    },
    "dash.ind.chart.alt.usage": {
        "fr": "Graphique : messages (barres) et commandes (ligne) par mois ; les valeurs sont "
              "dans le tableau d'usage.",
        "en": "Chart: messages (bars) and commands (line) by month; the values are in the "
              "usage table.",
    },
    "dash.ind.rh30.title": {"fr": "Réhospitalisations RH7 / RH30", "en": "Readmissions RH7 / RH30"},
    "dash.ind.rh30.def": {
        "fr": "Officiel (ATIH/DGOS) : toutes causes, par patient — le premier séjour éligible "
              "de la période est le séjour index ; sorties par décès, transfert MCO et séances "
              "exclues. Réhospitalisation comptée si 1 ≤ délai ≤ 7 (RH7) ou ≤ 30 jours (RH30) "
              "après la sortie. Non programmées : sans celles que l'équipe a signalées "
              "programmées. Évitables : jugement de l'équipe (HAS 2013) sur la première "
              "réhospitalisation non programmée, parmi celles jugées. Un taux n'utilise que les "
              "fenêtres closes : un mois aux fenêtres encore ouvertes est provisoire.",
        "en": "Official (ATIH/DGOS): all-cause, per patient — the first eligible stay of the "
              "period is the index stay; discharges by death, transfer to acute care and "
              "sessions excluded. A readmission counts if 1 ≤ delay ≤ 7 (RH7) or ≤ 30 days "
              "(RH30) after discharge. Unplanned: without those the team flagged planned. "
              "Avoidable: the team's judgement (HAS 2013) on the first unplanned readmission, "
              "among those judged. A rate uses closed windows only: a month with open windows "
              "is provisional.",
    },
    "dash.ind.checklists.title": {"fr": "Checklists de sortie complètes et à l'heure",
                                  "en": "Discharge checklists complete and on time"},
    "dash.ind.checklists.def": {
        "fr": "Parmi les checklists validées (mois de sortie), celles dont chaque item est "
              "Oui ou NA et dont aucun item non rattrapable à la sortie n'a été renseigné en "
              "retard (HAS 2015 ; un Non compte comme non fait).",
        "en": "Among validated checklists (month of discharge), those with every item Yes or "
              "NA and no item that cannot be remedied at discharge answered late (HAS 2015; a "
              "No counts as not done).",
    },
    "dash.ind.letters.title": {"fr": "Lettres de liaison envoyées à J0",
                               "en": "Discharge letters sent on the day"},
    "dash.ind.letters.def": {
        "fr": "Parmi les sorties validées (mois de sortie) que l'hôpital n'a pas annulées "
              "(ADT A13), celles dont la lettre de liaison a été enregistrée comme envoyée le "
              "jour même de la sortie (décret 2016-995) : son item coché Oui ce jour-là, à la "
              "main ou par la passerelle MSSanté quand un mail avec un document part du salon. "
              "Une lettre enregistrée la veille ou après le jour de la sortie ne compte pas.",
        "en": "Among validated discharges (month of discharge) the hospital did not cancel "
              "(ADT A13), those whose discharge letter was recorded as sent on the discharge "
              "day itself (décret 2016-995): its item answered Yes that day, by hand or by the "
              "MSSanté bridge when a mail with a document leaves the room. A letter recorded "
              "the day before or after the discharge day does not count.",
    },
    "dash.ind.steps.title": {"fr": "Étapes du suivi RH30 faites à temps",
                             "en": "RH30 follow-up steps done on time"},
    "dash.ind.steps.def": {
        "fr": "Étapes dont le jour est passé (mois du jour prévu ; hors étapes sautées pendant "
              "une réhospitalisation et clôture automatique), et celles marquées faites au plus "
              "tard ce jour-là.",
        "en": "Steps whose day has come (month of the planned day; not those skipped during a "
              "readmission nor the automatic closing), and those marked done by that day.",
    },
    "dash.ind.usage.title": {"fr": "Usage des salons patients", "en": "Patient room usage"},
    "dash.ind.usage.def": {
        "fr": "Salons ouverts dans le mois ; messages et commandes des professionnels (jamais "
              "leur contenu ; les messages des bots et du pont MSSanté exclus) ; professionnels "
              "actifs (au moins un message ou une commande) ; délai médian de la première "
              "réponse humaine : entre un message et le premier message d'une autre personne "
              "qui le suit (les commandes n'attendent ni ne répondent) ; mails reçus et envoyés "
              "par le pont MSSanté dans ces salons.",
        "en": "Rooms opened in the month; professionals' messages and commands (never their "
              "content; the bots' and the MSSanté bridge's messages left out); active "
              "professionals (at least one message or command); median time to the first "
              "human answer: between a message and the first later message from someone else "
              "(commands neither wait nor answer); mails received and sent by the MSSanté "
              "bridge in these rooms.",
    },
    "dash.ind.professionals.title": {"fr": "Professionnels actifs par rôle et structure",
                                     "en": "Active professionals by role and structure"},
    "dash.ind.professionals.def": {
        "fr": "Personnes ayant envoyé au moins un message ou une commande dans un salon "
              "patient du mois, par leur rôle dans l'équipe de ce salon (— sans rôle) et par "
              "structure, avec son numéro FINESS : celle dont la configuration (structures) "
              "les nomme, sinon celle de leur serveur Matrix, sinon « autre ».",
        "en": "People who sent at least one message or command in a patient room in the "
              "month, by their role in that room's team (— without one) and by structure, "
              "with its FINESS number: the one the configuration (structures) names them in, "
              "else their Matrix server's, else \"other\".",
    },
    "dash.ind.up_to_date.title": {"fr": "Dossiers tenus à jour (30 derniers jours)",
                                  "en": "Records kept up to date (last 30 days)"},
    "dash.ind.up_to_date.def": {
        "fr": "Salons patients ouverts aujourd'hui, et ceux avec au moins un message de "
              "professionnel dans les 30 derniers jours (cible e-Parcours : « un dossier ouvert "
              "doit être tenu à jour »). Indépendant de la période choisie.",
        "en": "Patient rooms open today, and those with at least one professional's message "
              "in the last 30 days (e-Parcours target: \"a record opened must be kept up to "
              "date\"). Whatever the period chosen.",
    },
    "dash.ind.col.month": {"fr": "Mois", "en": "Month"},
    "dash.ind.col.ward": {"fr": "Service", "en": "Ward"},
    "dash.ind.col.index_stays": {"fr": "Séjours index", "en": "Index stays"},
    "dash.ind.col.rh7": {"fr": "RH7 officiel", "en": "Official RH7"},
    "dash.ind.col.rh30": {"fr": "RH30 officiel", "en": "Official RH30"},
    "dash.ind.col.unplanned": {"fr": "RH30 non programmé", "en": "Unplanned RH30"},
    "dash.ind.col.avoidable": {"fr": "Évitables (jugées)", "en": "Avoidable (judged)"},
    "dash.ind.col.provisional": {"fr": "Statut", "en": "Status"},
    "dash.ind.col.validated": {"fr": "Checklists validées", "en": "Validated checklists"},
    "dash.ind.col.compliant": {"fr": "Complètes et à l'heure", "en": "Complete and on time"},
    "dash.ind.col.discharges": {"fr": "Sorties validées", "en": "Validated discharges"},
    "dash.ind.col.letters_j0": {"fr": "Lettre envoyée à J0", "en": "Letter sent on the day"},
    "dash.ind.col.steps_due": {"fr": "Étapes dues", "en": "Steps due"},
    "dash.ind.col.steps_on_time": {"fr": "Faites à temps", "en": "Done on time"},
    "dash.ind.col.opened": {"fr": "Salons ouverts", "en": "Rooms opened"},
    "dash.ind.col.messages": {"fr": "Messages", "en": "Messages"},
    "dash.ind.col.commands": {"fr": "Commandes", "en": "Commands"},
    "dash.ind.col.active": {"fr": "Professionnels actifs", "en": "Active professionals"},
    "dash.ind.col.median": {"fr": "Délai médian 1re réponse (min)",
                            "en": "Median first answer (min)"},
    "dash.ind.col.mails_in": {"fr": "Mails reçus", "en": "Mails in"},
    "dash.ind.col.mails_out": {"fr": "Mails envoyés", "en": "Mails out"},
    "dash.ind.col.role": {"fr": "Rôle", "en": "Role"},
    "dash.ind.col.structure": {"fr": "Structure", "en": "Structure"},
    "dash.ind.col.finess": {"fr": "FINESS", "en": "FINESS"},
    "dash.ind.col.open_rooms": {"fr": "Salons patients ouverts", "en": "Open patient rooms"},
    "dash.ind.col.updated": {"fr": "Mis à jour en 30 jours", "en": "Updated within 30 days"},
    "dash.error.title": {"fr": "Requête refusée", "en": "Request refused"},
    "dash.error.bad_request": {"fr": "Requête invalide : {why}.", "en": "Invalid request: {why}."},
    "dash.error.not_found": {"fr": "Cette page n'existe pas.", "en": "There is no such page."},
    "dash.error.internal": {
        "fr": "Erreur interne : rien n'a été modifié. Réessayez ou prévenez l'administrateur.",
        "en": "Internal error: nothing was changed. Try again or tell the administrator.",
    },
    "dash.back": {"fr": "Retour au tableau de bord", "en": "Back to the dashboard"},
    "dash.back_login": {"fr": "Retour à la connexion", "en": "Back to sign-in"},
}

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
        "fr": "Vos patients : salons ouverts dont vous êtes membre ({count})",
        "en": "Your patients: open rooms you are a member of ({count})",
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

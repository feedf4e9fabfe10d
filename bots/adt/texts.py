"""The ADT feed's texts (fr first, en): why a message is refused or set aside, and what the
applier says in rooms. They name the field, never its content (refusals go into ACKs and logs).
Handed explicitly to `Refused.text` and `ack`; to the runtime by the applier (`Bot(texts=…)`)."""

from __future__ import annotations

from bots.runtime.i18n import Catalogue

TEXTS: Catalogue = {
    "adt.not_hl7": {"fr": "Ce n'est pas un message HL7 v2 lisible (segment MSH attendu en tête).",
                    "en": "Not a readable HL7 v2 message (an MSH segment must come first)."},
    "adt.bad_msh": {"fr": "En-tête MSH invalide : {field} manquant ou illisible.",
                    "en": "Invalid MSH header: {field} missing or unreadable."},
    "adt.unsupported_event": {
        "fr": "Événement non pris en charge ({field}) : ADT A01, A02, A03, A04, A05, A08, A11, "
              "A13 ou A40 attendu.",
        "en": "Unsupported event ({field}): ADT A01, A02, A03, A04, A05, A08, A11, A13 or A40 "
              "expected."},
    "adt.missing_segment": {"fr": "Segment {field} manquant.",
                            "en": "Missing {field} segment."},
    "adt.missing_field": {"fr": "Champ {field} manquant.", "en": "Missing field {field}."},
    "adt.missing_ins": {
        "fr": "Pas d'INS dans {field} (NIR 1.2.250.1.213.1.4.8 ou NIA 1.2.250.1.213.1.4.9).",
        "en": "No INS in {field} (NIR 1.2.250.1.213.1.4.8 or NIA 1.2.250.1.213.1.4.9)."},
    "adt.ins_invalid": {
        "fr": "INS invalide dans {field} (longueur, caractères ou mois de naissance).",
        "en": "Invalid INS in {field} (length, characters or birth month)."},
    "adt.ins_key": {"fr": "INS invalide dans {field} : la clé de contrôle ne correspond pas.",
                    "en": "Invalid INS in {field}: the control key does not match."},
    "adt.ins_mismatch": {
        "fr": "L'INS de {field} ne correspond pas au sexe ou à la date de naissance.",
        "en": "The INS in {field} does not match the sex or birth date."},
    "adt.bad_identity": {"fr": "Trait d'identité inutilisable dans {field}.",
                         "en": "Unusable identity trait in {field}."},
    "adt.bad_date": {"fr": "Date invalide dans {field}.", "en": "Invalid date in {field}."},
    "adt.unknown_disposition": {
        "fr": "Mode de sortie inconnu dans {field} (table de correspondance : docs/ADT.md).",
        "en": "Unknown discharge disposition in {field} (mapping table: docs/ADT.md)."},
    "adt.too_large": {
        "fr": "Message trop volumineux : refusé sans être lu (taille maximale : adt/max_message_kib "
              "de la configuration de Liaison).",
        "en": "Message too large: refused unread (maximum size: adt/max_message_kib in Liaison's "
              "configuration)."},
}

# What the applier (bots/adt/applier.py) says in rooms, and why it set a row aside (listed in
# the coordination rooms beside the intake's refusals above).
APPLIER: Catalogue = {
    "adt.unknown_ward": {
        "fr": "Service inconnu dans {field} : à déclarer dans adt.wards (docs/OPERATIONS.md) ou "
              "à traiter à la main.",
        "en": "Unknown ward in {field}: to declare in adt.wards (docs/OPERATIONS.md) or to "
              "handle by hand."},
    "adt.identity_conflict": {
        "fr": "Mêmes traits d'identité qu'un patient connu sous un autre INS ({field}) : à "
              "vérifier (identitovigilance).",
        "en": "Same identity traits as a known patient with another INS ({field}): to check "
              "(identity monitoring)."},
    "adt.followup_exists": {
        "fr": "Le suivi RH30 de cet épisode est déjà en place pour une autre sortie : à vérifier "
              "et à noter à la main.",
        "en": "This episode's RH30 follow-up is already set for another discharge: to check and "
              "record by hand."},
    "adt.room_failed": {
        "fr": "Le salon de cette admission n'a pas pu être créé (compte de l'équipe du service "
              "inconnu ou non autorisé : journal des bots) : corrigez adt.wards, puis ouvrez-le "
              "avec !patient ouvrir.",
        "en": "The room of this admission could not be created (a ward team account unknown or "
              "not allowed: the bots' log): correct adt.wards, then open it with !patient "
              "open."},
    "adt.episode_closed": {
        "fr": "La chambre du patient est en cours de clôture : à traiter à la main.",
        "en": "The patient's room is being closed: to handle by hand."},
    "adt.nothing_to_cancel": {
        "fr": "Rien à annuler : la sortie ou l'admission annulée n'a pas été enregistrée par le "
              "flux ; à vérifier à la main.",
        "en": "Nothing to cancel: the cancelled discharge or admission was not recorded by the "
              "feed; to check by hand."},
    "adt.other_discharge": {
        "fr": "La sortie annulée ({field}) n'est pas celle qu'enregistre le suivi RH30 : à "
              "vérifier et à corriger à la main.",
        "en": "The cancelled discharge ({field}) is not the one the RH30 follow-up holds: to "
              "check and correct by hand."},
    "adt.returns_recorded": {
        "fr": "Sortie annulée, mais une réhospitalisation ou un décès est déjà noté après elle : "
              "à corriger à la main.",
        "en": "Discharge cancelled, but a readmission or a death is already recorded after it: "
              "to correct by hand."},
    "adt.recorded_by_hand": {
        "fr": "Admission annulée, mais la réhospitalisation de ce jour ({field}) a été notée par "
              "une personne : à retirer à la main.",
        "en": "Admission cancelled, but that day's readmission ({field}) was recorded by a "
              "person: to withdraw by hand."},
    "adt.judged": {
        "fr": "Admission annulée, mais la réhospitalisation de ce jour ({field}) a déjà été "
              "jugée (évitable ou non) : à retirer à la main.",
        "en": "Admission cancelled, but that day's readmission ({field}) was already judged "
              "(avoidable or not): to withdraw by hand."},
    "adt.less_trusted": {
        "fr": "L'identité du patient dans Liaison est qualifiée ; celle de ce message ne l'est "
              "pas ({field}) : elle n'a pas été reprise. À vérifier par l'identitovigilance.",
        "en": "The patient's identity in Liaison is qualified; this message's is not ({field}): "
              "it was not taken. For the identity-vigilance team to check."},
    "adt.failed": {
        "fr": "L'application de ce message a échoué plusieurs fois : à traiter à la main (le "
              "journal des bots dit l'erreur).",
        "en": "Applying this message failed several times: to handle by hand (the bots' log "
              "says the error)."},
    "adt.other_reason": {"fr": "Raison {reason} ({field}).", "en": "Reason {reason} ({field})."},
    "adt.quarantine": {
        "fr": "📥 Messages du flux ADT de l'hôpital mis de côté, sans effet :<ul>{items}</ul>",
        "en": "📥 Messages of the hospital's ADT feed set aside, with no effect:<ul>{items}</ul>"},
    "adt.quarantine.item": {
        "fr": "<li>{event} · MSH-10 <code>{control_id}</code> · {sender} : {reason}</li>",
        "en": "<li>{event} · MSH-10 <code>{control_id}</code> · {sender}: {reason}</li>"},
    "adt.discharge_cancel_by_hand": {
        "fr": "↩️ L'hôpital a annulé une sortie de ce patient. {reason}",
        "en": "↩️ The hospital cancelled a discharge of this patient. {reason}"},
    "adt.admission_cancelled": {
        "fr": "↩️ L'hôpital a annulé l'admission du {day}.",
        "en": "↩️ The hospital cancelled the admission of {day}."},
    "adt.admission_cancelled_opened": {
        "fr": "↩️ L'hôpital a annulé l'admission du {day}, qui avait ouvert ce salon ; rien "
              "d'autre n'y est venu de l'hôpital depuis. Le salon reste ouvert : s'il ne sert "
              "plus, <code>!patient clore</code> le ferme.",
        "en": "↩️ The hospital cancelled the admission of {day}, which opened this room; "
              "nothing else came from the hospital here since. The room stays open: if it is "
              "of no more use, <code>!patient close</code> closes it."},
    "adt.merged_here": {
        "fr": "🔀 L'hôpital a fusionné deux dossiers de ce patient : ce salon est désormais "
              "celui du dossier retenu, dont voici l'identité.",
        "en": "🔀 The hospital merged two records of this patient: this room is now the one of "
              "the record kept, whose identity follows."},
    "adt.merged_away": {
        "fr": "🔀 L'hôpital a fusionné ce dossier dans celui du même patient suivi dans <a "
              "href=\"{link}\">{ref}</a> : poursuivez là-bas. Ce salon reste ouvert le temps d'y reporter "
              "ce qui doit l'être, puis <code>!patient clore</code>.{todo}",
        "en": "🔀 The hospital merged this record into the one of the same patient followed in "
              "<a href=\"{link}\">{ref}</a>: carry on there. This room stays open while what must be is "
              "carried over, then <code>!patient close</code>.{todo}"},
    "adt.merged_in": {
        "fr": "🔀 L'hôpital a fusionné dans ce dossier un autre dossier du même patient, suivi "
              "dans <a href=\"{link}\">{ref}</a>.{todo}",
        "en": "🔀 The hospital merged into this record another record of the same patient, "
              "followed in <a href=\"{link}\">{ref}</a>.{todo}"},
    "adt.merge_listed": {
        "fr": "🔀 L'hôpital a fusionné deux dossiers d'un même patient : <a href=\"{prior}\">"
              "{prior_ref}</a> dans <a href=\"{survivor}\">{survivor_ref}</a>.{todo}",
        "en": "🔀 The hospital merged two records of one patient: <a href=\"{prior}\">"
              "{prior_ref}</a> into <a href=\"{survivor}\">{survivor_ref}</a>.{todo}"},
    "adt.merge_todo": {"fr": "<br>À faire à la main :<ul>{items}</ul>",
                       "en": "<br>To do by hand:<ul>{items}</ul>"},
    "adt.merge.two_followups": {
        "fr": "<li>deux suivis RH30 en cours, un par salon : n'en garder qu'un (la sortie "
              "réelle), l'autre clos avec <code>!patient clore</code> de son salon</li>",
        "en": "<li>two RH30 follow-ups running, one per room: keep one (the real discharge), "
              "close the other with <code>!patient close</code> in its room</li>"},
    "adt.merge.followup_left": {
        "fr": "<li>le suivi RH30 en cours est dans l'ancien salon : à reprendre dans le salon "
              "retenu (<code>!rh30 debut</code>)</li>",
        "en": "<li>the RH30 follow-up running is in the old room: to start again in the room "
              "kept (<code>!followup start</code>)</li>"},
    "adt.merge.two_checklists": {
        "fr": "<li>deux check-lists de sortie ouvertes, une par salon : reporter les réponses "
              "dans celle du salon retenu</li>",
        "en": "<li>two discharge checklists open, one per room: carry the answers over to the "
              "one of the room kept</li>"},
    "adt.merge.checklist_left": {
        "fr": "<li>la check-list de sortie ouverte est dans l'ancien salon : à reprendre dans "
              "le salon retenu</li>",
        "en": "<li>the open discharge checklist is in the old room: to carry over to the room "
              "kept</li>"},
    "adt.transferred": {
        "fr": "🏥 Transfert signalé par l'hôpital : service {ward}.",
        "en": "🏥 Transfer reported by the hospital: ward {ward}."},
}

"""The ADT intake's texts (fr first, en): why a message is refused. They name the field, never
its content (they go into ACKs and logs). Handed explicitly to `Refused.text` and `ack`."""

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
        "fr": "L'INS de {field} ne correspond pas au sexe ou à la date de naissance (PID-7, PID-8).",
        "en": "The INS in {field} does not match the sex or birth date (PID-7, PID-8)."},
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

"""Texts shared by the bots of a patient episode (fr first, en): discharge modes, risk level."""

from __future__ import annotations

from bots.runtime.i18n import Lang, add_texts

TEXTS: dict[str, dict[Lang, str]] = {
    "mode.missing": {
        "fr": "Mode de sortie manquant ou inconnu (« {value} ») : indiquez-le d'abord, parmi "
              "{modes} (puis <code>iteratif</code> pour des séances de dialyse, chimiothérapie "
              "ou radiothérapie). Les transferts en MCO, les décès et les séjours itératifs "
              "sortent du dénominateur RH30.",
        "en": "Discharge mode missing or unknown (\u201c{value}\u201d): give it first, one of "
              "{modes} (then <code>iteratif</code> for dialysis, chemotherapy or radiotherapy "
              "sessions). Transfers to an acute ward, deaths and iterative stays leave the RH30 "
              "denominator.",
    },
    "mode.domicile": {"fr": "domicile", "en": "home"},
    "mode.had": {"fr": "domicile avec HAD", "en": "home with HAD"},
    "mode.ssr": {"fr": "SSR/SMR", "en": "rehabilitation (SSR/SMR)"},
    "mode.ehpad": {"fr": "EHPAD", "en": "nursing home (EHPAD)"},
    "mode.mco": {"fr": "transfert en MCO", "en": "transfer to an acute ward (MCO)"},
    "mode.deces": {"fr": "décès", "en": "death"},
    "mode.iterative": {"fr": ", séjour itératif (séances)", "en": ", iterative stay (sessions)"},
    "mode.not_index": {
        "fr": " Ce séjour n'entre pas dans le dénominateur RH7/RH30 (transfert MCO, décès ou "
              "séances).",
        "en": " This stay is not in the RH7/RH30 denominator (acute transfer, death or "
              "sessions).",
    },
    "risk.lower_physician": {
        "fr": "Le niveau de risque est <b>{level}</b> : seul un médecin peut l'abaisser, en "
              "donnant la raison.",
        "en": "The risk level is <b>{level}</b>: only a physician may lower it, giving the "
              "reason.",
    },
    "risk.lower_reason": {
        "fr": "Le niveau de risque est <b>{level}</b> : pour l'abaisser, donnez la raison après "
              "le niveau.",
        "en": "The risk level is <b>{level}</b>: to lower it, give the reason after the level.",
    },
    "risk.unknown": {
        "fr": "niveau de risque inconnu : patient traité comme à risque <b>élevé</b> (relance "
              "J0 comprise) tant qu'un score LACE/HOSPITAL ou un niveau n'est pas saisi",
        "en": "risk level unknown: the patient is treated as <b>high</b> risk (J0 escalation "
              "included) until a LACE/HOSPITAL score or a level is entered",
    },
}

add_texts(TEXTS)

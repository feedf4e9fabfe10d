"""Texts shared by the bots of a patient episode (fr first, en): discharge modes, risk level,
scores."""

from __future__ import annotations

from bots.runtime.i18n import Lang

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
    "score.result": {
        "fr": "Score {name} : <b>{points}</b>/{maximum} ({parts}) — risque <b>{risk}</b>. "
              "{meaning}",
        "en": "{name} score: <b>{points}</b>/{maximum} ({parts}) — <b>{risk}</b> risk. {meaning}",
    },
    "score.meaning.LACE": {
        "fr": "LACE (van Walraven 2010) : ≥ 10 = risque élevé de réhospitalisation ou de décès "
              "à 30 jours.",
        "en": "LACE (van Walraven 2010): ≥ 10 = high risk of readmission or death within 30 "
              "days.",
    },
    "score.meaning.HOSPITAL": {
        "fr": "HOSPITAL (Donzé 2013) : 0–4 faible, 5–6 intermédiaire, ≥ 7 élevé (réhospitalisation "
              "évitable à 30 jours).",
        "en": "HOSPITAL (Donzé 2013): 0–4 low, 5–6 intermediate, ≥ 7 high (potentially avoidable "
              "readmission within 30 days).",
    },
    "risk.faible": {"fr": "faible", "en": "low"},
    "risk.intermediaire": {"fr": "intermédiaire", "en": "intermediate"},
    "risk.bad": {
        "fr": "« {value} » n'est pas un niveau de risque (faible, intermediaire, eleve)",
        "en": "\u201c{value}\u201d is not a risk level (low, intermediate, high)",
    },
    "risk.eleve": {"fr": "élevé", "en": "high"},
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

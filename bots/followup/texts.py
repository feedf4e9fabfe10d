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
}

add_texts(TEXTS)

"""Synapse's user mapping for Pro Santé Connect: the default Jinja mapping (templates in
server-config/conf.d/sso.yaml.tmpl) given one more claim, `profession`, the label of the first
exercise's profession code (nomenclature TRE_G15), so display names say who is who."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse.handlers.oidc import JinjaOidcMappingProvider

# TRE_G15-ProfessionSante, the codes PSC gives in SubjectRefPro.exercices[].codeProfession.
PROFESSIONS = {
    "10": "Médecin", "21": "Pharmacien", "26": "Audioprothésiste", "28": "Opticien-lunetier",
    "31": "Assistant dentaire", "35": "Physicien médical", "40": "Chirurgien-dentiste",
    "50": "Sage-femme", "60": "Infirmier", "69": "Infirmier psychiatrique",
    "70": "Masseur-kinésithérapeute", "80": "Pédicure-podologue", "81": "Orthoprothésiste",
    "82": "Podo-orthésiste", "83": "Orthopédiste-orthésiste", "84": "Oculariste",
    "85": "Épithésiste", "86": "Technicien de laboratoire médical", "91": "Orthophoniste",
    "92": "Orthoptiste", "94": "Ergothérapeute", "95": "Diététicien", "96": "Psychomotricien",
    "98": "Manipulateur ERM",
}
DEFAULT_PROFESSION = "Professionnel de santé"


def profession(claims: Mapping[str, Any]) -> str:
    """The first exercise's profession, whatever shape the claim came in."""
    ref = claims.get("SubjectRefPro")
    exercises = ref.get("exercices") if isinstance(ref, Mapping) else None
    first = exercises[0] if isinstance(exercises, list) and exercises else None
    code = first.get("codeProfession") if isinstance(first, Mapping) else None
    return PROFESSIONS.get(code, DEFAULT_PROFESSION) if isinstance(code, str) else DEFAULT_PROFESSION


class PscMappingProvider(JinjaOidcMappingProvider):
    async def map_user_attributes(self, userinfo: Any, token: Any, failures: int) -> Any:
        return await super().map_user_attributes(
            {**userinfo, "profession": profession(userinfo)}, token, failures)

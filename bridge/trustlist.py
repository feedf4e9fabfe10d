"""The MSSanté trust space (Espace de Confiance): the domains allowed to exchange, from the
agency's white-list XML (namespace https://listeblanche.mssante.fr/schema, domains at
`//Domaine/Nom`, BRIEF §5). Pure: the document in, a `TrustList` out."""

from __future__ import annotations

from dataclasses import dataclass

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

NAMESPACE = "https://listeblanche.mssante.fr/schema"


class TrustListError(ValueError):
    pass


@dataclass(frozen=True)
class TrustList:
    domains: frozenset[str]

    def allows(self, address: str) -> bool:
        """Exact domain match: a subdomain of a listed domain is not listed."""
        local, at, domain = address.strip().lower().rpartition("@")
        return bool(local and at) and domain in self.domains


def parse_trust_list(document: bytes) -> TrustList:
    try:
        root = ElementTree.fromstring(document)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise TrustListError(f"not a trust list: {exc}") from None
    names = [*root.iter(f"{{{NAMESPACE}}}Domaine"), *root.iter("Domaine")]
    domains = frozenset(
        (name.text or "").strip().lower() for domain in names
        for name in (*domain.findall(f"{{{NAMESPACE}}}Nom"), *domain.findall("Nom"))
        if (name.text or "").strip())
    if not domains:
        raise TrustListError("the trust list names no domain")
    return TrustList(domains)

"""The values the conf.d templates of the Synapse modules and SSO need (server-config/conf.d/
policy.yaml.tmpl and sso.yaml.tmpl), from the renderer's settings. No Synapse import: the renderer
runs in the bots' process."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PscLogin:
    """Pro Santé Connect as Synapse's OpenID provider: the client Synapse is registered as (its
    redirect URI: public_baseurl + `_synapse/client/oidc/callback`) and the endpoints, given
    explicitly (Synapse does not ask the discovery document)."""

    issuer: str
    client_id: str
    client_secret: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


def conf_d_values(allowed_servers: Sequence[str], bots: Sequence[str],
                  psc: PscLogin | None) -> dict[str, str]:
    """`allowed_servers`: this server and its federation partners, the only ones invites may
    reach; `bots`: user IDs (`*` patterns allowed) the policy lets name patient rooms. Without
    `psc` the SSO part is rendered disabled."""
    sso = {field: getattr(psc, field) if psc else "" for field in PscLogin.__dataclass_fields__}
    return {
        "policy_allowed_servers": json.dumps(list(allowed_servers)),
        "policy_bots": json.dumps(list(bots)),
        "psc_enabled": json.dumps(psc is not None),
        **{f"psc_{field}": json.dumps(value) for field, value in sso.items()},
    }

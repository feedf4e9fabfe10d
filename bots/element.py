"""Element Web's config.json for a deployment, from server-config/element-config.json.tmpl.

The template turns off what would send data to third parties or outside the care network:
guests, 3PID (e-mail, phone) login, analytics (no `posthog` key), the integration manager
(empty URLs: Element's own defaults point at scalar.vector.im), widgets, calls, URL previews,
location sharing; permalinks stay on the deployment's Element rather than matrix.to.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from bots.resources import resource_dir


def render(homeserver_url: str, server_name: str, element_url: str, *, sso: bool = False,
           brand: str = "Liaison") -> dict[str, Any]:
    template = (resource_dir("server-config") / "element-config.json.tmpl").read_text()
    values = {"homeserver_url": homeserver_url.rstrip("/"), "server_name": server_name,
              "element_url": element_url.rstrip("/"), "brand": brand}
    # JSON-escaped, so that a value cannot break out of its string.
    config = json.loads(string.Template(template).substitute(
        {k: json.dumps(v)[1:-1] for k, v in values.items()}))
    if sso:
        # Straight to the identity provider: the homeserver offers SSO only.
        config["sso_redirect_options"] = {"immediate": True}
    return config


def write(path: Path, config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")

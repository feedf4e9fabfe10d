"""Who may do what, pure: the capability names in one module, the roles file and its schema
agreeing with it."""

from __future__ import annotations

import json

import yaml

from bots.careteam.roles import DEFAULT_ROLES
from bots.common import capabilities as cap
from bots.resources import resource_dir


def test_the_schema_lists_exactly_the_capabilities():
    schema = json.loads((resource_dir("schemas") / "roles.schema.json").read_text())
    role = schema["properties"]["roles"]["additionalProperties"]
    assert role["properties"]["may"]["items"]["enum"] == list(cap.ALL)


def test_the_roles_file_uses_only_the_capabilities():
    roles = yaml.safe_load(DEFAULT_ROLES.read_text())["roles"]
    used = {name for role in roles.values() for name in role["may"]}
    assert used <= set(cap.ALL)
    assert used == set(cap.ALL)  # each one is some role's

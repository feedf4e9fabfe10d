"""Who may do what, pure: the capability names in one module, the roles file and its schema
agreeing with it, and the one check commands and reactions go through."""

from __future__ import annotations

import json
from dataclasses import replace

import yaml

from bots.common import capabilities as cap
from bots.common.models import COORDINATION, PATIENT
from bots.common.permissions import check
from bots.common.roles import DEFAULT_ROLES, Roles
from bots.resources import resource_dir
from bots.runtime.commands import ANYONE, Caller, min_power


def test_the_schema_lists_exactly_the_capabilities():
    schema = json.loads((resource_dir("schemas") / "roles.schema.json").read_text())
    role = schema["properties"]["roles"]["additionalProperties"]
    assert role["properties"]["may"]["items"]["enum"] == list(cap.ALL)


def test_the_roles_file_uses_only_the_capabilities():
    roles = yaml.safe_load(DEFAULT_ROLES.read_text())["roles"]
    used = {name for role in roles.values() for name in role["may"]}
    assert used <= set(cap.ALL)
    assert used == set(cap.ALL)  # each one is some role's


# --- the one check, for commands and reactions -----------------------------------------------

ROLES = Roles.load()
IDE = Caller("@ide:h.fr", "!p:h.fr", 0, role="IDE", room_kind=PATIENT)


def test_the_check_lets_through_who_may():
    assert check(ROLES.permission(cap.CLINICAL, PATIENT), IDE) is None
    assert check(ANYONE, Caller("@x:h.fr", "!r:h.fr", 0)) is None


def test_a_command_refusal_names_the_roles_that_may_and_the_callers():
    forbidden = check(ROLES.permission(cap.DISCHARGE_OVERRIDE, PATIENT), IDE,
                      usage="!sortie valider")
    assert forbidden is not None
    assert forbidden.text("fr") == (
        "Vous n'avez pas le droit d'utiliser <code>!sortie valider</code> dans ce salon. "
        "Réservé à : MH (votre rôle : IDE).")
    assert forbidden.text("en") == (
        "You are not allowed to use <code>!sortie valider</code> in this room. "
        "Reserved for: MH (your role: IDE).")
    planner = check(ROLES.permission(cap.DISCHARGE_PLAN, PATIENT),
                    replace(IDE, role=None), usage="!sortie prevoir")
    assert planner is not None
    assert "Réservé à : IDEC, DAC, MH (votre rôle : aucun)." in planner.text("fr")


def test_a_refusal_in_the_wrong_kind_of_room_says_where():
    forbidden = check(ROLES.permission(cap.FOLLOWUP_STATS, COORDINATION),
                      replace(IDE, role="DAC"), usage="!rh30 stats")
    assert forbidden is not None
    assert forbidden.text("fr").endswith("Cela se fait dans un salon de coordination.")
    assert forbidden.text("en").endswith("It is done in a coordination room.")


def test_a_reaction_goes_through_the_same_check_with_its_own_words():
    saad = replace(IDE, role="SAAD")
    forbidden = check(ROLES.permission(cap.CLINICAL, PATIENT), saad,
                      "discharge.not_your_item_any")
    assert forbidden is not None
    assert forbidden.text("fr").startswith(
        "Votre rôle dans ce salon ne permet pas de répondre à la check-list. Réservé à : IDEC")
    assert forbidden.text("fr").endswith("(votre rôle : SAAD).")


def test_a_permission_not_about_roles_names_none():
    forbidden = check(min_power(50), Caller("@x:h.fr", "!r:h.fr", 0), usage="!x")
    assert forbidden is not None
    assert forbidden.text("en") == "You are not allowed to use <code>!x</code> in this room."

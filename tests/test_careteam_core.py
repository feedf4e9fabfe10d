"""The care-team bot's pure core: the open command's grammar, roles and permissions, what a room
looks like on Matrix, blind indexes, command text from Element pills, configuration."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bots import config
from bots.careteam import rooms
from bots.careteam.api import parse_json, validate
from bots.careteam.requests import Member, RequestError, parse_open, tokens
from bots.common import capabilities as cap
from bots.common.api import ApiError
from bots.common.identity import IdentityError, normalize_name
from bots.common.models import COORDINATION, PATIENT
from bots.common.roles import Roles
from bots.runtime.commands import Caller, command_text
from bots.runtime.vault import Vault
from tests.careteam_helpers import INS
from tests.conftest import examples

TODAY = date(2026, 11, 23)
ROLES = Roles.load()


def test_open_command_grammar():
    spaced = " ".join([INS[0], INS[1:3], INS[3:5], INS[5:7], INS[7:10], INS[10:13], INS[13:]])
    req = parse_open(f'"DE LA TOUR" Marie Claire 12/03/1948 f {spaced} service="Soins de suite" '
                     "admission=20/11/2026 lieu=75056 @bob:chu.example:ide "
                     "@ana:chu.example:8448:MT", ROLES, TODAY)
    assert req.identity.family_name == "DE LA TOUR"
    assert req.identity.given_names == "Marie Claire"
    assert req.identity.birth_date == date(1948, 3, 12) and req.identity.sex == "F"
    assert req.identity.ins == INS and req.identity.birth_place == "75056"
    assert req.ward == "Soins de suite" and req.admission_date == date(2026, 11, 20)
    assert req.team == (Member("@bob:chu.example", "IDE"), Member("@ana:chu.example:8448", "MT"))
    assert req.identity.initials == "D.M."


def test_quotes_from_phones_and_french_guillemets_group_words():
    assert tokens("« N'DIAYE FALL » “Aïssatou Marie” x") == ["N'DIAYE FALL", "Aïssatou Marie", "x"]


@pytest.mark.parametrize(("text", "key"), [
    ("DUPONT", "identity.missing"),
    ("DUPONT Marie", "identity.missing"),
    ("DUPONT Marie 12/03/1948", "identity.missing"),
    ("DUPONT Marie 12/03/1948 X", "identity.bad_sex"),
    ("DUPONT Marie 12/03/2099 F", "identity.date_range"),
    ("DUPONT Marie 12/03/1948 F couleur=bleu", "open.bad_option"),
    ("DUPONT Marie 12/03/1948 F @bob:chu.example:CHEF", "open.bad_member"),
    ("DUPONT Marie 12/03/1948 F @bob", "open.bad_member"),
    ("DUPONT Marie 12/03/1948 F bonjour", "open.bad_word"),
    ("DUPONT Marie 12/03/1948 F 1234", "ins.length"),
    ("DUP0NT Marie 12/03/1948 F", "identity.bad_name"),
])
def test_bad_open_commands_say_why(text, key):
    with pytest.raises((IdentityError, RequestError)) as caught:
        parse_open(text, ROLES, TODAY)
    assert caught.value.key == key


def test_roles_grant_capabilities_in_the_right_kind_of_room():
    open_here = ROLES.permission(cap.PATIENT_OPEN, COORDINATION)
    dac = Caller("@a:x", "!c:x", 50, role="DAC", room_kind=COORDINATION)
    assert open_here.allows(dac)
    assert not open_here.allows(Caller("@a:x", "!p:x", 50, role="DAC", room_kind=PATIENT))
    assert not open_here.allows(Caller("@b:x", "!c:x", 0, role="IDE", room_kind=COORDINATION))
    # A room admin without a role acts as coordinator in a coordination room only.
    assert open_here.allows(Caller("@adm:x", "!c:x", 100, room_kind=COORDINATION))
    assert not ROLES.permission(cap.TEAM_MANAGE, PATIENT).allows(
        Caller("@adm:x", "!p:x", 100, room_kind=PATIENT))
    assert not open_here.allows(Caller("@a:x", "!elsewhere:x", 100))
    assert {r.code for r in ROLES.by_code.values() if cap.PATIENT_OPEN in r.may} == {"IDEC", "DAC"}
    assert all(r.power_level <= 50 for r in ROLES.by_code.values())


def test_a_bad_roles_file_is_refused(tmp_path: Path):
    path = tmp_path / "roles.yaml"
    path.write_text(yaml.safe_dump({"roles": {"IDE": {"label_fr": "x", "label_en": "x",
                                                      "power_level": 100, "may": []}}}))
    with pytest.raises(config.ConfigError, match="power_level"):
        Roles.load(path)


def test_room_request_is_private_encrypted_and_pseudonymous():
    episode = rooms.episode_content("P-2026-00042", "Cardiologie", "open")
    req = rooms.create_request(bot="@liaison:x", name=rooms.room_name(
        "{ref} · {initials}", "P-2026-00042", "D.M."), invite={"@a:x": 50, "@b:x": 0},
        allowed_servers=["x", "y.example:8448"], episode=episode)
    state = {e["type"]: e["content"] for e in req["initial_state"]}
    assert state["m.room.encryption"]["algorithm"] == "m.megolm.v1.aes-sha2"
    assert state["m.room.history_visibility"]["history_visibility"] == "joined"
    assert state["m.room.join_rules"]["join_rule"] == "invite"
    assert state[rooms.EPISODE_EVENT] == episode
    # Servers are named without their port in an ACL.
    assert state["m.room.server_acl"] == {"allow": ["x", "y.example"], "deny": [],
                                          "allow_ip_literals": False}
    assert req["name"] == "P-2026-00042 · D.M." and req["invite"] == ["@a:x", "@b:x"]
    levels = req["power_level_override"]
    assert levels["users"] == {"@a:x": 50, "@liaison:x": 100}
    assert levels["events"]["m.room.encryption"] == 100 and levels["invite"] == 50
    assert levels["events"]["m.room.server_acl"] == 100
    closed = rooms.closed_power_levels(levels)
    assert closed["events_default"] == closed["invite"] == 100
    assert closed["users"] == levels["users"]
    assert rooms.creator_has_all_power("12") and not rooms.creator_has_all_power("10")
    assert "@liaison:x" not in rooms.power_levels(None, {"@a:x": 50})["users"]


def test_only_the_bots_own_protected_room_is_adopted():
    ours = [{"type": "m.room.create", "state_key": "", "sender": "@liaison:x", "content": {}},
            *({"type": e["type"], "state_key": "", "sender": "@liaison:x", "content": e["content"]}
              for e in rooms.create_request(bot=None, name="P", invite={}, allowed_servers=["x"],
                                            )["initial_state"])]
    assert rooms.not_adoptable(ours, "@liaison:x") is None
    assert rooms.not_adoptable(ours, "@other:x") == "not created by the bot"
    for event_type, content in (("m.room.encryption", {}),
                                ("m.room.join_rules", {"join_rule": "public"}),
                                ("m.room.history_visibility", {"history_visibility": "shared"})):
        changed = [e if e["type"] != event_type else {**e, "content": content} for e in ours]
        assert event_type in (rooms.not_adoptable(changed, "@liaison:x") or "")


def test_blind_indexes_survive_key_rotation():
    old, new = Vault.new_key(), Vault.new_key()
    before = Vault([old]).index(INS)
    rotated = Vault([new, old])
    assert before in rotated.indexes(INS) and rotated.index(INS) != before
    assert INS not in before and len(before) == 64


def test_command_text_reads_the_user_id_from_element_pills():
    content = {
        "body": "!equipe ajouter Bob Martin: IDE",
        "format": "org.matrix.custom.html",
        "formatted_body": '!equipe ajouter <a href="https://matrix.to/#/%40bob%3Achu.example">'
                          "Bob Martin</a> IDE",
    }
    assert command_text(content) == "!equipe ajouter @bob:chu.example IDE"
    assert command_text({"body": "!ping"}) == "!ping"


def test_careteam_configuration(tmp_path: Path, monkeypatch):
    raw = {"homeserver": "https://m.example", "data_dir": "d", "database": "sqlite:///d/b.db",
           "data_keys": [Vault.new_key()], "accounts": [{"user_id": "@l:m.example",
                                                         "password": "pw"}],
           "careteam": {"api": {"listen": "127.0.0.1:8010", "token": "t" * 40},
                        "room_name": "{ref}"}}
    cfg = config.parse(raw, "test", tmp_path)
    assert cfg.careteam.api is not None and cfg.careteam.api.port == 8010
    assert cfg.careteam.room_name == "{ref}"
    raw["careteam"]["room_name"] = "{ref} {family_name}"
    with pytest.raises(config.ConfigError, match="room names are not end-to-end encrypted"):
        config.parse(raw, "test", tmp_path)
    raw["careteam"]["room_name"] = "{ref}"
    raw["careteam"]["api"]["token"] = "short" * 8
    monkeypatch.setenv("LIAISON_API_TOKEN", "x" * 10)
    with pytest.raises(config.ConfigError, match="at least 32"):
        config.parse(raw, "test", tmp_path)


def test_a_name_mixing_alphabets_is_refused():
    for name in ("DUPONT", "Élise-Ève d'Ornano", "Łukasz", "Иванов", "Nguyễn"):
        assert normalize_name(name, "family_name") == name
    with pytest.raises(IdentityError) as refused:
        normalize_name("DUP\u041eNT", "family_name")  # a Cyrillic О
    assert refused.value.key == "identity.mixed_scripts" and "value" not in refused.value.values


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(st.binary(max_size=200), st.recursive(
           st.none() | st.booleans() | st.integers() | st.text(max_size=10),
           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
               st.text(max_size=5), inner, max_size=3)).map(
           lambda v: json.dumps(v).encode())),
       st.sampled_from([None, "utf-8", "latin-1", "utf-16", "no-such-charset"]))
def test_the_api_body_parser_answers_400_or_a_value_never_crashes(raw: bytes,
                                                                  charset: str | None):
    try:
        parse_json(raw, charset)
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "invalid_json"


def test_the_api_body_parser_refuses_keys_given_twice_and_deep_nesting():
    with pytest.raises(ApiError, match="'ward' is given twice"):
        parse_json(b'{"ward": "A", "ward": "B"}', None)
    with pytest.raises(ApiError, match="a key is given twice"):
        parse_json(b'{"identity": {"DUPONT": 1, "DUPONT": 2}}', "utf-8")
    with pytest.raises(ApiError, match="nested"):
        parse_json(b"[" * 100_000 + b"]" * 100_000, None)
    assert parse_json('{"ward": "Gériatrie"}'.encode("latin-1"), "latin-1") == {
        "ward": "Gériatrie"}


@pytest.mark.parametrize("body", [
    {"identity": {"family_name": "DUPONT"}, "DUPONT Marie 12/03/1948": 1},  # additionalProperties
    {"identity": {"DUPONT Marie": "1948-03-12"}},
    {"resourceType": "Bundle", "type": "transaction", "entry": [], "DUPONT Marie": {}},
])
def test_a_schema_refusal_never_repeats_a_key_or_value_sent(body):
    schema = "fhir-bundle" if "resourceType" in body else "patient-create"
    with pytest.raises(ApiError) as refused:
        validate(schema, body)
    said = json.dumps([refused.value.message, refused.value.details], ensure_ascii=False)
    assert refused.value.status == 400 and refused.value.details
    assert "DUPONT" not in said and "1948" not in said, said


def test_a_schema_refusal_names_the_place_and_what_is_allowed():
    with pytest.raises(ApiError) as refused:
        validate("team-update", {})
    assert refused.value.details == [{"path": "", "message": "at least 1 property is needed"}]
    with pytest.raises(ApiError) as refused:
        validate("patient-create", {"identity": {"family_name": "X", "given_names": "Y",
                                                 "birth_date": "1948-03-12", "sex": "F",
                                                 "nom": "Z"}})
    (detail,) = refused.value.details
    assert detail["path"] == "/identity" and "family_name" in detail["message"]

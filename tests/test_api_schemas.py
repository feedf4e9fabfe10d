"""Provisioning API contract: the JSON Schemas under schemas/api and schemas/events and the OpenAPI
document that references them. Pure: no server, no homeserver."""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bots.careteam.rooms import episode_content

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
BASE = "https://liaison.example/schemas/"
OPENAPI_ID = BASE + "openapi.yaml"
SCHEMA_FILES = sorted([*(SCHEMAS / "api").glob("*.schema.json"),
                       *(SCHEMAS / "events").glob("*.schema.json")])
EXPECTED = {
    "api/identity.schema.json", "api/team-member.schema.json", "api/patient-create.schema.json",
    "api/team-update.schema.json", "api/coordination-member.schema.json",
    "api/patient.schema.json", "api/error.schema.json", "api/discharge.schema.json",
    "api/followup-plan.schema.json", "events/fr.liaison.episode.schema.json",
    "api/fhir-bundle.schema.json", "api/fhir-received.schema.json",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def _openapi() -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / "openapi.yaml").read_text(encoding="utf-8"))


def openapi() -> dict[str, Any]:
    """The OpenAPI document: parsed once (a large YAML file), a fresh copy for each caller."""
    return copy.deepcopy(_openapi())


def registry() -> Registry:
    """Every schema file by its $id, and the OpenAPI document at the URL its file would have: its
    relative $refs (./api/...) then land on the $ids, which mirror the file layout."""
    resources = [(load(p)["$id"], Resource.from_contents(load(p))) for p in SCHEMA_FILES]
    doc = DRAFT202012.create_resource(openapi())
    return Registry().with_resources([*resources, (OPENAPI_ID, doc)])


REGISTRY = registry()


def validator(name: str) -> Draft202012Validator:
    """The validator the server uses: draft 2020-12, $refs resolved, formats asserted."""
    return Draft202012Validator({"$ref": BASE + name}, registry=REGISTRY,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(name: str, instance: Any) -> list[str]:
    return [e.message for e in validator(name).iter_errors(instance)]


def walk(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """Every (JSON Pointer, value) in a JSON/YAML tree."""
    yield pointer, node
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        items = ()
    for key, value in items:
        escaped = str(key).replace("~", "~0").replace("/", "~1")
        yield from walk(value, f"{pointer}/{escaped}")


def resolve_pointer(doc: Any, pointer: str) -> Any:
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def create_example() -> dict[str, Any]:
    body = openapi()["paths"]["/api/v1/patients"]["post"]["requestBody"]
    return copy.deepcopy(body["content"]["application/json"]["examples"]["dupont"]["value"])


def ins_key_ok(ins: str) -> bool:
    digits = "".join(ins.split()).upper()
    number = int(digits[:5] + {"2A": "19", "2B": "18"}.get(digits[5:7], digits[5:7]) + digits[7:13])
    return 97 - number % 97 == int(digits[13:])


# --- the schema files themselves ---------------------------------------------------------------

def test_every_expected_schema_file_exists_and_no_other():
    assert {p.relative_to(SCHEMAS).as_posix() for p in SCHEMA_FILES} == EXPECTED


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_each_schema_is_valid_draft_2020_12_with_id_title_and_description(path):
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == BASE + path.relative_to(SCHEMAS).as_posix()
    assert schema["title"].strip() and schema["description"].strip()


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_object_in_a_schema_forbids_unknown_properties(path):
    objects = [ptr for ptr, node in walk(load(path))
               if isinstance(node, dict) and (node.get("type") == "object" or "properties" in node)]
    assert objects
    for ptr, node in walk(load(path)):
        if ptr in objects:
            assert node.get("additionalProperties") is False, f"{path.name}#{ptr}"


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_ref_in_a_schema_resolves(path):
    schema = load(path)
    resolver = REGISTRY.resolver(base_uri=schema["$id"])
    refs = [node["$ref"] for _, node in walk(schema) if isinstance(node, dict) and "$ref" in node]
    for ref in refs:
        assert resolver.lookup(ref).contents is not None, ref


# --- requests ----------------------------------------------------------------------------------

def test_the_openapi_create_example_is_a_valid_request_with_a_valid_ins_key():
    example = create_example()
    assert errors("api/patient-create.schema.json", example) == []
    assert example["identity"]["family_name"] == "DUPONT"
    assert len(example["team"]) == 4
    assert ins_key_ok(example["identity"]["ins"])


@pytest.mark.parametrize("ins", ["248033523801272", "2 48 03 35 238 012 72",
                                 "1 69 05 2A 004 018 72", "16905 2b00401872"])
def test_ins_accepts_spaces_and_corsica(ins):
    body = create_example()
    body["identity"]["ins"] = ins
    assert errors("api/patient-create.schema.json", body) == []


def test_corsican_ins_key_rule():
    assert ins_key_ok("1 69 05 2A 004 018 72")  # 2A counts as 19
    assert not ins_key_ok("1 69 05 2A 004 018 73")


def test_a_minimal_request_is_valid():
    body = {"identity": {"family_name": "DUPONT", "given_names": "MARIE",
                         "birth_date": "1948-03-12", "sex": "F"}}
    assert errors("api/patient-create.schema.json", body) == []


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


_DELETE = object()


@pytest.mark.parametrize(("path", "value"), [
    ("identity", _DELETE),
    ("identity.sex", _DELETE),
    ("nickname", "Mamie"),
    ("identity.address", "12 rue de la Paix"),
    ("identity.birth_date", "12/03/1948"),
    ("identity.birth_date", "1948-3-12"),
    ("identity.birth_date", "1948-02-30"),
    ("identity.family_name", ""),
    ("identity.family_name", "   "),
    ("identity.family_name", "DUPONT\n"),
    ("identity.given_names", "M" * 101),
    ("identity.sex", "X"),
    ("identity.ins", "24803352380127"),
    ("identity.ins", "2480335238012721"),
    ("identity.ins", "248AB3523801272"),
    ("identity.birth_place", "2C004"),
    ("team.0.user_id", "claire.lebon@chu-rennes.example"),
    ("team.0.user_id", "@Claire:chu-rennes.example"),
    ("team.0.user_id", "@claire.lebon"),
    ("team.1.role", "mh"),
    ("team.1.role", "M"),
    ("team.1.role", "MEDECIN_HOSPITALIER_SENIOR"),
    ("team.2.initials", "PP"),
    ("team", [{"user_id": f"@u{i}:chu.example", "role": "IDE"} for i in range(51)]),
    ("language", "de"),
    ("ward", ""),
    ("admission_date", "2026-13-01"),
])
def test_bad_create_requests_are_rejected(path, value):
    body = _set(create_example(), path, value)
    assert errors("api/patient-create.schema.json", body)


@pytest.mark.parametrize("field", ["identity.birth_date", "admission_date"])
def test_date_shape_is_checked_even_by_clients_that_ignore_format(field):
    """Draft 2020-12 makes "format" an annotation by default: the pattern is what other clients
    (and a validator without format checker) enforce."""
    plain = Draft202012Validator({"$ref": BASE + "api/patient-create.schema.json"},
                                 registry=REGISTRY)
    assert plain.is_valid(create_example())
    for bad in ("12/03/1948", "1948-3-12", "19480312", "1948-03-12T00:00:00"):
        assert not plain.is_valid(_set(create_example(), field, bad)), bad


@pytest.mark.parametrize("body", [
    {"add": [{"user_id": "@kine.rolland:sante-ville.example", "role": "KINE"}]},
    {"remove": ["@dr.morel:chu-rennes.example"]},
    {"add": [{"user_id": "@kine.rolland:sante-ville.example", "role": "KINE"}],
     "remove": ["@dr.morel:chu-rennes.example"]},
])
def test_team_updates_are_accepted(body):
    assert errors("api/team-update.schema.json", body) == []


@pytest.mark.parametrize("body", [
    {},
    {"add": []},
    {"remove": []},
    {"add": [], "remove": []},
    {"remove": ["@a:chu.example", "@a:chu.example"]},
    {"remove": ["dr.morel"]},
    {"add": [{"user_id": "@kine.rolland:sante-ville.example"}]},
    {"replace": [{"user_id": "@kine.rolland:sante-ville.example", "role": "KINE"}]},
])
def test_bad_team_updates_are_rejected(body):
    assert errors("api/team-update.schema.json", body)


def test_coordination_member_is_a_team_member():
    good = {"user_id": "@claire.lebon:chu-rennes.example", "role": "IDEC"}
    assert errors("api/coordination-member.schema.json", good) == []
    assert errors("api/coordination-member.schema.json", {"user_id": good["user_id"]})
    assert errors("api/coordination-member.schema.json", {**good, "role": "idec"})
    assert errors("api/coordination-member.schema.json", {**good, "room_id": "!x:chu.example"})


# --- answers and the episode event --------------------------------------------------------------

def test_a_patient_answer_never_holds_identity():
    answer = {"ref": "P-2026-00042", "room_id": "!abc:chu.example", "status": "open",
              "ward": None, "created": True,
              "team": [{"user_id": "@claire.lebon:chu.example", "role": "IDEC",
                        "membership": "joined"}]}
    assert errors("api/patient.schema.json", answer) == []
    assert errors("api/patient.schema.json", {**answer, "identity": create_example()["identity"]})
    assert errors("api/patient.schema.json", {**answer, "family_name": "DUPONT"})
    assert errors("api/patient.schema.json", {**answer, "ref": "2026-00042"})
    assert errors("api/patient.schema.json", {**answer, "status": "archived"})
    member = {**answer["team"][0], "membership": "banned"}
    assert errors("api/patient.schema.json", {**answer, "team": [member]})


def test_an_error_needs_a_code_and_a_message():
    good = {"error": {"code": "invalid_payload", "message": "Requête invalide.",
                      "details": [{"path": "/identity/birth_date", "message": "AAAA-MM-JJ"}]}}
    assert errors("api/error.schema.json", good) == []
    assert errors("api/error.schema.json", {"error": {"code": "not_found"}})
    assert errors("api/error.schema.json", {"error": {"message": "x"}})
    assert errors("api/error.schema.json", {"code": "not_found", "message": "x"})
    assert errors("api/error.schema.json", {"error": {**good["error"], "details": [{"path": "/"}]}})


def test_the_bot_episode_content_is_valid():
    for ward in (None, "Gériatrie aiguë"):
        for status in ("open", "discharged", "closed"):
            assert errors("events/fr.liaison.episode.schema.json",
                          episode_content("P-2026-00042", ward, status)) == []


@pytest.mark.parametrize("extra", [{"family_name": "DUPONT"}, {"ins": "248033523801272"},
                                   {"identity": {"family_name": "DUPONT"}}, {"initials": "MD"}])
def test_the_episode_event_rejects_identity(extra):
    content = {**episode_content("P-2026-00042", "Gériatrie aiguë", "open"), **extra}
    assert errors("events/fr.liaison.episode.schema.json", content)


@pytest.mark.parametrize("change", [{"version": 2}, {"status": "creating"}, {"ward": "W" * 101},
                                    {"ref": "P-26-42"}])
def test_the_episode_event_rejects_bad_content(change):
    content = {**episode_content("P-2026-00042", None, "open"), **change}
    assert errors("events/fr.liaison.episode.schema.json", content)


# --- the OpenAPI document ------------------------------------------------------------------------

def test_openapi_document_shape():
    doc = openapi()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "Liaison provisioning API" and doc["info"]["version"] == "1"
    assert [server["url"] for server in doc["servers"]] == ["http://127.0.0.1:8010"]
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearer": []}]
    operations = {(path, method) for path, item in doc["paths"].items()
                  for method in item if method != "parameters"}
    assert operations == {("/api/v1/patients", "post"), ("/api/v1/patients/{ref}", "get"),
                          ("/api/v1/patients/{ref}/team", "post"),
                          ("/api/v1/patients/{ref}/discharge", "post"),
                          ("/api/v1/coordination/members", "post"),
                          ("/api/v1/fhir", "post"), ("/api/v1/openapi.yaml", "get")}
    assert doc["paths"]["/api/v1/openapi.yaml"]["get"]["security"] == []


@pytest.mark.parametrize(("path", "method", "codes"), [
    ("/api/v1/patients", "post", {"200", "201", "400", "401", "409", "422", "502", "503"}),
    ("/api/v1/patients/{ref}", "get", {"200", "401", "404"}),
    ("/api/v1/patients/{ref}/team", "post", {"200", "400", "401", "404", "409", "422"}),
    ("/api/v1/patients/{ref}/discharge", "post",
     {"200", "201", "400", "401", "404", "409", "422", "503"}),
    ("/api/v1/coordination/members", "post", {"200", "400", "401", "422", "503"}),
    ("/api/v1/fhir", "post", {"200", "201", "400", "401", "503"}),
    ("/api/v1/openapi.yaml", "get", {"200"}),
])
def test_openapi_answers(path, method, codes):
    assert codes <= set(openapi()["paths"][path][method]["responses"])


def test_every_ref_in_openapi_points_to_an_existing_file_and_target():
    doc = openapi()
    refs = [node["$ref"] for _, node in walk(doc) if isinstance(node, dict) and "$ref" in node]
    files = {ref.partition("#")[0] for ref in refs} - {""}
    assert files >= {"./api/patient-create.schema.json", "./api/patient.schema.json",
                     "./api/error.schema.json", "./api/team-update.schema.json",
                     "./api/coordination-member.schema.json"}
    for ref in refs:
        target, _, fragment = ref.partition("#")
        assert not target.startswith(("/", "http:", "https:")), ref
        if target:
            path = (SCHEMAS / target).resolve()
            assert path.is_file(), ref
            assert path.is_relative_to(SCHEMAS), ref
            resolve_pointer(load(path), fragment)  # KeyError if the fragment is wrong
        else:
            resolve_pointer(doc, fragment)


def _media_examples(doc: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(where, pointer of the schema, example value) for every JSON example in the document."""
    for ptr, node in walk(doc):
        if not (ptr.endswith("/application~1json") and isinstance(node, dict)):
            continue
        for name, example in node.get("examples", {}).items():
            yield f"{ptr}/examples/{name}", f"{ptr}/schema", example["value"]


def test_every_openapi_example_matches_its_schema():
    doc = openapi()
    examples = list(_media_examples(doc))
    assert len(examples) >= 10
    for where, schema_ptr, value in examples:
        check = Draft202012Validator({"$ref": f"{OPENAPI_ID}#{schema_ptr}"}, registry=REGISTRY,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert [e.message for e in check.iter_errors(value)] == [], where


def test_openapi_error_examples_use_documented_codes():
    codes = {"invalid_json", "invalid_payload", "invalid_ins", "identity_conflict",
             "unknown_user", "server_not_allowed", "unknown_role", "not_found", "episode_closed",
             "unauthorized", "room_creation_failed", "unavailable", "invalid_fhir", "missing_ins"}
    used = {node["error"]["code"] for _, node in walk(openapi())
            if isinstance(node, dict) and isinstance(node.get("error"), dict)}
    assert used == codes
    description = load(SCHEMAS / "api/error.schema.json")["properties"]["error"]["properties"][
        "code"]["description"]
    assert all(code in description for code in codes)

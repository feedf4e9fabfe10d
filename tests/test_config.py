"""Configuration: schema validation with errors that name the key and what was expected."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bots import config
from bots.runtime.vault import Vault


def write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "liaison.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def good() -> dict:
    return {"homeserver": "https://matrix.chu.example/", "data_dir": "data",
            "database": "sqlite:///data/bots.db", "data_keys": [Vault.new_key()],
            "accounts": [{"user_id": "@liaison:chu.example", "password": "pw", "bots": []}]}


def test_a_good_file_loads_with_defaults_and_paths_resolved(tmp_path):
    cfg = config.load(write(tmp_path, good()))
    assert cfg.homeserver == "https://matrix.chu.example"
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.database == f"sqlite:///{tmp_path}/data/bots.db"
    assert cfg.language == "fr" and cfg.timezone == "Europe/Paris"
    assert cfg.allowed_servers == ("chu.example",)
    assert cfg.allow_legacy_devices is False


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.pop("homeserver"), "(top level): 'homeserver' is a required property"),
    (lambda r: r.update(language="de"), "language: 'de' is not one of ['fr', 'en']"),
    (lambda r: r["accounts"][0].update(user_id="liaison"), "accounts/0/user_id: 'liaison' does not match"),
    (lambda r: r.update(databse="x"), "Additional properties are not allowed ('databse' was unexpected)"),
    (lambda r: r["accounts"][0].pop("password"), "accounts/0: "),
])
def test_errors_name_the_key(tmp_path, change, message):
    raw = good()
    change(raw)
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, raw))
    assert message in str(err.value)


def test_keys_from_the_environment(tmp_path, monkeypatch):
    raw = good()
    raw.pop("data_keys")
    with pytest.raises(config.ConfigError, match="data_keys"):
        config.load(write(tmp_path, raw))
    key = Vault.new_key()
    monkeypatch.setenv("LIAISON_DATA_KEYS", f"{key}, {Vault.new_key()}")
    assert config.load(write(tmp_path, raw)).data_keys[0] == key


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(config.ConfigError, match="cannot read"):
        config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("homeserver: [unclosed")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(bad)


def test_discharge_section_and_a_bad_template_stops_the_start(tmp_path):
    from datetime import time

    from bots.app import build_runtimes

    raw = good()
    raw["discharge"] = {"templates": ["wards"], "working_hours": "07:30-20:00",
                        "digest_at": "08:15"}
    (tmp_path / "wards").mkdir()
    (tmp_path / "wards" / "cardio.yaml").write_text(
        "name: cardio\ntitle_fr: Cardio\ntitle_en: Cardio\nversion: 1\nsections:\n"
        "  - title_fr: A\n    title_en: A\n    items:\n"
        "      - {id: 1, label_fr: Bilan, roles: [CHEF], due: A+1}\n")
    cfg = config.load(write(tmp_path, raw))
    assert cfg.discharge.working_hours == (time(7, 30), time(20, 0))
    assert cfg.discharge.digest_at == time(8, 15)
    assert cfg.discharge.templates == (tmp_path / "wards",)
    # discharge without careteam on the account: refused, saying why.
    accounts = (config.AccountConfig("@liaison:chu.example", "pw", "Liaison", ("discharge",)),)
    with pytest.raises(config.ConfigError, match="needs careteam"):
        build_runtimes(replace(cfg, accounts=accounts), store=None)  # type: ignore[arg-type]
    # The bad template: the file, the item and the reason.
    accounts = (config.AccountConfig("@liaison:chu.example", "pw", "Liaison",
                                     ("careteam", "discharge")),)
    with pytest.raises(config.ConfigError) as err:
        build_runtimes(replace(cfg, accounts=accounts), store=None)  # type: ignore[arg-type]
    assert "cardio.yaml, item 1: unknown role(s) CHEF" in str(err.value)
    raw["discharge"] = {"working_hours": "19:00-08:00"}
    with pytest.raises(config.ConfigError, match="start must come before"):
        config.load(write(tmp_path, raw))


def test_a_mailbox_logs_in_with_pro_sante_connect_or_a_password_not_both(tmp_path):
    raw = good()
    (tmp_path / "secret").write_text("s3cret\n")
    raw["mssante"] = {
        "mailbox": "DAC@hopital.test", "careteam_account": "@liaison:chu.example",
        "imap": {"host": "imap.hopital.test", "port": 993, "security": "tls"},
        "smtp": {"host": "smtp.hopital.test", "port": 465, "security": "tls"},
        "trust_list": "liste.xml",
        "oauth": {"issuer": "https://auth.esante.gouv.fr/auth/realms/esante-wallet/",
                  "client_id": "liaison", "client_secret_file": "secret"}}
    oauth = config.load(write(tmp_path, raw)).mssante.oauth
    assert (oauth.issuer, oauth.client_secret, oauth.scope) == (
        "https://auth.esante.gouv.fr/auth/realms/esante-wallet", "s3cret",
        "openid offline_access")
    raw["mssante"]["smtp"]["password"] = "pw"
    with pytest.raises(config.ConfigError, match="oauth .XOAUTH2. or with a password"):
        config.load(write(tmp_path, raw))
    raw["mssante"]["smtp"].pop("password")
    raw["mssante"]["oauth"]["issuer"] = "http://auth.example"
    with pytest.raises(config.ConfigError, match="mssante/oauth/issuer"):
        config.load(write(tmp_path, raw))


def test_the_adt_section_defaults_to_loopback_and_the_care_team_account(tmp_path):
    import ipaddress

    raw = good()
    raw["accounts"][0]["bots"] = ["careteam"]
    raw["adt"] = {}
    adt = config.load(write(tmp_path, raw)).adt
    assert adt.listen == ("127.0.0.1", 2575) and adt.tls is None
    assert adt.careteam_account == "@liaison:chu.example" and adt.language == "fr"
    assert adt.networks == (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    raw["adt"] = {
        "listen": "0.0.0.0:12575", "language": "en",
        "tls": {"certificate": "adt/server.pem", "key": "adt/server.key",
                "client_ca": "adt/ca.pem"},
        "allow": {"networks": ["10.20.0.0/16", "2001:db8::/32"],
                  "subjects": ["CN=gam.chu.example,O=CHU Exemple"],
                  "fingerprints": ["SHA256:" + ":".join(["AB"] * 32)]}}
    adt = config.load(write(tmp_path, raw)).adt
    assert adt.listen == ("0.0.0.0", 12575) and adt.language == "en"
    assert adt.tls == config.AdtTlsConfig(tmp_path / "adt/server.pem", tmp_path / "adt/server.key",
                                          tmp_path / "adt/ca.pem")
    assert adt.fingerprints == ("ab" * 32,)  # as hashlib writes them
    assert ipaddress.ip_address("10.20.3.4") in adt.networks[0]


@pytest.mark.parametrize(("adt", "bots", "message"), [
    ({}, [], "adt/careteam_account: required when no account runs careteam"),
    ({"allow": {"networks": ["10.1.2.3/16"]}}, ["careteam"], "adt/allow/networks: 10.1.2.3/16"),
    ({"allow": {"subjects": ["CN=gam"]}}, ["careteam"], "need client certificates"),
    ({"tls": {"certificate": "c.pem", "key": "k.pem"}, "allow": {"fingerprints": ["ab" * 32]}},
     ["careteam"], "need client certificates"),
    ({"allow": {"fingerprints": ["abcd"]}}, ["careteam"], "adt/allow/fingerprints/0"),
    ({"max_message_kib": 1}, ["careteam"], "adt/max_message_kib"),
])
def test_adt_section_errors_say_what_is_wrong(tmp_path, adt, bots, message):
    raw = good()
    raw["accounts"][0]["bots"] = bots
    raw["adt"] = adt
    with pytest.raises(config.ConfigError, match=message):
        config.load(write(tmp_path, raw))


def test_adt_wards_and_a_role_the_roles_file_does_not_know_stops_the_start(tmp_path):
    from bots.app import build_runtimes

    raw = good()
    raw["accounts"][0]["bots"] = ["careteam", "followup", "adt"]
    raw["adt"] = {"wards": {"CARDIO": {"name": "Cardiologie", "team": [
        "@idec:chu.example:idec", "@mh:chu.example:8448:MH"],
        "coordination_room": "!coord:chu.example"}, "URG": {"name": "Urgences", "team": [
            "@idec:chu.example:IDEC"]}}}
    cfg = config.load(write(tmp_path, raw))
    assert cfg.adt_wards == {
        "CARDIO": config.WardConfig("Cardiologie", (("@idec:chu.example", "idec"),
                                                    ("@mh:chu.example:8448", "MH")),
                                    "!coord:chu.example"),
        "URG": config.WardConfig("Urgences", (("@idec:chu.example", "IDEC"),))}
    for bots, why in [(("careteam", "adt"), "bot adt needs followup"),
                      (("careteam", "followup", "adt"), "adt/wards/CARDIO: unknown role 'CHEF'")]:
        wards = {"CARDIO": config.WardConfig("Cardiologie", (("@x:chu.example", "CHEF"),))}
        accounts = (config.AccountConfig("@liaison:chu.example", "pw", "Liaison", bots),)
        with pytest.raises(config.ConfigError, match=why):
            build_runtimes(replace(cfg, accounts=accounts, adt_wards=wards),
                           store=None)  # type: ignore[arg-type]
    raw["adt"]["wards"]["CARDIO"]["team"] = ["@idec:chu.example"]  # no role
    with pytest.raises(config.ConfigError, match="adt/wards/CARDIO/team/0"):
        config.load(write(tmp_path, raw))


def test_structures_with_their_finess_members_and_servers(tmp_path):
    raw = good()
    raw["structures"] = [
        {"name": "CHU Exemple", "finess": "750712184", "servers": ["chu.example"]},
        {"name": "Cabinet Ville", "members": ["@mt:medecin.example", "@ide:chu.example"]}]
    cfg = config.load(write(tmp_path, raw))
    assert cfg.structures == (
        config.StructureConfig("CHU Exemple", "750712184", servers=frozenset({"chu.example"})),
        config.StructureConfig("Cabinet Ville", None,
                               frozenset({"@mt:medecin.example", "@ide:chu.example"})))
    assert config.load(write(tmp_path, good())).structures == ()


@pytest.mark.parametrize(("structures", "message"), [
    ([{"name": "CHU", "finess": "75071218", "servers": ["h.fr"]}],
     "structures/0/finess: '75071218' does not match"),
    ([{"name": "CHU", "finess": "750712185", "servers": ["h.fr"]}],
     "structures/0/finess: 750712185 is not a FINESS number"),
    ([{"name": "CHU"}], "structures/0: {'name': 'CHU'} is not valid under any of the given"),
    ([{"name": "CHU", "members": ["mt"]}], "structures/0/members/0: 'mt' does not match"),
    ([{"name": "A", "servers": ["h.fr"]}, {"name": "B", "servers": ["h.fr"]}],
     "structures/1: h.fr already in the structure 'A'"),
    ([{"name": "A", "members": ["@a:h.fr"]}, {"name": "B", "members": ["@a:h.fr"]}],
     "structures/1: @a:h.fr already in the structure 'A'"),
    ([{"name": "A", "servers": ["h.fr"]}, {"name": "A", "servers": ["v.fr"]}],
     "structures/1: A already in the structure 'A'"),
])
def test_structure_errors_say_what_is_wrong(tmp_path, structures, message):
    raw = good()
    raw["structures"] = structures
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, raw))
    assert message in str(err.value)

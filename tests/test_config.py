"""Configuration: schema validation with errors that name the key and what was expected."""

from __future__ import annotations

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

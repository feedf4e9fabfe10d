"""Two bots processes on the same accounts (docs/SCALING.md), the pure side: the `instance`
setting, each process's own device folder beside the account's shared cross-signing secret, and
the refusal of two processes on one SQLite file."""

from __future__ import annotations

import pytest

from bots import config
from bots.app import alone_on_sqlite
from bots.runtime.account import AccountFolder
from bots.runtime.vault import Vault
from tests.test_config import good, write

PG = "postgresql://liaison@db.chu.example/liaison"


def test_an_instance_needs_postgresql(tmp_path):
    with pytest.raises(config.ConfigError, match="two bots processes need PostgreSQL"):
        config.load(write(tmp_path, {**good(), "instance": "a"}))
    assert config.load(write(tmp_path, {**good(), "database": PG, "instance": "a"})) \
        .instance == "a"
    assert config.load(write(tmp_path, good())).instance is None


@pytest.mark.parametrize("name", ["main", "A", "a/b", ""])
def test_an_instance_name_is_a_short_slug_and_not_main(tmp_path, name):
    with pytest.raises(config.ConfigError, match="instance"):
        config.load(write(tmp_path, {**good(), "database": PG, "instance": name}))


def test_the_environment_names_the_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("LIAISON_INSTANCE", "b")
    path = write(tmp_path, {**good(), "database": PG, "instance": "a"})
    assert config.load(path).instance == "b"  # one file for both processes


def test_each_instance_is_its_own_device_under_one_identity(tmp_path):
    vault = Vault([Vault.new_key()])
    alone = AccountFolder(tmp_path, "@bot:x", vault).load()
    a = AccountFolder(tmp_path, "@bot:x", vault, "a")
    b = AccountFolder(tmp_path, "@bot:x", vault, "b")
    sa, sb = a.load(), b.load()
    # One cross-signing identity (its key file and secret), every device signed by it ...
    assert sa.cross_signing_secret == sb.cross_signing_secret == alone.cross_signing_secret
    assert a.cross_signing_file == b.cross_signing_file
    # ... and each process its own device: crypto store, pickle key, login.
    assert a.crypto_store != b.crypto_store and sa.pickle_key != sb.pickle_key
    sa.device_id, sa.access_token = "DEVA", "tok-a"
    a.save(sa)
    assert AccountFolder(tmp_path, "@bot:x", vault, "a").load().device_id == "DEVA"
    assert AccountFolder(tmp_path, "@bot:x", vault, "b").load().device_id is None
    assert AccountFolder(tmp_path, "@bot:x", vault).load().device_id is None


def test_a_second_process_on_one_sqlite_file_refuses_to_start(tmp_path):
    url = f"sqlite:///{tmp_path / 'bots.db'}"
    with alone_on_sqlite(url, "bots"):
        with pytest.raises(config.ConfigError, match="another bots process"), \
                alone_on_sqlite(url, "bots"):
            pass
        with alone_on_sqlite(url, "bridge"):  # the bridge is a process of another kind
            pass
    with alone_on_sqlite(url, "bots"):  # the first stopped: the lock went with it
        pass

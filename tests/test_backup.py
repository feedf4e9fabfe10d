"""`liaison backup` / `liaison restore`: a running dev stack backed up, restored into a fresh data
directory, and the same bot device answering in the same encrypted patient room."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml
from nio import RoomGetEventResponse, RoomMessageNotice
from sqlalchemy.engine import make_url

from bots import backup as backup_mod
from bots.config import load
from bots.devstack.clinician import Clinician
from bots.devstack.homeserver import free_port
from bots.runtime.store import migrate
from bots.runtime.vault import Vault
from tests.careteam_helpers import welcomed
from tests.conftest import PG_ADMIN
from tests.test_cli import LIAISON, liaison, stop, wait_up


def up(data_dir: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen([*LIAISON, "up", "--data-dir", str(data_dir), "--port", str(port),
                             "--api-port", str(free_port()), "--dashboard-port", str(free_port()),
                             "--adt-port", str(free_port()),
                             "--adt-metrics-port", str(free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.e2e  # `liaison up` in a child process: a real Synapse
async def test_backup_of_a_running_stack_restores_the_same_bot_in_the_same_room(tmp_path: Path):
    var1, var2, saved = tmp_path / "var1", tmp_path / "var2", tmp_path / "backup"
    proc = up(var1, free_port())
    nora: Clinician | None = None
    try:
        report = await wait_up(var1, proc)
        device_id = report["bots"][0]["device_id"]
        bot = report["bot_user_ids"][0]
        reg = liaison("register", "alice", "--password", "motdepasse", "--role", "DAC",
                      "--data-dir", str(var1))
        assert reg.returncode == 0, reg.stderr
        coordination = reg.stdout.split("coordination room ")[1].split(" ")[0]
        assert liaison("register", "nora", "--password", "motdepasse2",
                       "--data-dir", str(var1)).returncode == 0
        alice = Clinician(report["homeserver_url"], "@alice:localhost", "motdepasse",
                          tmp_path / "alice", key_file=tmp_path / "alice.xsign")
        nora = Clinician(report["homeserver_url"], "@nora:localhost", "motdepasse2",
                         tmp_path / "nora", key_file=tmp_path / "nora.xsign")
        await alice.login()
        await nora.login()
        try:
            await alice.wait_joined(coordination, alice.user_id)
            await alice.wait_for(lambda r, e: r == coordination and "Bienvenue" in
                                 getattr(e, "body", ""))
            opened = await alice.reply_to(coordination, await alice.send(
                coordination, "!patient ouvrir DUPONT Marie 12/03/1948 F @nora:localhost:IDE"),
                bot, timeout=60)
            room_id = re.search(r"matrix\.to/#/(![^\"<]+)",
                                opened.source["content"]["formatted_body"]).group(1)
        finally:
            await alice.close()
        await nora.wait_joined(room_id, nora.user_id)
        welcome = await welcomed(nora, room_id)  # the bot's earlier message, with the identity
        assert "DUPONT" in welcome.body

        done = liaison("backup", "--config", str(var1 / "liaison.yaml"), "--out", str(saved))
        assert done.returncode == 0, done.stderr
        assert "THE DATA KEYS ARE NOT IN THIS BACKUP" in done.stderr
        await nora.pause()
    finally:
        assert stop(proc) == 0

    # The data keys are nowhere in the backup: they stay with the configuration.
    keys = yaml.safe_load((var1 / "liaison.yaml").read_text())["data_keys"]
    for file in saved.rglob("*"):
        if file.is_file():
            assert not any(key.encode() in file.read_bytes() for key in keys), file

    # A damaged backup is refused before anything is written.
    damaged = tmp_path / "damaged"
    shutil.copytree(saved, damaged)
    (damaged / "synapse-config" / "signing.key").write_text("ed25519 a_bad key\n")
    var3 = tmp_path / "var3"
    var3.mkdir()
    shutil.copy(var1 / "liaison.yaml", var3 / "liaison.yaml")
    bad = liaison("restore", "--config", str(var3 / "liaison.yaml"), "--from", str(damaged))
    assert bad.returncode == 2 and "damaged" in bad.stderr
    assert sorted(p.name for p in var3.iterdir()) == ["liaison.yaml"]

    # The operator's configuration (with its keys, kept apart) and the backup, in a fresh place.
    var2.mkdir()
    shutil.copy(var1 / "liaison.yaml", var2 / "liaison.yaml")
    shutil.rmtree(var1)  # the old machine is gone
    done = liaison("restore", "--config", str(var2 / "liaison.yaml"), "--from", str(saved))
    assert done.returncode == 0, done.stderr
    again = liaison("restore", "--config", str(var2 / "liaison.yaml"), "--from", str(saved))
    assert again.returncode == 2 and "already there" in again.stderr

    proc = up(var2, free_port())
    try:
        report = await wait_up(var2, proc)
        assert report["bots"][0]["device_id"] == device_id, "the same bot device"
        await nora.resume(report["homeserver_url"])
        reply = await nora.reply_to(room_id, await nora.send(room_id, "!ping restauré"), bot,
                                    timeout=90)
        assert reply.body == "pong restauré"
        # The bot's earlier message, read from the restored homeserver, still decrypts for her
        # (nio decrypts what it fetches; an undecryptable one would stay a MegolmEvent).
        got = await nora.client.room_get_event(room_id, welcome.event_id)
        assert isinstance(got, RoomGetEventResponse), got
        assert isinstance(got.event, RoomMessageNotice) and got.event.decrypted
        assert "DUPONT" in got.event.body and got.event.sender == bot
    finally:
        await nora.close()
        assert stop(proc) == 0


@pytest.fixture
def synapse_pg(tmp_path: Path) -> Iterator[backup_mod.SynapseSite]:
    """A Synapse-like site on the machine's PostgreSQL: homeserver.yaml, signing key, media."""
    name = f"liaison_syn_{secrets.token_hex(4)}"
    server = make_url(PG_ADMIN)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("CREATE TABLE events (id text)")
        conn.execute("INSERT INTO events VALUES ('$evenement')")
    folder = tmp_path / "synapse"
    (folder / "media_store" / "local_content").mkdir(parents=True)
    (folder / "media_store" / "local_content" / "ab").write_bytes(b"image")
    (folder / "signing.key").write_text("ed25519 a_key secret\n")
    (folder / "homeserver.yaml").write_text(yaml.safe_dump({
        "database": {"name": "psycopg2", "args": {
            "user": server.username, "dbname": name, "host": server.host,
            "port": server.port or 5432}},
        "media_store_path": str(folder / "media_store")}))
    yield backup_mod.site_from_config(folder / "homeserver.yaml")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_postgresql_databases_round_trip(tmp_path: Path, pg_database: str,
                                         synapse_pg: backup_mod.SynapseSite):
    """The production path: the bots' and Synapse's databases on PostgreSQL (pg_dump -Fc,
    pg_restore), Synapse's media and signing key."""
    migrate(pg_database)
    admin = pg_database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS backup_probe (v text)")
        conn.execute("INSERT INTO backup_probe VALUES ('avant')")
    config = tmp_path / "liaison.yaml"
    config.write_text(yaml.safe_dump({
        "homeserver": "http://127.0.0.1:1", "data_dir": "bots", "database": pg_database,
        "data_keys": [Vault.new_key()], "accounts": [{"user_id": "@liaison:localhost",
                                                    "password": "x"}]}))
    (tmp_path / "bots" / "liaison").mkdir(parents=True)
    (tmp_path / "bots" / "liaison" / "cross-signing.keys").write_bytes(b"sealed")
    cfg = load(config)
    backup_mod.backup(cfg, tmp_path / "saved", synapse_pg)
    for part in ("bots-database", "synapse-database"):
        assert (tmp_path / "saved" / part / "database.dump").read_bytes()[:5] == b"PGDMP"
    # Everything lost: rows, data dir, media, signing key.
    synapse_db = synapse_pg.database
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DELETE FROM backup_probe")
    with psycopg.connect(synapse_db, autocommit=True) as conn:
        conn.execute("DROP TABLE events")
    shutil.rmtree(tmp_path / "bots")
    shutil.rmtree(synapse_pg.media_store)
    (synapse_pg.config_dir / "signing.key").unlink()

    backup_mod.restore(cfg, tmp_path / "saved", synapse_pg)
    with psycopg.connect(admin) as conn:
        assert conn.execute("SELECT v FROM backup_probe").fetchall() == [("avant",)]
    with psycopg.connect(synapse_db) as conn:
        assert conn.execute("SELECT id FROM events").fetchall() == [("$evenement",)]
    assert (tmp_path / "bots" / "liaison" / "cross-signing.keys").read_bytes() == b"sealed"
    assert (synapse_pg.media_store / "local_content" / "ab").read_bytes() == b"image"
    assert (synapse_pg.config_dir / "signing.key").read_text() == "ed25519 a_key secret\n"


def test_synapse_site_from_its_configuration(tmp_path: Path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "homeserver.yaml").write_text(yaml.safe_dump({
        "database": {"name": "psycopg2", "args": {
            "user": "synapse", "password": "p@ss:w/rd", "dbname": "synapse",
            "host": "postgres", "port": 5432}},
        "media_store_path": "/data/media_store"}))
    site = backup_mod.site_from_config(tmp_path / "homeserver.yaml")
    assert site.database == "postgresql://synapse:p%40ss%3Aw%2Frd@postgres:5432/synapse"
    assert site.media_store == Path("/data/media_store") and site.config_dir == tmp_path
    # conf.d parts are read after homeserver.yaml, as Synapse does.
    (tmp_path / "conf.d" / "db.yaml").write_text(yaml.safe_dump({
        "database": {"name": "sqlite3", "args": {"database": "homeserver.db"}}}))
    site = backup_mod.site_from_config(tmp_path / "homeserver.yaml")
    assert site.database == f"sqlite:///{tmp_path / 'homeserver.db'}"

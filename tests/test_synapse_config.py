"""`liaison synapse-config`: the one renderer, for both topologies (what compose's init runs)."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from bots.cli import main
from bots.synapseconf import WORKERS

HARDENING = ("enable_registration", "allow_guest_access", "federation_domain_whitelist",
             "allow_public_rooms_over_federation", "allow_public_rooms_without_auth",
             "enable_room_list_search", "room_list_publication_rules", "user_directory",
             "encryption_enabled_by_default_for_room_type", "presence", "url_preview_enabled",
             "max_upload_size", "enable_authenticated_media", "retention", "push")


def render(out: Path, *args: str) -> dict:
    assert main(["synapse-config", "--out", str(out), *args]) == 0
    return yaml.safe_load((out / "homeserver.yaml").read_text())


def test_workers_topology_rendered_for_compose(tmp_path: Path, capsys):
    out = tmp_path / "synapse"
    config = render(out, "--topology", "workers", "--server-name", "chu.example",
                    "--public-url", "https://matrix.chu.example/",
                    "--database-url", "postgresql://synapse:s%40cret@db:5433/synapse",
                    "--redis-host", "redis", "--redis-port", "6380")
    assert config["database"]["name"] == "psycopg2"
    assert {k: config["database"]["args"][k] for k in ("user", "password", "host", "port",
                                                       "dbname")} == {
        "user": "synapse", "password": "s@cret", "host": "db", "port": 5433, "dbname": "synapse"}
    assert config["redis"] == {"enabled": True, "host": "redis", "port": 6380}
    assert config["stream_writers"] == {"events": "events1", "to_device": "devices1",
                                        "device_lists": "devices1"}
    # Replication: on loopback only, authenticated.
    replication = [listener for listener in config["listeners"]
                   if listener["resources"][0]["names"] == ["replication"]]
    assert [listener["bind_addresses"] for listener in replication] == [["127.0.0.1"]]
    assert len(config["worker_replication_secret"]) >= 32
    for worker in WORKERS:
        worker_config = yaml.safe_load((out / "workers" / f"{worker.name}.yaml").read_text())
        assert worker_config["worker_name"] == worker.name
        for listener in worker_config.get("worker_listeners", []):
            if listener["resources"][0]["names"] == ["replication"]:
                assert listener["bind_addresses"] == ["127.0.0.1"]
                assert config["instance_map"][worker.name]["port"] == listener["port"]
    # Every process reads conf.d (modules, SSO) after the shared file.
    commands = capsys.readouterr().out.splitlines()
    assert len(commands) == len(WORKERS) + 2  # main, workers, nginx
    assert all(f"-c {out.resolve()}/conf.d" in c for c in commands if "synapse.app" in c)
    nginx = (out / "nginx.conf").read_text()
    assert "location ^~ /_synapse/admin {\n            return 404;" in nginx
    assert "location ^~ /_matrix/federation {\n            return 404;" in nginx
    assert '"base_url": "https://matrix.chu.example/"' in nginx
    assert stat.S_IMODE((out / "secrets.json").stat().st_mode) == 0o600
    # A second render (the next `compose up`) keeps the secrets and the signing key.
    key = (out / "signing.key").read_text()
    again = render(out, "--topology", "workers", "--database-url", "postgresql://db/synapse")
    assert again["macaroon_secret_key"] == config["macaroon_secret_key"]
    assert (out / "signing.key").read_text() == key


def test_federation_only_with_the_allowed_partners(tmp_path: Path):
    config = render(tmp_path, "--topology", "workers", "--database-url", "postgresql://db/s",
                    "--federation-allow", "partner.example")
    assert config["federation_domain_whitelist"] == ["partner.example"]
    assert "federation" in config["listeners"][0]["resources"][0]["names"]
    assert "proxy_pass http://synapse_main;" in (tmp_path / "nginx.conf").read_text()


def test_dev_and_production_share_the_hardening(tmp_path: Path):
    single = render(tmp_path / "single")
    workers = render(tmp_path / "workers", "--topology", "workers",
                     "--database-url", "postgresql://db/synapse")
    assert single["database"]["name"] == "sqlite3"
    assert {k: single[k] for k in HARDENING} == {k: workers[k] for k in HARDENING}
    assert single["enable_registration"] is False
    assert single["federation_domain_whitelist"] == []
    assert single["user_directory"]["search_all_users"] is False
    assert single["enable_authenticated_media"] is True
    assert single["retention"]["enabled"] is True


def test_workers_topology_needs_postgresql(tmp_path: Path, capsys):
    assert main(["synapse-config", "--topology", "workers", "--out", str(tmp_path),
                 "--database-url", "sqlite:///x.db"]) == 2
    assert "postgresql" in capsys.readouterr().err

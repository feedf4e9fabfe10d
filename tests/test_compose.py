"""compose.yaml, the production topology: valid against the Compose Specification's schema
(schemas/compose-spec.json, vendored), images pinned, secrets as files, every named volume
declared, restart policies and health checks; the image's entry point and health check."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bots import healthcheck, synapseconf
from bots.devstack.homeserver import free_port

ROOT = Path(__file__).resolve().parent.parent
# The workers as the renderer makes them (one source of truth): a service each, same command.
WORKERS = {w.name.replace("_", "-"): w for w in synapseconf.WORKERS}
NO_HTTP = {name for name, w in WORKERS.items() if not w.http}  # nothing to ask: restarted
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEYS?$|_KEY", re.I)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_each_worker_runs_what_the_renderer_rendered_for_it(compose):
    for name, worker in WORKERS.items():
        service = compose["services"][name]
        assert service["command"] == ["python", "-m", worker.app, "-c", "/data/homeserver.yaml",
                                      "-c", "/data/conf.d", "-c", f"/data/workers/{worker.name}.yaml"]
        # Replication listens on loopback: the workers share the main process's network.
        assert service["network_mode"] == "service:synapse-main", name


def test_valid_against_the_compose_specification(compose):
    schema = json.loads((ROOT / "schemas" / "compose-spec.json").read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]
    assert errors == []


def test_the_whole_topology_is_there(compose):
    services = compose["services"]
    for name in ["postgres", "redis", "init", "synapse-main", *WORKERS, "proxy", "element",
                 "bots", "bridge", "adt"]:
        assert name in services, name
    assert services["postgres"]["environment"]["POSTGRES_INITDB_ARGS"] == \
        "--encoding=UTF8 --locale=C"
    assert services["synapse-main"]["command"] == [
        "python", "-m", "synapse.app.homeserver", "-c", "/data/homeserver.yaml",
        "-c", "/data/conf.d"]
    for worker in WORKERS:
        assert services[worker]["depends_on"]["synapse-main"]["condition"] == "service_healthy"
    assert services["bots"]["command"][:2] == ["liaison", "bots"]
    assert services["bridge"]["command"][:2] == ["liaison", "bridge"]
    assert services["adt"]["command"][:2] == ["liaison", "adt"]
    init = "\n".join(services["init"]["command"])
    for step in ("liaison synapse-config --topology workers", "liaison element-config",
                 "liaison migrate"):
        assert step in init
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"


def test_every_image_is_pinned(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        ref, _, tag = image.partition("@")[0].rpartition(":")
        assert ref and tag and tag != "latest" and re.search(r"\d", tag), \
            f"{name}: {image} is not pinned to a version"
    liaison = {s["image"] for s in compose["services"].values() if "build" in s}
    assert liaison == {"liaison:0.1.0"}  # built here from the Dockerfile
    assert (ROOT / "Dockerfile").read_text().startswith("# The Liaison image")


def test_no_secret_is_inline(compose):
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/"), name
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key.removesuffix("_FILE")):
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), \
                    f"{name}: {key} must point at a secret file"
                assert Path(value).name in service["secrets"], f"{name}: {value} not mounted"
        for secret in service.get("secrets", []):
            assert secret in declared, f"{name}: secret {secret} not declared"
        # Commands read secrets from their files, never carry them.
        command = " ".join(service.get("command", []) or [])
        assert not re.search(r"(password|token|secret)=\S", command, re.I), name


def test_every_named_volume_is_declared(compose):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            if isinstance(volume, str):
                source = volume.split(":", 1)[0]
                if not source.startswith((".", "/")):
                    used.add(source)
            elif volume["type"] == "volume":
                used.add(volume["source"])
    assert used - declared == set()
    assert {"postgres-data", "synapse-data", "liaison-data"} <= used


def test_restart_policies_and_health_checks(compose):
    for name, service in compose["services"].items():
        assert service.get("restart") in ("always", "unless-stopped", "on-failure", "no"), name
        one_shot = service["restart"] == "no"
        if not one_shot and name not in NO_HTTP:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert compose["services"]["bots"]["healthcheck"]["test"][-1] == \
        "http://127.0.0.1:9100/health/ready"


def test_entrypoint_exports_secret_files(tmp_path: Path):
    keys = tmp_path / "data_keys"
    keys.write_text("key-one\nkey-two\n\n")
    done = subprocess.run([str(ROOT / "deploy" / "entrypoint.sh"), "sh", "-c",
                           'echo "$LIAISON_DATA_KEYS|${LIAISON_DATA_KEYS_FILE:-unset}"'],
                          env={"PATH": "/usr/bin:/bin", "LIAISON_DATA_KEYS_FILE": str(keys)},
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "key-one,key-two|unset"


@pytest.fixture
def health_server() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    # A short poll: shutdown() waits for the loop to look (0.5 s by default).
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_healthcheck_reads_the_port_from_synapse_config(tmp_path: Path, health_server: int):
    worker = tmp_path / "sync1.yaml"
    worker.write_text(yaml.safe_dump({"worker_name": "sync1", "worker_listeners": [
        {"type": "http", "port": health_server, "resources": [{"names": ["client"]}]}]}))
    assert healthcheck.main(["--synapse", str(worker)]) == 0
    down = tmp_path / "down.yaml"
    down.write_text(yaml.safe_dump({"listeners": [{"type": "http", "port": free_port()}]}))
    assert healthcheck.main(["--synapse", str(down)]) == 1
    none = tmp_path / "none.yaml"
    none.write_text(yaml.safe_dump({"worker_name": "pusher"}))
    assert healthcheck.main(["--synapse", str(none)]) == 1
    assert healthcheck.main([f"http://127.0.0.1:{health_server}/nothing"]) == 1


def test_the_example_bots_configuration_is_valid_and_serves_the_health_checks(compose):
    """deploy/liaison.example.yaml passes the configuration schema, and the bots, bridge and
    ADT intake containers serve /health/ready where their compose health checks ask for it; the
    intake listens on the port compose publishes."""
    example = yaml.safe_load((ROOT / "deploy" / "liaison.example.yaml").read_text())
    schema = json.loads((ROOT / "schemas" / "config.schema.json").read_text())
    jsonschema.validate(example, schema)
    ports = {"bots": example["metrics"]["listen"], "bridge": example["metrics"]["bridge_listen"],
             "adt": example["metrics"]["adt_listen"]}
    for service, listen in ports.items():
        check = " ".join(compose["services"][service]["healthcheck"]["test"])
        assert f":{listen.rsplit(':', 1)[1]}/health/ready" in check, service
    mllp = example["adt"]["listen"].rsplit(":", 1)[1]
    assert compose["services"]["adt"]["ports"] == [f"{mllp}:{mllp}"]

"""compose.yaml, the production topology: valid against the Compose Specification's schema
(schemas/compose-spec.json, vendored), images pinned, secrets as files, every named volume
declared, restart policies and health checks; the image's entry point and health check."""

from __future__ import annotations

import contextlib
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


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler` on a loopback port, in a thread; the port."""
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    # A short poll: shutdown() waits for the loop to look (0.5 s by default).
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def health_server() -> Iterator[int]:
    class Handler(Quiet):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

    with serving(Handler) as port:
        yield port


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


def test_the_proxy_routes_the_dashboard_host_from_the_bots_configuration(compose):
    """compose's init renders nginx.conf with the dashboard's server block, taken from
    deploy/liaison.example.yaml's dashboard section: its https host, the bots' listener."""
    init = "\n".join(compose["services"]["init"]["command"])
    assert "--dashboard-config /etc/liaison/liaison.yaml --dashboard-upstream-host bots" in init
    assert "/etc/liaison/liaison.yaml" in {c["target"] for c in compose["services"]["init"]["configs"]}
    example = yaml.safe_load((ROOT / "deploy" / "liaison.example.yaml").read_text())
    assert example["dashboard"]["secure_cookies"] is True
    route = synapseconf.DashboardRoute.from_bots_config(example, "bots")
    assert route == synapseconf.DashboardRoute("tableau.chu.example", "bots:8020")
    assert "ports" not in compose["services"]["bots"], "reached through the proxy only"
    with pytest.raises(ValueError, match="https"):  # a cookie over plain HTTP: refused
        synapseconf.DashboardRoute.from_bots_config(
            {"dashboard": {"listen": "0.0.0.0:8020", "public_url": "http://tableau.example"}},
            "bots")
    assert synapseconf.DashboardRoute.from_bots_config({}, "bots") is None


@pytest.fixture
def dashboard_stub() -> Iterator[int]:
    """The dashboard's part the proxy sees: a page that sets a cookie without Secure."""
    class Handler(Quiet):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            body = b"tableau de bord"
            self.send_response(200)
            self.send_header("Set-Cookie", "liaison=abc; HttpOnly; SameSite=Strict; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as port:
        yield port


@pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="nginx: make synapse-packages")
def test_the_rendered_proxy_serves_the_dashboard_on_its_host_with_secure_cookies(
        tmp_path: Path, dashboard_stub: int):
    ports = synapseconf.default_ports("workers") | {"proxy": free_port()}
    settings = synapseconf.SynapseSettings(
        server_name="chu.example", public_baseurl="https://matrix.chu.example/",
        topology="workers", ports=ports, database_url="postgresql://synapse:pw@127.0.0.1/synapse",
        dashboard=synapseconf.DashboardRoute("tableau.chu.example", f"127.0.0.1:{dashboard_stub}"))
    nginx = next(p for p in synapseconf.render(settings, tmp_path) if p.name == "nginx")
    proc = subprocess.Popen([*nginx.argv, "-g", "daemon off;"], stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{ports['proxy']}/"

        def get(host: str) -> tuple[int, str, str]:
            for _ in range(100):  # until nginx listens
                done = subprocess.run(["curl", "-s", "-i", "-H", f"Host: {host}", url],
                                      capture_output=True, text=True, timeout=10)
                if done.returncode == 0:
                    head, _, body = done.stdout.partition("\n\n")  # text: \r\n read as \n
                    cookie = next((line for line in head.splitlines()
                                   if line.lower().startswith("set-cookie:")), "")
                    return int(head.split()[1]), cookie, body
                threading.Event().wait(0.1)
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "no nginx")

        status, cookie, body = get("tableau.chu.example")
        assert (status, body) == (200, "tableau de bord"), (cookie, body)
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert "secure" in cookie.lower(), cookie
        status, cookie, body = get("matrix.chu.example")  # Synapse's side: not the dashboard
        assert body != "tableau de bord" and cookie == ""
    finally:
        proc.terminate()
        proc.wait(10)

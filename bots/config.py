"""The one YAML configuration file, validated against schemas/config.schema.json."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import yaml

from bots.resources import resource_dir


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class AccountConfig:
    user_id: str
    password: str
    device_name: str
    bots: tuple[str, ...]

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]

    @property
    def server_name(self) -> str:
        return self.user_id.split(":", 1)[1]


@dataclass(frozen=True)
class ApiConfig:
    host: str
    port: int
    token: str


@dataclass(frozen=True)
class CareteamConfig:
    coordination_rooms: tuple[str, ...] = ()
    create_coordination_room: str | None = None
    roles_file: Path | None = None
    # The file number alone: room names are not encrypted, the server's operator reads them.
    room_name: str = "{ref}"
    ref_prefix: str = "P"
    api: ApiConfig | None = None
    retention_days: int | None = None
    companions: tuple[str, ...] = ()  # invited into every room it creates (the bridge)


@dataclass(frozen=True)
class DischargeConfig:
    templates: tuple[Path, ...] = ()
    default_template: str = "has-sortie-2015"
    working_hours: tuple[time, time] = (time(8, 0), time(19, 0))
    digest_at: time = time(9, 0)


@dataclass(frozen=True)
class FollowupConfig:
    templates: tuple[Path, ...] = ()
    default_template: str = "rh30-default"
    post_at: time = time(9, 0)
    holidays_subdivision: str | None = None


@dataclass(frozen=True)
class WardConfig:
    """A ward the hospital's ADT feed names (PV1-3.1): the name shown in the room and the team
    a room opened at admission gets, as (user ID, role code) pairs."""

    name: str
    team: tuple[tuple[str, str], ...]
    # Where its rooms' opening (or failure) is told: one of the care-team bot's coordination
    # rooms; None: nowhere (as for the API).
    coordination_room: str | None = None


@dataclass(frozen=True)
class MailServerConfig:
    host: str
    port: int
    security: str = "starttls"  # or "tls" (implicit)
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class OAuthConfig:
    """Pro Santé Connect (an OpenID provider) for a PER/ORG mailbox's XOAUTH2 login."""

    issuer: str  # https://…: its discovery document is at /.well-known/openid-configuration
    client_id: str
    client_secret: str
    scope: str = "openid offline_access"
    ca_file: Path | None = None


@dataclass(frozen=True)
class MssanteConfig:
    mailbox: str
    careteam_account: str
    imap: MailServerConfig
    smtp: MailServerConfig
    trust_list: str  # a path or an https:// URL
    trust_list_refresh_minutes: int = 60
    folder: str = "INBOX"
    processed_folder: str = "Liaison/Traités"
    quarantine_folder: str = "Liaison/Quarantaine"
    idle_minutes: int = 25
    recheck_seconds: int = 60
    send_roles: tuple[str, ...] = ("MH", "IDEC", "DAC", "IDE", "SEC")
    product: str = "Liaison/0.1"
    max_message_mb: int = 25
    max_unpacked_mb: int = 50  # files of one mail once decoded and its XDM package unpacked
    oauth: OAuthConfig | None = None  # set: IMAP and SMTP log in with XOAUTH2
    crls: tuple[str, ...] = ()  # files or URLs: the servers' certificates checked against them
    crl_refresh_minutes: int = 60


@dataclass(frozen=True)
class AdtTlsConfig:
    certificate: Path
    key: Path
    client_ca: Path | None = None  # set: clients must show a certificate it signed


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AdtConfig:
    """The ADT intake (`liaison adt`): its MLLP listener and who may send to it."""

    careteam_account: str  # the account its rows are written under (Store.transaction)
    listen: tuple[str, int] = ("127.0.0.1", 2575)
    tls: AdtTlsConfig | None = None
    # A client must connect from one of `networks` and, when certificates are listed, show
    # one of them (by subject, RFC 4514, or SHA-256 fingerprint, lowercase hex).
    networks: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                     ipaddress.ip_network("::1/128"))
    subjects: tuple[str, ...] = ()
    fingerprints: tuple[str, ...] = ()
    language: Literal["fr", "en"] = "fr"  # of the ACKs' ERR-8
    max_message_kib: int = 1024
    idle_timeout_seconds: int = 600
    max_connections: int = 16


@dataclass(frozen=True)
class MetricsConfig:
    """Where each process serves /metrics and /health/* (host, port); None: not served."""

    listen: tuple[str, int] | None = None  # the bots process
    bridge_listen: tuple[str, int] | None = None  # the bridge process (`liaison bridge`)
    adt_listen: tuple[str, int] | None = None  # the ADT intake (`liaison adt`)


@dataclass(frozen=True)
class DashboardConfig:
    """The coordinator dashboard (bots/dashboard/, docs/DASHBOARD.md), on a listener of its own."""

    host: str
    port: int
    public_url: str  # what people open (behind the TLS proxy); forms must come from its origin
    secure_cookies: bool = True  # False only on a plain-HTTP dev stack
    login_homeserver: str | None = None  # where passwords are checked; None: `homeserver`
    element_url: str | None = None  # room links open there; None: matrix.to
    idle_minutes: float = 30  # whole minutes in the file; a test shortens it to seconds
    max_hours: int = 10
    trust_forwarded_for: bool = False  # the proxy's X-Forwarded-For names the client


@dataclass(frozen=True)
class StructureConfig:
    """A structure of the territory (an establishment, a practice): its name, its FINESS number,
    its professionals by user ID and by homeserver (`structures:`, kept by the operator)."""

    name: str
    finess: str | None = None
    members: frozenset[str] = frozenset()
    servers: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Config:
    homeserver: str
    data_dir: Path
    database: str
    data_keys: tuple[str, ...]
    language: str
    timezone: str
    allowed_servers: tuple[str, ...]
    allow_legacy_devices: bool
    log_level: str
    accounts: tuple[AccountConfig, ...]
    careteam: CareteamConfig = CareteamConfig()
    discharge: DischargeConfig = DischargeConfig()
    followup: FollowupConfig = FollowupConfig()
    mssante: MssanteConfig | None = None
    adt: AdtConfig | None = None
    # Synapse's main process, for its admin API (not exposed through the public proxy).
    homeserver_admin: str = ""
    admin_token: str | None = None  # a server admin's token: lifts the bots' rate limits
    metrics: MetricsConfig = MetricsConfig()
    # `adt.wards`, by the feed's point-of-care code: what the ADT applier opens rooms with.
    adt_wards: dict[str, WardConfig] = field(default_factory=dict)
    dashboard: DashboardConfig | None = None
    # This process among several serving the same accounts (PostgreSQL), None when it is alone.
    instance: str | None = None
    structures: tuple[StructureConfig, ...] = ()

    @property
    def admin_url(self) -> str:
        return self.homeserver_admin or self.homeserver


def _schema() -> dict[str, Any]:
    return json.loads((resource_dir("schemas") / "config.schema.json").read_text())


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def validate(raw: Any, source: str) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - {_where(e)}: {e.message}" for e in errors]
        raise ConfigError(f"{source} is not a valid Liaison configuration:\n" + "\n".join(lines))


def load(path: Path) -> Config:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse(raw, str(path), base=Path(path).resolve().parent)


def parse(raw: Any, source: str, base: Path) -> Config:
    validate(raw, source)
    env_keys = os.environ.get("LIAISON_DATA_KEYS")
    keys = [k.strip() for k in env_keys.split(",") if k.strip()] if env_keys else raw.get("data_keys")
    if not keys:
        raise ConfigError(f"{source}: data_keys: required (or set LIAISON_DATA_KEYS)")

    def resolve(value: str) -> Path:
        path = Path(value)
        return path if path.is_absolute() else base / path

    accounts = []
    for item in raw["accounts"]:
        password = item.get("password")
        if password is None:
            password = resolve(item["password_file"]).read_text().strip()
        accounts.append(AccountConfig(
            user_id=item["user_id"], password=password,
            device_name=item.get("device_name", "Liaison"), bots=tuple(item.get("bots", []))))
    timezone = raw.get("timezone", "Europe/Paris")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{source}: timezone: {timezone!r} is not an IANA time zone "
                          "(e.g. Europe/Paris)") from None
    database = raw["database"]
    if database.startswith("sqlite:///") and not database.startswith("sqlite:////"):
        database = f"sqlite:///{resolve(database.removeprefix('sqlite:///'))}"
    admin_token = resolve(raw["admin_token_file"]).read_text().strip() \
        if "admin_token_file" in raw else None
    instance = os.environ.get("LIAISON_INSTANCE") or raw.get("instance")
    if instance is not None:
        validate({**raw, "instance": instance}, source)
        if not database.startswith("postgresql"):
            raise ConfigError(f"{source}: instance: two bots processes need PostgreSQL "
                              "(on SQLite one bots process serves all accounts)")
    return Config(
        homeserver_admin=raw.get("homeserver_admin", "").rstrip("/"), admin_token=admin_token,
        metrics=_metrics(raw.get("metrics") or {}),
        adt_wards=_adt_wards((raw.get("adt") or {}).get("wards") or {}),
        dashboard=_dashboard(raw["dashboard"]) if "dashboard" in raw else None,
        careteam=_careteam(raw.get("careteam") or {}, source, resolve),
        discharge=_discharge(raw.get("discharge") or {}, source, resolve),
        followup=_followup(raw.get("followup") or {}, resolve),
        mssante=_mssante(raw["mssante"], source, resolve) if "mssante" in raw else None,
        adt=_adt(raw["adt"], accounts, source, resolve) if "adt" in raw else None,
        homeserver=raw["homeserver"].rstrip("/"),
        data_dir=resolve(raw["data_dir"]),
        database=database,
        data_keys=tuple(keys),
        language=raw.get("language", "fr"),
        timezone=timezone,
        allowed_servers=tuple(raw.get("allowed_servers") or
                              sorted({a.server_name for a in accounts})),
        allow_legacy_devices=raw.get("allow_legacy_devices", False),
        log_level=raw.get("log_level", "INFO"),
        accounts=tuple(accounts), instance=instance,
        structures=_structures(raw.get("structures") or [], source),
    )


def _listen(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, port = value.rsplit(":", 1)
    return host, int(port)


def _metrics(raw: dict[str, Any]) -> MetricsConfig:
    return MetricsConfig(listen=_listen(raw.get("listen")),
                         bridge_listen=_listen(raw.get("bridge_listen")),
                         adt_listen=_listen(raw.get("adt_listen")))


def _adt_wards(raw: dict[str, Any]) -> dict[str, WardConfig]:
    """`adt.wards` (the listener's keys of `adt` are read apart). A member is `@user:server:ROLE`:
    the role after the last colon (a server may carry a port)."""
    return {code: WardConfig(ward["name"], tuple(
        (user, role) for user, _, role in (m.rpartition(":") for m in ward["team"])),
        ward.get("coordination_room")) for code, ward in raw.items()}


def _dashboard(raw: dict[str, Any]) -> DashboardConfig:
    host, port = raw["listen"].rsplit(":", 1)
    optional = {key: raw[key].rstrip("/") for key in ("login_homeserver", "element_url")
                if key in raw}
    return DashboardConfig(
        host=host, port=int(port), public_url=raw["public_url"].rstrip("/"),
        secure_cookies=raw.get("secure_cookies", True), **optional,
        idle_minutes=raw.get("idle_minutes", DashboardConfig.idle_minutes),
        max_hours=raw.get("max_hours", DashboardConfig.max_hours),
        trust_forwarded_for=raw.get("trust_forwarded_for", False))


def luhn_ok(digits: str) -> bool:
    """The Luhn check (the FINESS number's last digit is its key)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _structures(raw: list[dict[str, Any]], source: str) -> tuple[StructureConfig, ...]:
    """`structures`: a FINESS number that fails its key, a name, member or server in two
    structures are refused (a person would be counted in either)."""
    found: list[StructureConfig] = []
    for n, item in enumerate(raw):
        finess = item.get("finess")
        if finess is not None and not luhn_ok(finess):
            raise ConfigError(f"{source}: structures/{n}/finess: {finess} is not a FINESS "
                              "number (its last digit, the Luhn key, does not match)")
        structure = StructureConfig(item["name"], finess, frozenset(item.get("members", ())),
                                    frozenset(item.get("servers", ())))
        for other in found:
            twice = ({structure.name} & {other.name}) or (structure.members & other.members) \
                or (structure.servers & other.servers)
            if twice:
                raise ConfigError(f"{source}: structures/{n}: {', '.join(sorted(twice))} "
                                  f"already in the structure {other.name!r}")
        found.append(structure)
    return tuple(found)


def _careteam(raw: dict[str, Any], source: str, resolve: Any) -> CareteamConfig:
    room_name = raw.get("room_name", CareteamConfig.room_name)
    try:
        room_name.format(ref="P-2026-00001", initials="A.B.")
    except (KeyError, IndexError, ValueError):
        raise ConfigError(f"{source}: careteam/room_name: only {{ref}} and {{initials}} may be "
                          "used (room names are not end-to-end encrypted)") from None
    api = None
    if "api" in raw:
        token = os.environ.get("LIAISON_API_TOKEN") or raw["api"].get("token")
        if token is None and "token_file" in raw["api"]:
            token = resolve(raw["api"]["token_file"]).read_text().strip()
        if not token or len(token) < 32:
            raise ConfigError(f"{source}: careteam/api: a token of at least 32 characters is "
                              "required (token, token_file or LIAISON_API_TOKEN)")
        host, port = raw["api"]["listen"].rsplit(":", 1)
        api = ApiConfig(host=host, port=int(port), token=token)
    return CareteamConfig(
        coordination_rooms=tuple(raw.get("coordination_rooms", ())),
        create_coordination_room=raw.get("create_coordination_room"),
        roles_file=resolve(raw["roles_file"]) if "roles_file" in raw else None,
        room_name=room_name, ref_prefix=raw.get("ref_prefix", "P"), api=api,
        retention_days=raw.get("retention_days"),
        companions=tuple(raw.get("companions", ())))


def _discharge(raw: dict[str, Any], source: str, resolve: Any) -> DischargeConfig:
    start, end = (time.fromisoformat(v) for v in raw.get("working_hours", "08:00-19:00")
                  .split("-"))
    if start >= end:
        raise ConfigError(f"{source}: discharge/working_hours: the start must come before the end")
    return DischargeConfig(
        templates=tuple(resolve(p) for p in raw.get("templates", ())),
        default_template=raw.get("default_template", DischargeConfig.default_template),
        working_hours=(start, end), digest_at=time.fromisoformat(raw.get("digest_at", "09:00")))


def _followup(raw: dict[str, Any], resolve: Any) -> FollowupConfig:
    return FollowupConfig(
        templates=tuple(resolve(p) for p in raw.get("templates", ())),
        default_template=raw.get("default_template", FollowupConfig.default_template),
        post_at=time.fromisoformat(raw.get("post_at", "09:00")),
        holidays_subdivision=raw.get("holidays_subdivision"))


def _server(raw: dict[str, Any], resolve: Any) -> MailServerConfig:
    password = raw.get("password")
    if password is None and "password_file" in raw:
        password = resolve(raw["password_file"]).read_text().strip()

    def path(key: str) -> Path | None:
        return resolve(raw[key]) if key in raw else None

    return MailServerConfig(
        host=raw["host"], port=raw["port"], security=raw.get("security", "starttls"),
        ca_file=path("ca_file"), client_cert=path("client_cert"), client_key=path("client_key"),
        username=raw.get("username"), password=password)


def _oauth(raw: dict[str, Any], resolve: Any) -> OAuthConfig:
    secret = raw.get("client_secret")
    if secret is None:
        secret = resolve(raw["client_secret_file"]).read_text().strip()
    return OAuthConfig(
        issuer=raw["issuer"].rstrip("/"), client_id=raw["client_id"], client_secret=secret,
        scope=raw.get("scope", OAuthConfig.scope),
        ca_file=resolve(raw["ca_file"]) if "ca_file" in raw else None)


def _mssante(raw: dict[str, Any], source: str, resolve: Any) -> MssanteConfig:
    imap = raw["imap"]
    trust = raw["trust_list"]
    oauth = _oauth(raw["oauth"], resolve) if "oauth" in raw else None
    if oauth is not None and any("password" in s or "password_file" in s
                                 for s in (imap, raw["smtp"])):
        raise ConfigError(f"{source}: mssante: a mailbox logs in with oauth (XOAUTH2) or with "
                          "a password, not both")
    return MssanteConfig(
        mailbox=raw["mailbox"].lower(), careteam_account=raw["careteam_account"],
        imap=_server({k: v for k, v in imap.items() if k in _SERVER_KEYS}, resolve),
        smtp=_server(raw["smtp"], resolve),
        trust_list=trust if trust.startswith("https://") else str(resolve(trust)),
        trust_list_refresh_minutes=raw.get("trust_list_refresh_minutes", 60),
        folder=imap.get("folder", "INBOX"),
        processed_folder=imap.get("processed_folder", MssanteConfig.processed_folder),
        quarantine_folder=imap.get("quarantine_folder", MssanteConfig.quarantine_folder),
        idle_minutes=imap.get("idle_minutes", 25), recheck_seconds=imap.get("recheck_seconds", 60),
        send_roles=tuple(raw.get("send_roles", MssanteConfig.send_roles)),
        product=raw.get("product", MssanteConfig.product),
        max_message_mb=raw.get("max_message_mb", 25),
        max_unpacked_mb=raw.get("max_unpacked_mb", 50), oauth=oauth,
        crls=tuple(c if c.startswith(("https://", "http://")) else str(resolve(c))
                   for c in raw.get("crls", ())),
        crl_refresh_minutes=raw.get("crl_refresh_minutes", 60))


_SERVER_KEYS = {"host", "port", "security", "ca_file", "client_cert", "client_key", "username",
                "password", "password_file"}


def _adt(raw: dict[str, Any], accounts: list[AccountConfig], source: str,
         resolve: Any) -> AdtConfig:
    account = raw.get("careteam_account") or next(
        (a.user_id for a in accounts if "careteam" in a.bots), None)
    if account is None:
        raise ConfigError(f"{source}: adt/careteam_account: required when no account runs "
                          "careteam (its rows are the care-team bot's)")
    tls = raw.get("tls")
    allow = raw.get("allow") or {}
    subjects = tuple(allow.get("subjects", ()))
    fingerprints = tuple(f.lower().removeprefix("sha256:").replace(":", "")
                         for f in allow.get("fingerprints", ()))
    if (subjects or fingerprints) and not (tls and "client_ca" in tls):
        raise ConfigError(f"{source}: adt/allow: subjects and fingerprints need client "
                          "certificates (adt/tls/client_ca)")
    networks = AdtConfig.networks
    if "networks" in allow:
        try:
            networks = tuple(ipaddress.ip_network(n) for n in allow["networks"])
        except ValueError as exc:
            raise ConfigError(f"{source}: adt/allow/networks: {exc}") from None
    return AdtConfig(
        careteam_account=account,
        listen=_listen(raw.get("listen")) or AdtConfig.listen,
        tls=AdtTlsConfig(certificate=resolve(tls["certificate"]), key=resolve(tls["key"]),
                         client_ca=resolve(tls["client_ca"]) if "client_ca" in tls else None)
        if tls else None,
        networks=networks, subjects=subjects, fingerprints=fingerprints,
        language=raw.get("language", "fr"),
        max_message_kib=raw.get("max_message_kib", AdtConfig.max_message_kib),
        idle_timeout_seconds=raw.get("idle_timeout_seconds", AdtConfig.idle_timeout_seconds),
        max_connections=raw.get("max_connections", AdtConfig.max_connections))

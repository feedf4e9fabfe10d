"""`liaison backup` / `liaison restore`: everything a deployment needs to come back, except the
data keys.

A backup is a folder: the bots' database (`pg_dump -Fc`, or SQLite's online backup API), the
bots' data dir (crypto stores, `account.sealed`, `cross-signing.keys`), and Synapse's database,
media store and configuration folder (signing key, secrets). `manifest.json` lists every file
with its SHA-256; a restore checks them all before it writes anything.

The data keys are never in it: the sealed columns and `account.sealed` open only with them, so a
stolen backup alone reveals no patient. Keep them apart (a secret store), and back them up there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from sqlalchemy.engine import make_url

from bots.config import Config

MANIFEST = "manifest.json"
FORMAT = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Not state: SQLite's side files (the online backup reads through them), logs, pid files.
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".log", ".pid")

KEYS_WARNING = """\
!!! THE DATA KEYS ARE NOT IN THIS BACKUP !!!
    The bots' database and data dir are sealed with `data_keys` (liaison.yaml or
    LIAISON_DATA_KEYS). Without those keys this backup cannot be restored: keep them apart,
    in your secret store, and back them up there. Neither is the bots' configuration file in it."""


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class SynapseSite:
    """Where a Synapse keeps its state: its configuration folder (homeserver.yaml, signing key,
    secrets, workers), its database and its media store."""

    config_dir: Path
    database: str  # sqlite:///abs/path or postgresql://…
    media_store: Path
    layout: str  # "dev" (`liaison up`'s var/synapse) or "config" (a homeserver.yaml)


def dev_site(synapse_dir: Path) -> SynapseSite:
    """The dev stack's Synapse (bots/devstack/homeserver.py): everything under `var/synapse`."""
    synapse_dir = Path(synapse_dir).resolve()
    return SynapseSite(synapse_dir, f"sqlite:///{synapse_dir / 'homeserver.db'}",
                       synapse_dir / "media_store", "dev")


def site_from_config(homeserver_yaml: Path) -> SynapseSite:
    """A production Synapse from its homeserver.yaml (and the conf.d/ parts beside it, read
    after it as Synapse does with `-c` twice)."""
    homeserver_yaml = Path(homeserver_yaml).resolve()
    raw: dict[str, Any] = yaml.safe_load(homeserver_yaml.read_text()) or {}
    for part in sorted((homeserver_yaml.parent / "conf.d").glob("*.yaml")):
        raw |= yaml.safe_load(part.read_text()) or {}
    base = homeserver_yaml.parent
    database = raw.get("database") or {}
    args = database.get("args") or {}
    if database.get("name") == "psycopg2":
        user = quote(str(args.get("user", "")), safe="")
        password = f":{quote(str(args['password']), safe='')}" if args.get("password") else ""
        auth = f"{user}{password}@" if user else ""
        host = f"{args.get('host', 'localhost')}:{args.get('port', 5432)}"
        url = f"postgresql://{auth}{host}/{args.get('dbname') or args.get('database')}"
    elif database.get("name") == "sqlite3":
        url = f"sqlite:///{base / args['database']}"
    else:
        raise BackupError(f"{homeserver_yaml}: database: psycopg2 or sqlite3 expected")
    media = Path(raw.get("media_store_path", "media_store"))
    return SynapseSite(base, url, media if media.is_absolute() else base / media, "config")


def dev_stack_site(config_path: Path, backup_dir: Path | None = None) -> SynapseSite | None:
    """Without --synapse-config: the dev stack's Synapse beside its liaison.yaml (`var/`), if
    there is one (backup) or if the backup is of one (restore into a fresh `var/`)."""
    synapse_dir = Path(config_path).resolve().parent / "synapse"
    if backup_dir is None:
        return dev_site(synapse_dir) if (synapse_dir / "homeserver.yaml").exists() else None
    part = _read_manifest(Path(backup_dir))["parts"].get("synapse")
    return dev_site(synapse_dir) if part and part["layout"] == "dev" else None


@dataclass
class Report:
    folder: Path
    parts: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"  {part}" for part in self.parts]


def backup(cfg: Config, out: Path, synapse: SynapseSite | None) -> Report:
    """Write a backup of the bots (and of `synapse` if given) into `out`, a new folder (0700:
    it holds Synapse's signing key and secrets in clear)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty: a backup goes into a new folder")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    out.chmod(0o700)
    report = Report(out)
    manifest: dict[str, Any] = {"format": FORMAT,
                                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                                "accounts": [a.user_id for a in cfg.accounts], "parts": {}}
    parts = manifest["parts"]
    parts["bots_database"] = _dump_database(cfg.database, out / "bots-database")
    report.parts.append(f"bots' database ({parts['bots_database']['kind']})")
    skip = {_sqlite_path(cfg.database)} - {None}
    parts["bots_data"] = _copy_tree(cfg.data_dir, out / "bots-data", skip)
    report.parts.append(f"bots' data dir {cfg.data_dir} ({len(parts['bots_data'])} files)")
    if synapse is not None:
        db = _dump_database(synapse.database, out / "synapse-database")
        media = _copy_tree(synapse.media_store, out / "synapse-media", set())
        skip = {synapse.media_store, *({_sqlite_path(synapse.database)} - {None})}
        config = _copy_tree(synapse.config_dir, out / "synapse-config", skip)
        parts["synapse"] = {"layout": synapse.layout, "database": db, "media": media,
                            "config": config}
        report.parts += [f"Synapse's database ({db['kind']})",
                         f"Synapse's media store ({len(media)} files)",
                         f"Synapse's configuration, signing key and secrets ({len(config)} files)"]
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return report


def restore(cfg: Config, source: Path, synapse: SynapseSite | None, *,
            force: bool = False) -> Report:
    """Put a backup back where `cfg` (and `synapse`) say the state lives. Every file is checked
    against the manifest first; existing state is refused unless `force`."""
    source = Path(source)
    manifest = _read_manifest(source)
    parts = manifest["parts"]
    wanted = {a.user_id for a in cfg.accounts}
    if not wanted & set(manifest["accounts"]):
        raise BackupError(f"this backup is of {', '.join(manifest['accounts'])}, not of the "
                          f"configuration's accounts ({', '.join(sorted(wanted))})")
    if "synapse" in parts and synapse is None:
        raise BackupError("the backup holds Synapse's state: say where it goes with "
                          "--synapse-config /path/to/homeserver.yaml")
    _verify(source, "bots-data", parts["bots_data"])
    _verify(source, "bots-database", parts["bots_database"]["files"])
    if "synapse" in parts:
        for folder, key in (("synapse-media", "media"), ("synapse-config", "config")):
            _verify(source, folder, parts["synapse"][key])
        _verify(source, "synapse-database", parts["synapse"]["database"]["files"])
    if not force:
        _refuse_existing(cfg, synapse if "synapse" in parts else None)
    report = Report(source)
    _restore_database(parts["bots_database"], source / "bots-database", cfg.database)
    _restore_tree(source / "bots-data", parts["bots_data"], cfg.data_dir)
    report.parts += ["bots' database", f"bots' data dir {cfg.data_dir}"]
    if synapse is not None and "synapse" in parts:
        part = parts["synapse"]
        _restore_database(part["database"], source / "synapse-database", synapse.database)
        _restore_tree(source / "synapse-media", part["media"], synapse.media_store)
        _restore_tree(source / "synapse-config", part["config"], synapse.config_dir)
        report.parts += ["Synapse's database", f"Synapse's media store {synapse.media_store}",
                         f"Synapse's configuration and keys {synapse.config_dir}"]
    return report


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not a Liaison backup ({MANIFEST}: {exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: backup format {manifest.get('format')} is not {FORMAT}")
    return manifest


def _refuse_existing(cfg: Config, synapse: SynapseSite | None) -> None:
    """A restore goes into a fresh place: it would otherwise mix two states (--force replaces)."""
    found = []
    bots_db = _sqlite_path(cfg.database)
    for account in cfg.accounts:
        folder = cfg.data_dir / account.localpart
        if folder.exists():
            found.append(str(folder))
    if bots_db is not None and bots_db.exists():
        found.append(str(bots_db))
    if synapse is not None:
        synapse_db = _sqlite_path(synapse.database)
        if synapse_db is not None and synapse_db.exists():
            found.append(str(synapse_db))
        if (synapse.config_dir / "signing.key").exists():
            found.append(str(synapse.config_dir / "signing.key"))
    if found:
        raise BackupError("state already there (restore into a fresh place, or --force to "
                          f"replace it): {', '.join(found)}")


# Databases ---------------------------------------------------------------------------------


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" else None


def _libpq_url(url: str) -> str:
    """pg_dump takes a libpq URI: no SQLAlchemy driver suffix (postgresql+psycopg://)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _dump_database(url: str, folder: Path) -> dict[str, Any]:
    folder.mkdir(mode=0o700)
    sqlite_file = _sqlite_path(url)
    if sqlite_file is not None:
        if not sqlite_file.exists():
            raise BackupError(f"no database at {sqlite_file}")
        _sqlite_copy(sqlite_file, folder / "database.sqlite")
        return {"kind": "sqlite", "files": {"database.sqlite": _sha256(folder / "database.sqlite")}}
    _run(["pg_dump", "--format=custom", "--no-owner", "--file", str(folder / "database.dump"),
          "--dbname", _libpq_url(url)])
    return {"kind": "postgresql", "files": {"database.dump": _sha256(folder / "database.dump")}}


def _restore_database(part: dict[str, Any], folder: Path, url: str) -> None:
    sqlite_file = _sqlite_path(url)
    if part["kind"] == "sqlite" and sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        for side in ("-wal", "-shm", "-journal"):  # of a replaced database: they would corrupt
            Path(f"{sqlite_file}{side}").unlink(missing_ok=True)
        _sqlite_copy(folder / "database.sqlite", sqlite_file)
    elif part["kind"] == "postgresql" and sqlite_file is None:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
              "--exit-on-error", "--dbname", _libpq_url(url), str(folder / "database.dump")])
    else:
        raise BackupError(f"the backup holds a {part['kind']} database; the target {url} is "
                          "not one (move between SQLite and PostgreSQL with the tools for it)")


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite's online backup: a consistent copy even while a server writes to it."""
    dst.unlink(missing_ok=True)
    with closing(sqlite3.connect(src)) as source, closing(sqlite3.connect(dst)) as target:
        source.backup(target)
    dst.chmod(0o600)


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} not found (install the PostgreSQL client, the same "
                          "major version as the server or newer)") from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()}")


# Folders -----------------------------------------------------------------------------------


def _copy_tree(src: Path, dst: Path, skip: set[Path]) -> dict[str, str]:
    """Every file under `src` but `skip` into `dst`, SQLite files through the backup API;
    returns {relative path: SHA-256}."""
    dst.mkdir(mode=0o700)
    files: dict[str, str] = {}
    if not src.is_dir():
        return files
    skip = {p.resolve() for p in skip}
    for path in sorted(src.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name.endswith(_SKIP_SUFFIXES):
            continue
        if path.resolve() in skip or any(parent.resolve() in skip for parent in path.parents):
            continue
        rel = path.relative_to(src)
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _is_sqlite(path):
            _sqlite_copy(path, target)
        else:
            shutil.copy2(path, target)
        files[rel.as_posix()] = _sha256(target)
    return files


def _restore_tree(src: Path, files: dict[str, str], dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True, mode=0o700)
    for rel in files:
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        for side in ("-wal", "-shm", "-journal"):
            Path(f"{target}{side}").unlink(missing_ok=True)
        shutil.copy2(src / rel, target)


def _verify(source: Path, folder: str, files: dict[str, str]) -> None:
    for rel, digest in files.items():
        path = source / folder / rel
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{path} is missing or damaged (SHA-256 differs from the "
                              "manifest): nothing was restored")


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()

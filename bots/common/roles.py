"""Care-team roles and what they may do: loaded from the roles file, checked by pure functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from bots.common.models import COORDINATION
from bots.config import ConfigError
from bots.datafiles import SafeLoader
from bots.resources import resource_dir
from bots.runtime.commands import Caller, Permission
from bots.runtime.i18n import Lang

DEFAULT_ROLES = Path(__file__).resolve().parent / "roles.yaml"
# A room admin (the one who made a coordination room) acts as a coordinator there until roles
# are given, so a deployment can start; the bot itself has 100 in the rooms it makes.
ADMIN_POWER = 100


@dataclass(frozen=True)
class Role:
    code: str
    label_fr: str
    label_en: str
    power_level: int
    may: frozenset[str]

    def label(self, lang: Lang) -> str:
        return self.label_fr if lang == "fr" else self.label_en


class Roles:
    def __init__(self, roles: dict[str, Role]) -> None:
        self.by_code = roles

    @classmethod
    def load(cls, path: Path | None = None) -> Roles:
        path = path or DEFAULT_ROLES
        try:
            raw = yaml.load(path.read_text(), Loader=SafeLoader)
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read the roles file {path}: {exc}") from exc
        schema = json.loads((resource_dir("schemas") / "roles.schema.json").read_text())
        errors = list(jsonschema.Draft202012Validator(schema).iter_errors(raw))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "(top level)"
            raise ConfigError(f"{path} is not a valid roles file: {where}: {errors[0].message}")
        return cls({code: Role(code, r["label_fr"], r["label_en"], r["power_level"],
                               frozenset(r["may"])) for code, r in raw["roles"].items()})

    def get(self, code: str | None) -> Role | None:
        return self.by_code.get(code.upper()) if code else None

    def may(self, caller: Caller, capability: str) -> bool:
        role = self.get(caller.role)
        if role is not None:
            return capability in role.may
        return caller.room_kind == COORDINATION and caller.power_level >= ADMIN_POWER

    def permission(self, capability: str, *room_kinds: str) -> Permission:
        """A command permission: the caller's role (in this room) grants `capability`, in a room
        of one of these kinds."""
        return Permission(f"{capability}@{'|'.join(room_kinds)}", lambda caller: (
            caller.room_kind in room_kinds and self.may(caller, capability)),
            roles=tuple(code for code, role in self.by_code.items() if capability in role.may),
            room_kinds=room_kinds)

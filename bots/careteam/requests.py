"""Requests to open a patient room, from a command line or an API payload. Pure.

`!patient ouvrir DUPONT Marie Claire 12/03/1948 F 2 48 03 75 123 456 78 service=Cardiologie
@idec:serveur:IDEC`: the family name first (in quotes when it has spaces), the given names up to
the birth date, the sex, then in any order the INS (spaces allowed), options and team members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bots.common.identity import (
    Identity,
    IdentityError,
    make_identity,
    parse_birth_date,
    parse_sex,
)
from bots.common.roles import Roles
from bots.runtime.commands import ArgError, as_user_id
from bots.runtime.i18n import Refusal

# Double quotes, typographic quotes (phones type them) and guillemets group words, also after an
# option's `=` (service="Soins de suite").
_TOKEN = re.compile(r'([^\s"“«=]+=)?(?:"([^"]*)"|“([^”]*)”|«\s*([^»]*?)\s*»)|(\S+)')
_DATE = re.compile(r"^(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{2}-\d{2})$")
_INS_PART = re.compile(r"^[0-9]+$|^[0-9]*2[AB][0-9]*$", re.I)
_OPTIONS = {"service": "ward", "ward": "ward", "admission": "admission", "lieu": "birth_place",
            "place": "birth_place", "ins": "ins"}


class RequestError(Refusal):
    """A request that cannot be read (an unknown option, a malformed member)."""


@dataclass(frozen=True)
class Member:
    user_id: str
    role: str


@dataclass(frozen=True)
class OpenRequest:
    identity: Identity
    team: tuple[Member, ...] = ()
    ward: str | None = None
    admission_date: date | None = None
    language: str | None = None
    qualified: bool = False  # the INS is qualified (the hospital's feed says so)


def tokens(text: str) -> list[str]:
    words = []
    for m in _TOKEN.finditer(text):
        prefix, *quoted = m.groups()
        words.append((prefix or "") + next(g for g in quoted if g is not None))
    return words


def role_code(raw: str, roles: Roles) -> str:
    role = roles.get(raw)
    if role is None:
        raise ArgError("team.unknown_role", value=raw, roles=", ".join(roles.by_code))
    return role.code


def parse_member(raw: str, roles: Roles) -> Member:
    """`@name:server:ROLE` (the role after the last colon; a server may carry a port)."""
    user, _, role = raw.rpartition(":")
    try:
        return Member(as_user_id(user), role_code(role, roles))
    except ArgError:
        raise RequestError("open.bad_member", value=raw,
                           roles=", ".join(roles.by_code)) from None


def _ward(raw: str) -> str:
    ward = " ".join(raw.split())
    if not 1 <= len(ward) <= 100:
        raise RequestError("open.bad_ward")
    return ward


def parse_open(text: str, roles: Roles, today: date) -> OpenRequest:
    """The arguments of `!patient ouvrir`. Raises RequestError or IdentityError."""
    words = tokens(text)
    if not words:
        raise IdentityError("identity.missing", field="family_name")
    family, rest = words[0], words[1:]
    given: list[str] = []
    while rest and not _DATE.match(rest[0]):
        given.append(rest.pop(0))
    if not given:
        raise IdentityError("identity.missing", field="given_names")
    if not rest:
        raise IdentityError("identity.missing", field="birth_date")
    birth = parse_birth_date(rest.pop(0), today)
    if not rest:
        raise IdentityError("identity.missing", field="sex")
    sex = parse_sex(rest.pop(0))
    options: dict[str, str] = {}
    ins_parts: list[str] = []
    team: list[Member] = []
    for word in rest:
        if word.startswith("@"):
            team.append(parse_member(word, roles))
        elif "=" in word:
            key, _, value = word.partition("=")
            if key.lower() not in _OPTIONS:
                raise RequestError("open.bad_option", value=word)
            options[_OPTIONS[key.lower()]] = value
        elif _INS_PART.match(word):
            ins_parts.append(word)
        else:
            raise RequestError("open.bad_word", value=word)
    ins = options.get("ins") or ("".join(ins_parts) or None)
    identity = make_identity(family, " ".join(given), birth, sex, ins=ins,
                             birth_place=options.get("birth_place"))
    admission = options.get("admission")
    return OpenRequest(
        identity=identity, team=_unique(team),
        ward=_ward(options["ward"]) if "ward" in options else None,
        # An admission may be planned: any date is fine, in the same formats.
        admission_date=parse_birth_date(admission, date.max) if admission else None)


def from_payload(payload: dict[str, Any], roles: Roles, today: date) -> OpenRequest:
    """An API payload already valid against schemas/api/patient-create.schema.json."""
    raw = payload["identity"]
    identity = make_identity(raw["family_name"], raw["given_names"],
                             parse_birth_date(raw["birth_date"], today), raw["sex"],
                             ins=raw.get("ins"), birth_place=raw.get("birth_place"))
    team = [Member(m["user_id"], role_code(m["role"], roles)) for m in payload.get("team", [])]
    admission = payload.get("admission_date")
    return OpenRequest(
        identity=identity, team=_unique(team),
        ward=_ward(payload["ward"]) if payload.get("ward") else None,
        admission_date=date.fromisoformat(admission) if admission else None,
        language=payload.get("language"))


def _unique(team: list[Member]) -> tuple[Member, ...]:
    """One line per user: the last role given wins."""
    return tuple({m.user_id: m for m in team}.values())

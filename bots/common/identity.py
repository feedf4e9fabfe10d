"""Patient identity: the traits, the INS and their checks (docs/CLINICAL.md §5). Pure: no I/O.

The INS is the NIR (or NIA): 13 characters (sex, year, month, department — 2A/2B in Corsica —,
commune, order number) and a 2-digit control key = 97 − (number mod 97), 2A read as 19 and 2B as
18. Identity is health data: it only travels in encrypted messages and encrypted columns.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from bots.runtime.i18n import Refusal

Sex = Literal["F", "M", "I"]

_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)*$")
_PLACE = re.compile(r"^([0-9]{5}|2[AB][0-9]{3})$")
_INS = re.compile(r"^[123478][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")
_DATE_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d")
_EARLIEST = date(1880, 1, 1)
_MALE, _FEMALE = "137", "248"
_SEXES: dict[str, Sex] = {
    "f": "F", "femme": "F", "feminin": "F", "female": "F",
    "m": "M", "h": "M", "homme": "M", "masculin": "M", "male": "M",
    "i": "I", "indetermine": "I", "undetermined": "I",
}


class IdentityError(Refusal):
    """An identity that cannot be used; the key (see TEXTS) and its values say why."""


def _plain(text: str) -> str:
    """Without accents, case folded: what two spellings of the same name share."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True)
class Identity:
    family_name: str
    given_names: str
    birth_date: date
    sex: Sex
    ins: str | None = None
    birth_place: str | None = None

    @property
    def initials(self) -> str:
        return f"{_plain(self.family_name)[:1].upper()}.{_plain(self.given_names)[:1].upper()}."

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "birth_date": self.birth_date.isoformat()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Identity:
        return make_identity(raw["family_name"], raw["given_names"],
                             date.fromisoformat(raw["birth_date"]), raw["sex"],
                             ins=raw.get("ins"), birth_place=raw.get("birth_place"))

    def traits_key(self) -> str:
        """What finds the same person again, however the names were typed."""
        def letters(text: str) -> str:
            return "".join(c for c in _plain(text) if c.isalpha())
        first_given = self.given_names.split(" ")[0]
        return "|".join((letters(self.family_name), letters(first_given),
                         self.birth_date.isoformat(), self.sex))

    def ins_display(self) -> str | None:
        """As printed on French cards: 2 48 03 75 123 456 78."""
        if self.ins is None:
            return None
        i = self.ins
        return " ".join((i[0], i[1:3], i[3:5], i[5:7], i[7:10], i[10:13], i[13:]))


def may_replace(current_qualified: bool, qualified: bool) -> bool:
    """Whether an identity may be replaced by another: a qualified one (its INS checked against
    the national service, the hospital's feed says VALI) only by another qualified one, never
    by a less trusted identity (BRIEF §4; the national identity-vigilance rules)."""
    return qualified or not current_qualified


def normalize_name(raw: str, field: str) -> str:
    # NFC: an accent pasted as a separate mark (PDFs, macOS) is the same letter.
    name = " ".join(unicodedata.normalize("NFC", raw).replace("’", "'").split())
    if not name:
        raise IdentityError("identity.missing", field=field)
    if len(name) > 100 or not _NAME.match(name):
        raise IdentityError("identity.bad_name", field=field, value=raw)
    if len(_scripts(name)) > 1:
        # DUPОNT with a Cyrillic О looks like DUPONT but is another patient to the blind index.
        raise IdentityError("identity.mixed_scripts", field=field)
    return name


def _scripts(name: str) -> set[str]:
    """The alphabets a name's letters come from (LATIN, CYRILLIC, GREEK…), by Unicode name."""
    return {unicodedata.name(c, "?").split(" ")[0] for c in name if c.isalpha()}


def parse_birth_date(raw: str, today: date) -> date:
    for fmt in _DATE_FORMATS:
        try:
            value = datetime.strptime(raw.strip(), fmt).date()
            break
        except ValueError:
            continue
    else:
        raise IdentityError("identity.bad_date", value=raw)
    if value > today or value < _EARLIEST:
        raise IdentityError("identity.date_range", value=raw)
    return value


def parse_sex(raw: str) -> Sex:
    sex = _SEXES.get(_plain(raw.strip()))
    if sex is None:
        raise IdentityError("identity.bad_sex", value=raw)
    return sex


def _key_of(body13: str) -> int:
    return 97 - int(body13.replace("2A", "19").replace("2B", "18")) % 97


def valid_month(month: int) -> bool:
    """The NIR's month field: 01–12, or 20–42 / 50–99 when the birth month is unknown or the
    record came from incomplete civil status; 00, 13–19 and 43–49 are never given
    (docs/CLINICAL.md §5)."""
    return 1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99


def validate_ins(raw: str) -> str:
    ins = re.sub(r"[\s.\-]", "", raw).upper()
    if len(ins) != 15:
        raise IdentityError("ins.length", value=raw, length=len(ins))
    if not _INS.match(ins):
        raise IdentityError("ins.chars", value=raw)
    if not valid_month(int(ins[3:5])):
        raise IdentityError("ins.month", value=raw, month=ins[3:5])
    expected = _key_of(ins[:13])
    if int(ins[13:]) != expected:
        raise IdentityError("ins.key", value=raw, expected=f"{expected:02d}")
    return ins


def check_consistency(identity: Identity) -> None:
    ins = identity.ins
    if ins is None:
        return
    if identity.sex != "I" and ins[0] not in (_MALE if identity.sex == "M" else _FEMALE):
        raise IdentityError("ins.sex_mismatch")
    if int(ins[1:3]) != identity.birth_date.year % 100:
        raise IdentityError("ins.year_mismatch")
    month = int(ins[3:5])
    if 1 <= month <= 12 and month != identity.birth_date.month:
        raise IdentityError("ins.month_mismatch")


def make_identity(family_name: str, given_names: str, birth_date: date, sex: str,
                  ins: str | None = None, birth_place: str | None = None) -> Identity:
    place = None
    if birth_place:
        place = birth_place.strip().upper()
        if not _PLACE.match(place):
            raise IdentityError("identity.bad_place", value=birth_place)
    identity = Identity(
        family_name=normalize_name(family_name, "family_name"),
        given_names=normalize_name(given_names, "given_names"),
        birth_date=birth_date, sex=parse_sex(sex),
        ins=validate_ins(ins) if ins else None, birth_place=place)
    check_consistency(identity)
    return identity


FIELD_LABELS: dict[str, dict[str, str]] = {
    "family_name": {"fr": "le nom de naissance", "en": "the birth surname"},
    "given_names": {"fr": "le(s) prénom(s)", "en": "the given name(s)"},
    "birth_date": {"fr": "la date de naissance", "en": "the birth date"},
    "sex": {"fr": "le sexe", "en": "the sex"},
    "ins": {"fr": "l'INS", "en": "the INS"},
    "birth_place": {"fr": "le lieu de naissance", "en": "the birth place"},
}

TEXTS: dict[str, dict[str, str]] = {
    "identity.missing": {"fr": "Il manque {field}.", "en": "Missing {field}."},
    "identity.bad_name": {
        "fr": "« {value} » ne convient pas pour {field} (lettres, espaces, tirets et "
              "apostrophes seulement, 100 caractères au plus).",
        "en": "\u201c{value}\u201d does not fit {field} (letters, spaces, hyphens and "
              "apostrophes only, at most 100 characters).",
    },
    "identity.bad_date": {
        "fr": "« {value} » n'est pas une date valide (JJ/MM/AAAA).",
        "en": "\u201c{value}\u201d is not a valid date (DD/MM/YYYY).",
    },
    "identity.date_range": {
        "fr": "La date de naissance « {value} » est impossible (dans le futur ou avant 1880).",
        "en": "The birth date \u201c{value}\u201d is impossible (in the future or before 1880).",
    },
    "identity.bad_sex": {
        "fr": "Sexe « {value} » inconnu : F, M (ou H) ou I.",
        "en": "Unknown sex \u201c{value}\u201d: F, M or I.",
    },
    "identity.bad_place": {
        "fr": "Lieu de naissance « {value} » : code INSEE de 5 caractères attendu (ex. 75056, "
              "2A004, 99xxx à l'étranger).",
        "en": "Birth place \u201c{value}\u201d: a 5-character INSEE code is expected (e.g. "
              "75056, 2A004, 99xxx abroad).",
    },
    "ins.length": {
        "fr": "INS invalide : 15 caractères attendus (13 + clé), « {value} » en a {length}.",
        "en": "Invalid INS: 15 characters expected (13 + key), \u201c{value}\u201d has {length}.",
    },
    "ins.chars": {
        "fr": "INS invalide : « {value} » doit commencer par 1, 2, 3, 4, 7 ou 8 et ne contenir "
              "que des chiffres (2A/2B pour la Corse).",
        "en": "Invalid INS: \u201c{value}\u201d must start with 1, 2, 3, 4, 7 or 8 and hold "
              "digits only (2A/2B for Corsica).",
    },
    "ins.month": {
        "fr": "INS invalide : le mois de naissance ({month}, 4e et 5e chiffres de « {value} ») "
              "n'existe pas ; il va de 01 à 12, ou de 20 à 42 et de 50 à 99 quand le mois est "
              "inconnu. Vérifiez le numéro sur la carte Vitale ou l'attestation.",
        "en": "Invalid INS: the birth month ({month}, 4th and 5th digits of \u201c{value}\u201d) "
              "does not exist; it runs from 01 to 12, or 20 to 42 and 50 to 99 when the month "
              "is unknown. Check the number on the Vitale card or certificate.",
    },
    "ins.key": {
        "fr": "INS invalide : la clé de contrôle ne correspond pas (attendue {expected}). "
              "Vérifiez le numéro sur la carte Vitale ou l'attestation.",
        "en": "Invalid INS: the control key does not match (expected {expected}). "
              "Check the number on the Vitale card or certificate.",
    },
    "ins.sex_mismatch": {
        "fr": "L'INS ne correspond pas au sexe indiqué (1er chiffre) : vérifiez l'identité.",
        "en": "The INS does not match the sex given (first digit): check the identity.",
    },
    "ins.year_mismatch": {
        "fr": "L'INS ne correspond pas à l'année de naissance : vérifiez l'identité.",
        "en": "The INS does not match the birth year: check the identity.",
    },
    "ins.month_mismatch": {
        "fr": "L'INS ne correspond pas au mois de naissance : vérifiez l'identité.",
        "en": "The INS does not match the birth month: check the identity.",
    },
}

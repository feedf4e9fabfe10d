"""Discharge checklist templates: data files (YAML or JSON) validated by
schemas/checklist-template.schema.json, then by the checks a schema cannot make. A bad template is
refused at start with its file, the item and the reason."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any, Literal

from bots.datafiles import Entry, TemplateError, check_schema, entry_id, load_named, notation, read

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "has-sortie-2015"
DEFAULT_TIME = time(18, 0)
_DUE = re.compile(r"^(?P<anchor>[AJ])(?P<days>[+-][0-9]{1,2}|0)"
                  r"(?: (?P<h>[01][0-9]|2[0-3]):(?P<m>[0-5][0-9]))?$")


@dataclass(frozen=True)
class Due:
    anchor: Literal["A", "J"]  # admission date or planned discharge date
    days: int
    at: time = DEFAULT_TIME

    @classmethod
    def parse(cls, text: str) -> Due:
        m = notation(_DUE, text, "a due date (A+1, J-2, J0, J0 23:59)")
        at = time(int(m["h"]), int(m["m"])) if m["h"] else DEFAULT_TIME
        return cls(m["anchor"], int(m["days"]), at)  # type: ignore[arg-type]

    def label(self) -> str:
        days = "0" if self.days == 0 else f"{self.days:+d}"
        clock = "" if self.at == DEFAULT_TIME else f" {self.at:%H:%M}"
        return f"{self.anchor}{days}{clock}"


@dataclass(frozen=True)
class Item(Entry):
    due: Due
    na_allowed: bool
    blocking: bool
    escalate_if_no: bool
    rescore_due: Due | None
    # The lettre de liaison: never NA, alerts at the end of J0's working hours and reminders
    # that outlive the validation until it is sent (docs/CLINICAL.md §2).
    letter: bool = False
    # An item the checker cannot remedy at discharge (HAS items 1, 2, 3, 5, 8): answered after
    # its due time it is kept as late; a "Non" does not block, unanswered does.
    remediable: bool = True
    followup_condition: str | None = None  # holds for the RH30 plan when answered "oui"


@dataclass(frozen=True)
class Section:
    title_fr: str
    title_en: str
    items: tuple[Item, ...]

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_fr


@dataclass(frozen=True)
class Template:
    name: str
    title_fr: str
    title_en: str
    version: int
    sections: tuple[Section, ...]

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    def item(self, item_id: int) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def letter(self) -> Item | None:
        return next((i for i in self.items if i.letter), None)

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_fr


def _item_at(raw: Any, path: list[Any]) -> int | None:
    """The id of the item a schema error points into, if any."""
    if len(path) >= 4 and path[0] == "sections" and path[2] == "items":
        return entry_id(raw, "sections", path[1], "items", path[3])
    return None


def parse_template(raw: Any, source: str,
                   known_roles: Collection[str] | None = None) -> Template:
    check_schema(raw, "checklist-template.schema.json", source, _item_at)
    seen: set[int] = set()
    letter_seen = False
    sections = []
    for section in raw["sections"]:
        items = []
        for entry in section["items"]:
            item_id = entry["id"]
            if item_id in seen:
                raise TemplateError(source, "the id is used twice", item_id)
            seen.add(item_id)
            unknown = [r for r in entry["roles"] if known_roles is not None
                       and r not in known_roles]
            if unknown:
                raise TemplateError(source, f"unknown role(s) {', '.join(unknown)}", item_id)
            if entry.get("letter") and entry.get("na_allowed", False):
                raise TemplateError(source, "the lettre de liaison never takes NA (set "
                                    "na_allowed: false)", item_id)
            if entry.get("letter") and letter_seen:
                raise TemplateError(source, "a second lettre de liaison item", item_id)
            letter_seen = letter_seen or entry.get("letter", False)
            try:
                due = Due.parse(entry["due"])
                rescore = Due.parse(entry["rescore_due"]) if "rescore_due" in entry else None
            except ValueError as exc:
                raise TemplateError(source, str(exc), item_id) from None
            items.append(Item(
                id=item_id, label_fr=entry["label_fr"], label_en=entry.get("label_en"),
                roles=tuple(entry["roles"]), due=due,
                na_allowed=entry.get("na_allowed", True) and not entry.get("letter", False),
                blocking=entry.get("blocking", False),
                escalate_if_no=entry.get("escalate_if_no", False), rescore_due=rescore,
                letter=entry.get("letter", False), remediable=entry.get("remediable", True),
                followup_condition=entry.get("followup_condition")))
        sections.append(Section(section["title_fr"], section["title_en"], tuple(items)))
    return Template(raw["name"], raw["title_fr"], raw["title_en"], raw["version"],
                    tuple(sections))


def load_template(path: Path, known_roles: Collection[str] | None = None) -> Template:
    return parse_template(read(path), str(path), known_roles)


def load_templates(paths: Sequence[Path] = (),
                   known_roles: Collection[str] | None = None) -> dict[str, Template]:
    return load_named([DEFAULT_TEMPLATES_DIR, *map(Path, paths)],
                      lambda file: load_template(file, known_roles))

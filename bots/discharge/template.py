"""Discharge checklist templates: data files (YAML or JSON) validated by
schemas/checklist-template.schema.json, then by the checks a schema cannot make. A bad template is
refused at start with its file, the item and the reason."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import time
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

from bots.resources import resource_dir

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = "has-sortie-2015"
DEFAULT_TIME = time(18, 0)
_DUE = re.compile(r"^(?P<anchor>[AJ])(?P<days>[+-][0-9]{1,2}|0)"
                  r"(?: (?P<h>[01][0-9]|2[0-3]):(?P<m>[0-5][0-9]))?$")


class TemplateError(ValueError):
    def __init__(self, source: str, reason: str, item: int | None = None) -> None:
        where = f"{source}, item {item}" if item is not None else source
        super().__init__(f"{where}: {reason}")
        self.source, self.reason, self.item = source, reason, item


@dataclass(frozen=True)
class Due:
    anchor: Literal["A", "J"]  # admission date or planned discharge date
    days: int
    at: time = DEFAULT_TIME

    @classmethod
    def parse(cls, text: str) -> Due:
        m = _DUE.match(text)
        if m is None:
            raise ValueError(f"{text!r} is not a due date (A+1, J-2, J0, J0 23:59)")
        at = time(int(m["h"]), int(m["m"])) if m["h"] else DEFAULT_TIME
        return cls(m["anchor"], int(m["days"]), at)  # type: ignore[arg-type]

    def label(self) -> str:
        days = "0" if self.days == 0 else f"{self.days:+d}"
        clock = "" if self.at == DEFAULT_TIME else f" {self.at:%H:%M}"
        return f"{self.anchor}{days}{clock}"


@dataclass(frozen=True)
class Item:
    id: int
    label_fr: str
    label_en: str | None
    roles: tuple[str, ...]
    due: Due
    na_allowed: bool
    blocking: bool
    escalate_if_no: bool
    rescore_due: Due | None
    alert_if_missing: bool = False

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" and self.label_en else self.label_fr


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

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_fr


@cache
def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((resource_dir("schemas") / "checklist-template.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def _item_at(raw: Any, path: Sequence[Any]) -> int | None:
    """The id of the item a schema error points into, if any."""
    if len(path) >= 4 and path[0] == "sections" and path[2] == "items":
        try:
            item = raw["sections"][path[1]]["items"][path[3]]
            return item.get("id") if isinstance(item, dict) else None
        except (IndexError, KeyError, TypeError):
            return None
    return None


def parse_template(raw: Any, source: str,
                   known_roles: Collection[str] | None = None) -> Template:
    errors = sorted(_validator().iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise TemplateError(source, f"{where}: {error.message}",
                            _item_at(raw, list(error.absolute_path)))
    seen: set[int] = set()
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
            try:
                due = Due.parse(entry["due"])
                rescore = Due.parse(entry["rescore_due"]) if "rescore_due" in entry else None
            except ValueError as exc:
                raise TemplateError(source, str(exc), item_id) from None
            items.append(Item(
                id=item_id, label_fr=entry["label_fr"], label_en=entry.get("label_en"),
                roles=tuple(entry["roles"]), due=due, na_allowed=entry.get("na_allowed", True),
                blocking=entry.get("blocking", False),
                escalate_if_no=entry.get("escalate_if_no", False), rescore_due=rescore,
                alert_if_missing=entry.get("alert_if_missing", False)))
        sections.append(Section(section["title_fr"], section["title_en"], tuple(items)))
    return Template(raw["name"], raw["title_fr"], raw["title_en"], raw["version"],
                    tuple(sections))


def load_template(path: Path, known_roles: Collection[str] | None = None) -> Template:
    try:
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise TemplateError(str(path), f"cannot be read: {exc}") from None
    return parse_template(raw, str(path), known_roles)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return [path]


def load_templates(paths: Sequence[Path] = (),
                   known_roles: Collection[str] | None = None) -> dict[str, Template]:
    templates: dict[str, Template] = {}
    for path in [DEFAULT_TEMPLATES_DIR, *paths]:
        for file in _files(Path(path)):
            template = load_template(file, known_roles)
            if template.name in templates:
                raise TemplateError(str(file), f"a template named {template.name!r} already "
                                    "exists")
            templates[template.name] = template
    return templates

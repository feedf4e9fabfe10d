"""Templates kept as data files (YAML or JSON) and validated by a JSON Schema: checklist
templates, follow-up schedules. A bad file is refused at start with the file, the item (the entry
of the schema's list it is in) and the reason."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import jsonschema
import yaml

from bots.resources import resource_dir

# libyaml's safe loader where PyYAML was built with it: the same documents, ten times faster
# (every bot start reads its templates; the tests start bots by the hundred).
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TemplateError(ValueError):
    def __init__(self, source: str, reason: str, item: int | None = None) -> None:
        where = f"{source}, item {item}" if item is not None else source
        super().__init__(f"{where}: {reason}")
        self.source, self.reason, self.item = source, reason, item


@dataclass(frozen=True)
class Entry:
    """What a checklist item and a follow-up step have alike: a number, a label in French (and
    in English if the file gives one), the roles it falls to."""

    id: int
    label_fr: str
    label_en: str | None
    roles: tuple[str, ...]

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" and self.label_en else self.label_fr


def notation(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    """The match of a notation in a data file (a due date, a day), or a ValueError saying what
    was expected."""
    m = pattern.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not {what}")
    return m


@cache
def _validator(schema: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        json.loads((resource_dir("schemas") / schema).read_text()))


def check_schema(raw: Any, schema: str, source: str,
                 item_at: Callable[[Any, list[Any]], int | None]) -> None:
    """The first schema error, as a TemplateError; `item_at` names the item it points into."""
    errors = sorted(_validator(schema).iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise TemplateError(source, f"{where}: {error.message}",
                            item_at(raw, list(error.absolute_path)))


def entry_id(raw: Any, *path: Any) -> int | None:
    """The `id` of the entry at `path` in `raw`, if there is one."""
    try:
        for key in path:
            raw = raw[key]
    except (IndexError, KeyError, TypeError):
        return None
    return raw.get("id") if isinstance(raw, dict) else None


def read(path: Path) -> Any:
    try:
        text = path.read_text()
        return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=SafeLoader)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise TemplateError(str(path), f"cannot be read: {exc}") from None


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def load_named(paths: Sequence[Path], load: Callable[[Path], T]) -> dict[str, T]:
    """Every file of `paths` (files or folders), by name; a name used twice is refused."""
    found: dict[str, T] = {}
    for path in paths:
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json")) \
            if path.is_dir() else [path]
        for file in files:
            template = load(file)
            if template.name in found:
                raise TemplateError(str(file), f"a template named {template.name!r} already "
                                    "exists")
            found[template.name] = template
    return found

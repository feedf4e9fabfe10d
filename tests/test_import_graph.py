"""Bots depend on shared code, not on each other (issue 15): no bot package imports another, and
the shared packages import no bot. Composition modules (bots/cli.py, bots/app.py,
bots/registry.py, bots/devstack/, …) may import bots: they are not checked here. Pure: the
sources are parsed with `ast`, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOTS = ("bots.careteam", "bots.discharge", "bots.followup", "bridge", "bots.adt",
        "bots.dashboard")
SHARED = ("bots.runtime", "bots.common", "bots.episode")


def _package(module: str, packages: tuple[str, ...]) -> str | None:
    return next((p for p in packages if module == p or module.startswith(p + ".")), None)


def _modules() -> list[tuple[str, Path]]:
    found = []
    for top in ("bots", "bridge"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found.append((".".join(parts), path))
    return found


def imported(module: str, path: Path) -> set[str]:
    """Every module name an `import` or `from … import` names, anywhere in the file (functions
    and `if TYPE_CHECKING:` included); `from a import b` counts as a and a.b."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def crossings() -> list[str]:
    found = []
    for module, path in _modules():
        own = _package(module, BOTS)
        if own is None and _package(module, SHARED) is None:
            continue  # a composition module
        for name in sorted(imported(module, path)):
            other = _package(name, BOTS)
            if other is not None and other != own:
                found.append(f"{path.relative_to(ROOT)}: {module} imports {name}")
    return found


def test_no_bot_imports_another_bot_and_shared_code_imports_no_bot():
    assert crossings() == []


@pytest.mark.parametrize("source, expected", [
    ("from bots.discharge.checklist import parse_day", "bots.discharge.checklist"),
    ("import bots.careteam.records", "bots.careteam.records"),
    ("from bots import followup", "bots.followup"),
    ("from ..careteam import records", "bots.careteam.records"),
])
def test_every_form_of_import_is_seen(tmp_path, source, expected):
    path = tmp_path / "mod.py"
    path.write_text(f"def f():\n    {source}\n")
    assert expected in imported("bots.episode.mod", path)

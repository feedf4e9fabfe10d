"""Cells of the CSV exports (the RH30 export, the dashboard's tables) that a spreadsheet will
not run as formulas (CSV injection)."""

from __future__ import annotations

# A spreadsheet reads a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """A free-text cell a spreadsheet will not run as a formula: `'` before a leading `=`,
    `+`, `-`, `@`, tab or carriage return."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value

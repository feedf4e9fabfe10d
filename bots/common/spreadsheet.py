"""CSV files people open in a spreadsheet: UTF-8, comma-separated, CRLF lines, a header of
stable English names, and no text cell a spreadsheet would run as a formula (CSV injection:
a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return). Pure."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula: `'` before a leading `=`, `+`, `-`,
    `@`, tab or carriage return."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[str | int | float | None]]) -> bytes:
    """The table as CSV; every text cell neutralised, None as an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(cell(v) if isinstance(v, str) else "" if v is None else v for v in row)
    return out.getvalue().encode()

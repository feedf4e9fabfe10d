"""Figures as tables (text and Markdown), percentiles, verdicts."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def targets_md(targets: Iterable[tuple[str, str, bool]]) -> list[str]:
    """The lines of a Markdown table of targets: (target, measured value, met or not)."""
    return ["| target | measured | |", "|---|---:|---|",
            *(f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in targets)]

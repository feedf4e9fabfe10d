"""Made-up patients' data for the tests and the benchmarks."""

from __future__ import annotations


def ins_for(body13: str) -> str:
    """A valid INS: the 13 characters and their control key (2A read as 19, 2B as 18)."""
    number = int(body13.replace("2A", "19").replace("2B", "18"))
    return f"{body13}{97 - number % 97:02d}"

"""Made-up patients' data for the tests and the benchmarks."""

from __future__ import annotations

from datetime import date

from bots.common.identity import Identity, make_identity


def ins_for(body13: str) -> str:
    """A valid INS: the 13 characters and their control key (2A read as 19, 2B as 18)."""
    number = int(body13.replace("2A", "19").replace("2B", "18"))
    return f"{body13}{97 - number % 97:02d}"


def letters(n: int) -> str:
    """0 → A, 25 → Z, 26 → BA: names take letters only, so a number is spelled so."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(ord("A") + r) + out
        if n == 0:
            return out


def patient(i: int) -> Identity:
    """Fictitious patient i: birth date varying with i, sex alternating, and an INS whose sex,
    year and month agree with them (the API and the ADT reader refuse it otherwise), unique up to
    i = 21000."""
    born = date(1930 + i % 70, 1 + i % 12, 1 + i % 28)
    sex = "F" if i % 2 == 0 else "M"
    # sex, year, month, département 75, then i as commune (thousands) and order number
    body = (f"{'2' if sex == 'F' else '1'}{born.year % 100:02d}{born.month:02d}75"
            f"{i // 1000 % 1000:03d}{i % 1000:03d}")
    return make_identity(f"PATIENT{letters(i)}", "Test", born, sex, ins=ins_for(body))

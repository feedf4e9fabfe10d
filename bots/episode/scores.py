"""Readmission-risk scores (docs/CLINICAL.md §4), exactly as published, each component validated. Pure.

LACE (van Walraven, CMAJ 2010; 0–19 points): Length of stay, Acute admission, Charlson index,
ED visits in the 6 months before. Cut-off ≥ 10 = high risk (the published one); below it, the
bands 0–4 and 5–9 usually drawn are given as low and intermediate.

HOSPITAL (Donzé, JAMA IM 2013/2016; 0–13 points): Haemoglobin < 12 g/dL at discharge, discharge
from Oncology, Sodium < 135 mmol/L, any Procedure, urgent Index admission, Admissions in the
previous 12 months, Length of stay ≥ 5 days. Classes 0–4 low, 5–6 intermediate, ≥ 7 high.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bots.episode.risk import Risk
from bots.runtime.i18n import Lang, Refusal, t
from bots.runtime.notice import Html


class ScoreError(Refusal):
    """A component out of its range or not understood; the key (texts) and values say which."""


@dataclass(frozen=True)
class Score:
    name: str  # "LACE" | "HOSPITAL"
    points: int
    maximum: int
    risk: Risk
    parts: tuple[tuple[str, int], ...]  # (component, points), in the score's order


# --- LACE -----------------------------------------------------------------------------------------

LACE_HIGH = 10


def lace_length(days: int) -> int:
    """L: < 1 day 0, 1 → 1, 2 → 2, 3 → 3, 4–6 → 4, 7–13 → 5, ≥ 14 → 7."""
    if days < 1:
        return 0
    if days <= 3:
        return days
    if days <= 6:
        return 4
    if days <= 13:
        return 5
    return 7


def lace(length_of_stay_days: int, acute: bool, charlson: int, ed_visits_6m: int) -> Score:
    _check("L", length_of_stay_days, 0, 3650)
    _check("C", charlson, 0, 40)
    _check("E", ed_visits_6m, 0, 365)
    parts = (("L", lace_length(length_of_stay_days)), ("A", 3 if acute else 0),
             ("C", charlson if charlson <= 3 else 5), ("E", ed_visits_6m if ed_visits_6m <= 3
                                                      else 4))
    points = sum(p for _, p in parts)
    risk: Risk = "eleve" if points >= LACE_HIGH else "intermediaire" if points >= 5 \
        else "faible"
    return Score("LACE", points, 19, risk, parts)


# --- HOSPITAL -------------------------------------------------------------------------------------


def hospital_admissions(previous_12m: int) -> int:
    """A: 0–1 → 0, 2–5 → 2, > 5 → 5."""
    return 0 if previous_12m <= 1 else 2 if previous_12m <= 5 else 5


def hospital(haemoglobin_g_dl: float, oncology: bool, sodium_mmol_l: float, procedure: bool,
             urgent: bool, admissions_12m: int, length_of_stay_days: int) -> Score:
    _check("hb", haemoglobin_g_dl, 2, 25)
    _check("na", sodium_mmol_l, 90, 200)
    _check("adm", admissions_12m, 0, 365)
    _check("duree", length_of_stay_days, 0, 3650)
    parts = (("H", 1 if haemoglobin_g_dl < 12 else 0), ("O", 2 if oncology else 0),
             ("S", 1 if sodium_mmol_l < 135 else 0), ("P", 1 if procedure else 0),
             ("I", 1 if urgent else 0), ("A", hospital_admissions(admissions_12m)),
             ("L", 2 if length_of_stay_days >= 5 else 0))
    points = sum(p for _, p in parts)
    risk: Risk = "eleve" if points >= 7 else "intermediaire" if points >= 5 else "faible"
    return Score("HOSPITAL", points, 13, risk, parts)


def _check(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ScoreError("score.out_of_range", name=name, value=value, low=low, high=high)


# --- what users type ------------------------------------------------------------------------------

_YES = {"oui", "o", "yes", "y", "1", "true"}
_NO = {"non", "n", "no", "0", "false"}
HOSPITAL_FIELDS = ("hb", "onco", "na", "acte", "urgent", "adm", "duree")


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise ScoreError("score.not_yes_no", name=name, value=raw)


def _number(name: str, raw: str, *, integer: bool) -> float:
    text = raw.strip().replace(",", ".")
    if not re.fullmatch(r"\d+" if integer else r"\d+(\.\d+)?", text):
        raise ScoreError("score.not_number", name=name, value=raw)
    return int(text) if integer else float(text)


def parse_lace(text: str) -> Score:
    """`L A C E`: `6 oui 2 1` (stay of 6 days, acute admission, Charlson 2, one ED visit)."""
    words = text.split()
    if len(words) != 4:
        raise ScoreError("score.lace_usage")
    return lace(int(_number("L", words[0], integer=True)), _bool("A", words[1]),
                int(_number("C", words[2], integer=True)),
                int(_number("E", words[3], integer=True)))


def parse_hospital(text: str) -> Score:
    """`hb=11.2 onco=non na=133 acte=oui urgent=oui adm=3 duree=6`, in any order."""
    values: dict[str, str] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        key = key.lower()
        if not sep or key not in HOSPITAL_FIELDS:
            raise ScoreError("score.hospital_usage")
        values[key] = value
    missing = [f for f in HOSPITAL_FIELDS if f not in values]
    if missing:
        raise ScoreError("score.missing", names=", ".join(missing))
    return hospital(
        _number("hb", values["hb"], integer=False), _bool("onco", values["onco"]),
        _number("na", values["na"], integer=False), _bool("acte", values["acte"]),
        _bool("urgent", values["urgent"]), int(_number("adm", values["adm"], integer=True)),
        int(_number("duree", values["duree"], integer=True)))


def score_text(lang: Lang, score: Score) -> Html:
    """A score as the room reads it: points, parts, class and what the class means."""
    return t(lang, "score.result", name=score.name, points=score.points, maximum=score.maximum,
             risk=t(lang, f"risk.{score.risk}"),
             parts=", ".join(f"{k} {v}" for k, v in score.parts),
             meaning=t(lang, f"score.meaning.{score.name}"))

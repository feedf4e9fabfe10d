"""The discharge summary a ward files in the record: every item's answer, who and when, the
validation and any override. Pure: the same facts as an HTML message and a Markdown file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.common.render import when
from bots.discharge.checklist import Checklist
from bots.runtime.i18n import CATALOGUE, Lang, t
from bots.runtime.notice import Html, join, to_plain


@dataclass(frozen=True)
class Line:
    item: int
    label: str
    answer: str
    by: str
    at: str
    comment: str


def lines(c: Checklist, lang: Lang) -> list[Line]:
    out = []
    for item in c.template.items:
        s = c.state(item.id)
        out.append(Line(
            item.id, item.label(lang),
            Html(t(lang, f"checklist.answer.{s.answer}") + (t(lang, "summary.late")
                                                           if s.late else ""))
            if s.answer else t(lang, "summary.none"),
            s.by or "", when(lang, s.at, c.zone) if s.at else "", s.comment or ""))
    return out


def _facts(c: Checklist, lang: Lang, ref: str, patient: str) -> list[Html]:
    facts = [t(lang, "summary.patient", ref=ref, patient=patient),
             t(lang, "summary.template", title=c.template.title(lang), version=c.template.version),
             t(lang, "summary.planned", day=when(lang, c.discharge))]
    facts.append(t(lang, "summary.risk", level=t(lang, f"risk.{c.risk}") if c.risk
                   else t(lang, "risk.unknown")))
    if c.validated_at and c.discharged_on:
        facts.append(t(lang, "summary.validated", day=when(lang, c.discharged_on),
                       at=when(lang, c.validated_at, c.zone)))
    else:
        facts.append(t(lang, "summary.not_validated"))
    facts.append(t(lang, "summary.compliant" if c.compliant else "summary.not_compliant"))
    if c.override:
        facts.append(t(lang, "summary.override", by=c.override.by,
                       at=when(lang, c.override.at, c.zone),
                       items=", ".join(map(str, c.override.items)), reason=c.override.reason))
    return facts


def summary_html(c: Checklist, lang: Lang, ref: str, patient: str) -> Html:
    rows = [t(lang, "summary.row", item=x.item, label=x.label, answer=x.answer, by=x.by,
              at=x.at, comment=x.comment) for x in lines(c, lang)]
    return join([t(lang, "summary.title"), t(lang, "summary.facts", facts=join(
        _facts(c, lang, ref, patient))), t(lang, "summary.table", rows=join(rows))])


def _cell(text: str) -> str:
    """A table cell: what a user wrote cannot break the table or smuggle HTML into a viewer."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace("\n", " "))


@dataclass(frozen=True)
class Entry:
    """One line of the audit trail (records.audit_trail)."""

    at: datetime
    actor: str
    action: str
    item: int | None
    detail: dict[str, Any]


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def journal_line(entry: Entry, lang: Lang, zone: ZoneInfo) -> str:
    values = {k: _value(v) for k, v in entry.detail.items()}
    if entry.action == "answer":
        values["answer"] = to_plain(t(lang, f"checklist.answer.{entry.detail['answer']}"))
        quoted = "« {} »" if lang == "fr" else "\u201c{}\u201d"
        values["comment"] = " " + quoted.format(values["comment"]) if values.get("comment") \
            else ""
        values["late"] = CATALOGUE["audit.late"][lang] if entry.detail.get("late") else ""
        values["by_mail"] = CATALOGUE["audit.by_mail"][lang] if entry.detail.get("by_mail") \
            else ""
    text = CATALOGUE[f"audit.{entry.action}"][lang].format_map(
        defaultdict(str, {**values, "item": _value(entry.item)}))
    return f"{when(lang, entry.at, zone)} — {entry.actor} — {text}"


def summary_markdown(c: Checklist, lang: Lang, ref: str, patient: str,
                     journal: Sequence[Entry] = ()) -> str:
    head = t(lang, "summary.md_head")
    out = [f"# {to_plain(t(lang, 'summary.title'))}", ""]
    out += [f"- {to_plain(f).removeprefix('• ')}" for f in _facts(c, lang, ref, patient)]
    out += ["", head, "|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(_cell(v) for v in (str(x.item), x.label, x.answer, x.by, x.at,
                                                  x.comment)) + " |" for x in lines(c, lang)]
    if journal:
        out += ["", f"## {CATALOGUE['summary.journal'][lang]}", ""]
        out += [f"- {_cell(journal_line(e, lang, c.zone))}" for e in journal]
    return "\n".join(out) + "\n"


def file_name(ref: str, lang: Lang) -> str:
    return f"{'synthese-sortie' if lang == 'fr' else 'discharge-summary'}-{ref}.md"
